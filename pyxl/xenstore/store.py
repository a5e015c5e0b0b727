"""xenstored's request semantics over the xs_ tables.

One ``XenStore`` object speaks for one connection: ``caller`` is the domid
making the requests (0 = dom0, privileged).  Each method is one wire
request (READ, WRITE, ...) and either succeeds or raises XenStoreError
with the errno name xenstored would reply, leaving the store unchanged.
All SQL runs inside the caller's database transaction; mutating requests
use a savepoint so a refused request undoes its partial work.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, TypeVar

from . import conns, memory, paths, quota
from .errors import XenStoreError
from .nodes import GlobalNodes, MemTxNodes, Node, TxNodes
from .perms import (DOMID_ANY, PERM_OWNER, PERM_READ, PERM_WRITE, PRIV_DOMID, Perm,
                    encode_perms, parse_perms, perm_for)

if TYPE_CHECKING:  # the change log loads when a request writes or follows it
    from .watches import WatchEvent

T = TypeVar("T")

# libxl retries a transaction on EAGAIN without bound; we stop somewhere.
TRANSACTION_ATTEMPTS = 100
TXID_MAX = 0xFFFFFFFF          # the wire's tx_id is a u32
DEPTH_MAX = 0x7FFFFFFF         # xenstored reads a watch depth with atoi


# A plain class, not a dataclass: every command defines it at start-up,
# where a dataclass costs ~30 times more to define.
class WalkEntry:
    """One node below the listed path, in xenstore-ls order.

    ``value``/``perms`` are None and ``error`` is the errno name when the
    caller may not read the node (xenstore-ls then prints ``name:``); such
    a node's children are not listed.
    """

    def __init__(self, path: str, name: str, depth: int, value: bytes | None,
                 perms: tuple[Perm, ...] | None, error: str | None = None):
        self.path = path
        self.name = name
        self.depth = depth
        self.value = value
        self.perms = perms
        self.error = error


def _enc(perms) -> str | None:
    return encode_perms(perms) if perms is not None else None


def _post_order(root: Node, descendants: list[Node]) -> list[Node]:
    """Children before parents, siblings in creation order (walk_node_tree)."""
    kids = defaultdict(list)
    for n in descendants:
        kids[n.parent].append(n)
    for lst in kids.values():
        lst.sort(key=lambda n: n.seq)
    out, stack = [], [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            out.append(node)
            continue
        stack.append((node, True))
        for c in reversed(kids.get(node.path, ())):
            stack.append((c, False))
    return out


# Transactions of Domain-0 that live within one XenStore.transaction call,
# by (connection, txid): every XenStore object on the connection finds them.
_MEM_TX: dict[tuple[int, int], MemTxNodes] = {}


class XenStore:
    """The store as seen by connection ``conn_id`` of domain ``caller``.

    ``conn_alive(pid, start)`` tells whether a process that bound a
    connection still runs (the host supplies the OS's answer; by default
    no connection is ever taken for dead).
    """

    def __init__(self, conn, caller: int = 0,
                 domain_exists: Callable[[int], bool] = lambda d: True,
                 now_ns: int = 0, conn_id: str | None = None,
                 conn_alive: conns.Alive = conns.never_dead):
        self.conn = conn
        self.caller = caller
        self.privileged = caller == PRIV_DOMID
        self.domain_exists = domain_exists
        self.now_ns = now_ns
        self.conn_id = conn_id if conn_id is not None else f"dom{caller}"
        self.conn_alive = conn_alive
        self._glob = GlobalNodes(conn)

    # ------------------------------------------------------------------ boot
    @staticmethod
    def boot(conn, now_ns: int = 0) -> None:
        """Create what xenstored creates at start-up (setup_structure)."""
        root = (Perm(PRIV_DOMID, "n"),)
        glob = GlobalNodes(conn)
        conn.execute("INSERT OR REPLACE INTO xs_meta (key, value) VALUES ('generation', 0)")
        conn.execute("INSERT OR REPLACE INTO xs_meta (key, value) VALUES ('next_txid', 1)")
        gen = 0
        for path, parent, perms, childlen in (
                ("/", None, root, len("tool") + 1),
                ("/tool", "/", root, len("xenstored") + 1),
                ("/tool/xenstored", "/tool", root, 0),
                ("@releaseDomain", None, (Perm(PRIV_DOMID, "n"), Perm(DOMID_ANY, "r")), 0),
                ("@introduceDomain", None, root, 0)):
            gen += 1
            glob.put(Node(path, parent, gen, b"", perms, gen, childlen), None)
        conn.execute("UPDATE xs_meta SET value = ? WHERE key = 'generation'", (gen,))
        conn.execute("INSERT OR REPLACE INTO xs_domain (domid, introduced) VALUES (?, 1)",
                     (PRIV_DOMID,))

    # --------------------------------------------------------------- helpers
    def _quota(self, name: str) -> int | None:
        """The caller's quota, or None when quotas do not bind it (dom0)."""
        if self.privileged:
            return None
        return quota.lookup(self.conn, self.caller, name)

    def _over(self, name: str, value: int) -> bool:
        q = self._quota(name)
        return q is not None and quota.exceeds(value, q)

    def _over_reaping(self, name: str, measure: Callable[[], int]) -> bool:
        """The quota check, made again after closing the caller's dead
        connections if it fails: xenstored would have dropped them already."""
        if not self._over(name, measure()):
            return False
        return not self.reap(self.caller) or self._over(name, measure())

    def _binds(self, name: str) -> bool:
        """Does quota ``name`` bind the caller (unprivileged, quota not 0)?"""
        return bool(self._quota(name))

    def _charge_node(self, view, node: Node, old: Node | None) -> None:
        """domain_memory_add for a node write: refused once the memory it is
        charged to reaches the caller's quota (EIO: how the node writer
        reports the accounting's ENOMEM)."""
        if not self._binds("memory"):
            return
        if view.txid:
            domid, key = self.caller, memory.tx_key(view.generation, node.path)
            was = memory.charge(old, key) if old is not None else 0
        else:
            domid, key = node.owner, node.path
            was = memory.charge(old, key) if old is not None and old.owner == domid else 0
        add = memory.charge(node, key) - was
        if self._over_reaping("memory", lambda: memory.used(self.conn, domid) + add):
            raise XenStoreError("EIO")

    def _log(self, path: str, match: str, *args, **kw) -> int:
        """Append to the change log; when it is pruned, reap dead connections."""
        from . import watches

        seq = watches.append_change(self.conn, path, match, *args, now_ns=self.now_ns, **kw)
        if watches.pruned(seq):
            self.reap()
        return seq

    def _canon(self, path: str, allow_special: bool) -> str:
        return paths.canonicalize(path, self.caller, allow_special, self._quota("path-max"))

    def _payload(self, *parts) -> None:
        """libxenstore refuses requests above the wire payload limit (E2BIG)."""
        size = 0
        for p in parts:
            size += (len(p) if isinstance(p, (bytes, bytearray))
                     else len(p.encode("utf-8", "surrogateescape")) + 1)
        if size > paths.XENSTORE_PAYLOAD_MAX:
            raise XenStoreError("E2BIG")

    def _require_priv(self) -> None:
        if not self.privileged:
            raise XenStoreError("EACCES")

    def _tx_row(self, tx: int):
        if not 0 < tx <= TXID_MAX:
            raise XenStoreError("ENOENT")
        row = self.conn.execute("SELECT txid FROM xs_tx WHERE txid = ? AND domid = ?",
                                (tx, self.caller)).fetchone()
        if row is None:
            raise XenStoreError("ENOENT")
        return row

    def _view(self, tx: int):
        if not tx:
            return self._glob
        mem = _MEM_TX.get((id(self.conn), tx))
        if mem is not None and mem.domid == self.caller:
            return mem
        self._tx_row(tx)
        return TxNodes(self.conn, tx, self.caller, self.privileged)

    @contextmanager
    def _atomic(self, view=None):
        """One request, all or nothing: a savepoint, or the journal of a
        transaction kept in memory (whose requests write only to it)."""
        if isinstance(view, MemTxNodes):
            view.begin()
            try:
                yield
            except BaseException:
                view.end(False)
                raise
            view.end(True)
            return
        self.conn.execute("SAVEPOINT xs_op")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK TO xs_op")
            self.conn.execute("RELEASE xs_op")
            raise
        self.conn.execute("RELEASE xs_op")

    def _next_gen(self, n: int = 1) -> int:
        """Advance the global generation count by n; return the first new value."""
        last = self.conn.execute(
            "UPDATE xs_meta SET value = value + ? WHERE key = 'generation' RETURNING value",
            (n,)).fetchone()[0]
        return last - n + 1

    def _lookup(self, view, name: str, need: int) -> Node | None:
        """get_node + get_node_chk_perm: the node, None for ENOENT, or EACCES.

        A node that exists but is not accessible is EACCES; a missing one is
        ENOENT only if the nearest existing ancestor grants the access.
        """
        node = view.get(name)
        if node is not None:
            if perm_for(self.caller, node.perms) & need == need:
                return node
            raise XenStoreError("EACCES")
        for anc in paths.ancestors(name):
            a = view.get(anc)
            if a is not None:
                if perm_for(self.caller, a.perms) & need:
                    return None
                break
        raise XenStoreError("EACCES")

    def _checked(self, view, name: str, need: int) -> Node:
        node = self._lookup(view, name, need)
        if node is None:
            raise XenStoreError("ENOENT")
        return node

    def _write_node(self, view, node: Node, old: Node | None, gen: int | None = None,
                    check_size: bool = True) -> Node:
        if check_size:
            if self._over("node-size", node.size()):
                raise XenStoreError("ENOSPC")
            self._charge_node(view, node, old)
        if gen is None and not view.txid:   # in a transaction, the commit numbers it
            gen = self._next_gen()
        node.generation = gen
        view.put(node, old)
        return node

    def _fire(self, view, name: str, match: str, node: Node | None,
              parent_perms=None, old_perms=None) -> None:
        """fire_watches: log the change, or queue it while in a transaction."""
        if view.txid:
            view.queue_fire(name, match)
            return
        if parent_perms is None and node is not None:
            parent = self._glob.get(node.parent or "/")
            parent_perms = parent.perms if parent else None
        self._log(name, match, _enc(node.perms if node else None), _enc(parent_perms),
                  _enc(old_perms))

    def _create(self, view, name: str, value: bytes) -> Node:
        """create_node: make ``name`` and any missing ancestors, inheriting perms."""
        missing = [name]
        parent = view.get(paths.get_parent(name))
        while parent is None:
            missing.append(paths.get_parent(missing[-1]))
            parent = view.get(paths.get_parent(missing[-1]))
        gen = self._next_gen(len(missing) + 1)
        old_parent = parent
        parent = Node(parent.path, parent.parent, parent.seq, parent.value, parent.perms,
                      parent.generation, parent.childlen)   # a copy
        chain = []   # new nodes, top-down
        above = parent
        for i, path in enumerate(reversed(missing)):
            perms = list(above.perms)
            if not self.privileged:
                perms[0] = Perm(self.caller, perms[0].letter, perms[0].ignore)
            node = Node(path, above.path, gen + i, b"", tuple(perms), None)
            above.childlen += len(paths.basename(path)) + 1
            chain.append(node)
            above = node
        chain[-1].value = value
        # Written bottom up, each new node subject to the nodes quota.
        if not self.privileged:
            owned = view.owned_count(self.caller)
        for k, node in enumerate(reversed(chain)):
            if not self.privileged and self._over("nodes", owned + k + 1):
                raise XenStoreError("ENOSPC")
            self._write_node(view, node, None, gen=node.seq)
        self._write_node(view, parent, old_parent, gen=gen + len(missing))
        return chain[-1]

    def _rm_node(self, view, node: Node) -> None:
        """rm_node: delete a subtree, firing watches, and unlink it from its parent."""
        parent = view.get(node.parent or paths.get_parent(node.path))
        descendants = view.subtree(node.path)
        by_path = {n.path: n for n in descendants}
        by_path[node.path] = node
        watched = None
        if not view.txid and descendants:
            lo, hi = paths.subtree_bounds(node.path)
            watched = {r[0] for r in self.conn.execute(
                "SELECT DISTINCT path FROM xs_watch WHERE path > ? AND path < ?", (lo, hi))}
        order = _post_order(node, descendants)
        if not view.txid:   # one statement for the subtree's rows
            view.delete_many(order)
        for n in order:
            if view.txid:
                view.delete(n)
            if n is node:
                self._fire(view, n.path, "subtree", n, parent_perms=parent.perms)
            elif watched is None or n.path in watched:
                self._fire(view, n.path, "exact", n, parent_perms=by_path[n.parent].perms)
        old_parent = parent
        parent = Node(parent.path, parent.parent, parent.seq, parent.value, parent.perms,
                      parent.generation,
                      parent.childlen - len(paths.basename(node.path)) - 1)
        self._write_node(view, parent, old_parent, check_size=False)

    # ------------------------------------------------------------- requests
    def read(self, path: str, tx: int = 0) -> bytes:
        self._payload(path)
        view = self._view(tx)
        return self._checked(view, self._canon(path, False), PERM_READ).value

    def exists(self, path: str, tx: int = 0) -> bool:
        """What xenstore-exists reports: can the caller read the node?"""
        try:
            self.read(path, tx)
        except XenStoreError:
            return False
        return True

    def directory(self, path: str, tx: int = 0) -> list[str]:
        self._payload(path)
        view = self._view(tx)
        name = self._canon(path, False)
        self._checked(view, name, PERM_READ)
        return view.children(name)

    def get_perms(self, path: str, tx: int = 0) -> list[Perm]:
        self._payload(path)
        view = self._view(tx)
        return list(self._checked(view, self._canon(path, True), PERM_READ).perms)

    def write(self, path: str, value: bytes, tx: int = 0) -> None:
        value = value.encode() if isinstance(value, str) else bytes(value)
        self._payload(path, value)
        view = self._view(tx)
        with self._atomic(view):
            name = self._canon(path, False)
            node = self._lookup(view, name, PERM_WRITE)
            if node is None:
                node = self._create(view, name, value)
            else:
                new = Node(node.path, node.parent, node.seq, value, node.perms, node.generation,
                           node.childlen)
                node = self._write_node(view, new, node)
            self._fire(view, name, "subtree", node)

    def mkdir(self, path: str, tx: int = 0) -> None:
        self._payload(path)
        view = self._view(tx)
        with self._atomic(view):
            name = self._canon(path, False)
            if self._lookup(view, name, PERM_WRITE) is None:
                node = self._create(view, name, b"")
                self._fire(view, name, "subtree", node)

    def rm(self, path: str, tx: int = 0) -> None:
        self._payload(path)
        view = self._view(tx)
        with self._atomic(view):
            name = self._canon(path, False)
            node = self._lookup(view, name, PERM_WRITE)
            if node is None:
                # Removing a missing node is fine if its parent exists.
                if view.get(paths.get_parent(name)) is None:
                    raise XenStoreError("ENOENT")
                return
            if name == "/":
                raise XenStoreError("EINVAL")
            self._rm_node(view, node)

    def set_perms(self, path: str, perms, tx: int = 0) -> None:
        perms = parse_perms(perms)
        self._payload(path, *[str(p) for p in perms])
        if not perms:
            raise XenStoreError("EINVAL")
        if self._over("node-permissions", len(perms)):
            raise XenStoreError("ENOSPC")
        # Entries naming domains that do not exist are kept, but ignored.
        perms = [Perm(p.domid, p.letter,
                      p.domid not in (DOMID_ANY, PRIV_DOMID) and not self.domain_exists(p.domid))
                 for p in perms]
        if perms[0].ignore:
            raise XenStoreError("ENOENT")
        view = self._view(tx)
        with self._atomic(view):
            name = self._canon(path, True)
            node = self._checked(view, name, PERM_WRITE | PERM_OWNER)
            if not self.privileged and perms[0].domid != node.owner:
                raise XenStoreError("EPERM")
            new = Node(node.path, node.parent, node.seq, node.value, tuple(perms),
                       node.generation, node.childlen)
            new = self._write_node(view, new, node)
            self._fire(view, name, "subtree", new, old_perms=node.perms)

    def walk(self, path: str, tx: int = 0) -> list[WalkEntry]:
        """The nodes below ``path``, depth first in creation order (xenstore-ls).

        One range query instead of a DIRECTORY/READ/GET_PERMS per node.
        """
        self._payload(path)
        view = self._view(tx)
        name = self._canon(path, False)
        self._checked(view, name, PERM_READ)
        kids = defaultdict(list)
        for n in view.subtree(name):
            kids[n.parent].append(n)
        out = []
        stack = [(c, 0) for c in sorted(kids.get(name, ()), key=lambda n: n.seq, reverse=True)]
        while stack:
            n, depth = stack.pop()
            base = paths.basename(n.path)
            if not perm_for(self.caller, n.perms) & PERM_READ:
                out.append(WalkEntry(n.path, base, depth, None, None, "EACCES"))
                continue
            out.append(WalkEntry(n.path, base, depth, n.value, n.perms))
            for c in sorted(kids.get(n.path, ()), key=lambda n: n.seq, reverse=True):
                stack.append((c, depth + 1))
        return out

    # --------------------------------------------------------- transactions
    def transaction_start(self, tx: int = 0) -> int:
        if tx:
            self._tx_row(tx)
            raise XenStoreError("EBUSY")
        if not self.privileged and self._over_reaping("transactions", self._open_tx_after):
            raise XenStoreError("ENOSPC")
        txid = self.conn.execute(
            "UPDATE xs_meta SET value = value + 1 WHERE key = 'next_txid' RETURNING value"
        ).fetchone()[0] - 1
        self.conn.execute(
            "INSERT INTO xs_tx (txid, domid, conn_id, generation, started_ns)"
            " VALUES (?, ?, ?, ?, ?)",
            (txid, self.caller, self.conn_id, self._next_gen(), self.now_ns))
        return txid

    def _open_tx_after(self) -> int:
        """The caller's open transactions once one more is started."""
        return 1 + self.conn.execute("SELECT COUNT(*) FROM xs_tx WHERE domid = ?",
                                     (self.caller,)).fetchone()[0]

    def transaction_end(self, tx: int, commit: bool) -> None:
        """Commit or abort; the id is gone afterwards even if commit fails."""
        if not tx:
            raise XenStoreError("ENOENT")
        view = self._view(tx)
        try:
            if commit:
                self._commit(view)
        finally:
            self.conn.execute("DELETE FROM xs_tx_node WHERE txid = ?", (tx,))
            self.conn.execute("DELETE FROM xs_tx WHERE txid = ?", (tx,))

    def _commit(self, view) -> None:
        tx = view.txid
        if not self.privileged:
            created = self.conn.execute(
                "SELECT 1 FROM xs_tx_node WHERE txid = ? AND modified = 1 AND present = 1"
                " AND base_gen IS NULL LIMIT 1", (tx,)).fetchone()
            if created and self._over("nodes", view.owned_count(self.caller)):
                raise XenStoreError("ENOSPC")
        if view.conflict():
            raise XenStoreError("EAGAIN")
        rows = view.changes()
        with self._atomic():
            gen = self._next_gen(len(rows)) if rows else 0
            before = self._glob.get_many([r[0] for r in rows])
            after: dict[str, Node | None] = {}   # the tree as committed, where it changed
            for k, (path, parent, seq, present, value, perms, childlen, _, _) in enumerate(rows):
                old = before.get(path)
                if present:
                    node = Node(path, parent, seq, value, perms, gen + k, childlen)
                    self._glob.put(node, old)
                    after[path] = node
                else:
                    if old is not None:
                        self._glob.delete(old)
                    after[path] = None
            for path, _, _, _, _, _, _, fire, old_perms in rows:
                if fire is None:
                    continue
                if fire == "exact" and not self.conn.execute(
                        "SELECT 1 FROM xs_watch WHERE path = ? LIMIT 1", (path,)).fetchone():
                    continue
                node = after[path]
                up = paths.get_parent(path)
                parent = after[up] if up in after else self._glob.get(up)
                self._log(path, fire, _enc(node.perms if node else None),
                          _enc(parent.perms if parent else None), old_perms)

    def transaction(self, fn: Callable[["Transaction"], T],
                    attempts: int = TRANSACTION_ATTEMPTS) -> T:
        """Run ``fn`` in a transaction, restarting it on EAGAIN as libxl does.

        Any exception from ``fn`` aborts the transaction and propagates.
        """
        for _ in range(attempts):
            txid = self.transaction_start()
            key = (id(self.conn), txid)
            if self.privileged:   # it cannot outlive this call: keep it in memory
                _MEM_TX[key] = MemTxNodes(self.conn, txid, self.caller, self._tx_generation(txid))
            try:
                try:
                    result = fn(Transaction(self, txid))
                except BaseException:
                    self.transaction_end(txid, False)
                    raise
                try:
                    self.transaction_end(txid, True)
                except XenStoreError as e:
                    if e.errno == "EAGAIN":
                        continue
                    raise
            finally:
                _MEM_TX.pop(key, None)
            return result
        raise XenStoreError("EAGAIN")

    def _tx_generation(self, txid: int) -> int:
        return self.conn.execute("SELECT generation FROM xs_tx WHERE txid = ?",
                                 (txid,)).fetchone()[0]

    # -------------------------------------------------------------- watches
    def watch(self, path: str, token: str, depth: int | None = None) -> None:
        """Register a watch; it fires once right away (xenstored does too)."""
        if depth is not None and not 0 <= depth <= DEPTH_MAX:
            raise XenStoreError("EINVAL")
        self._payload(path, token, *([str(depth)] if depth is not None else []))
        name = self._canon(path, True)
        if self.conn.execute(
                "SELECT 1 FROM xs_watch WHERE conn_id = ? AND path = ? AND token = ?",
                (self.conn_id, name, token)).fetchone():
            raise XenStoreError("EEXIST")
        if not self.privileged:
            if self._over_reaping("watches", self._watches_after):
                raise XenStoreError("ENOSPC")
            size = len(name.encode()) + len(token.encode())
            if self._binds("memory") and self._over_reaping(
                    "memory", lambda: memory.used(self.conn, self.caller) + size):
                raise XenStoreError("ENOMEM")
        with self._atomic():
            seq = self._log(name, "initial", conn_id=self.conn_id, token=token)
            self.conn.execute(
                "INSERT INTO xs_watch (conn_id, path, token, domid, depth, relative, reg_seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.conn_id, name, token, self.caller, depth,
                 int(paths.is_relative(path)), seq))

    def _watches_after(self) -> int:
        """The caller's watches once one more is added."""
        return 1 + self.conn.execute("SELECT COUNT(*) FROM xs_watch WHERE domid = ?",
                                     (self.caller,)).fetchone()[0]

    def unwatch(self, path: str, token: str) -> None:
        self._payload(path, token)
        name = self._canon(path, True)
        cur = self.conn.execute(
            "DELETE FROM xs_watch WHERE conn_id = ? AND path = ? AND token = ?",
            (self.conn_id, name, token))
        if cur.rowcount == 0:
            raise XenStoreError("ENOENT")

    # ---------------------------------------------------------- connections
    def bind_process(self, pid: int, start: int | None) -> None:
        """Tie this connection to a process (pid and its start time), as a
        socket ties a client to xenstored: once the process is gone, its
        watches and transactions are dropped at the next reap."""
        conns.bind(self.conn, self.conn_id, self.caller, pid, start)

    def disconnect(self) -> None:
        """The client hangs up: its watches, transactions and binding go."""
        conns.close(self.conn, self.conn_id)

    def reap(self, domid: int | None = None) -> int:
        """Close the connections (of ``domid``, or all) whose process died."""
        return conns.reap(self.conn, self.conn_alive, domid)

    def pending_events(self, conn_id: str | None = None, since_seq: int = 0) -> list[WatchEvent]:
        """Events for the watches of ``conn_id`` (default: ours) after ``since_seq``."""
        from . import watches

        return watches.pending_events(self.conn, conn_id or self.conn_id, since_seq)

    def events_by_conn(self, since_seq: int, upto_seq: int | None = None
                       ) -> dict[str, list[WatchEvent]]:
        """Every connection's events from the changes after ``since_seq`` (up
        to ``upto_seq``), matched once per change (see watches.py)."""
        from . import watches

        return watches.events_by_conn(self.conn, since_seq, upto_seq)

    def changes_since(self, seq: int) -> list[WatchEvent]:
        """Raw changes (absolute paths, token None) after ``seq``."""
        from . import watches

        return watches.changes_since(self.conn, seq)

    def last_seq(self) -> int:
        """Sequence number of the newest change; start following from here."""
        from . import watches

        return watches.last_seq(self.conn)

    def oldest_seq(self) -> int:
        """Oldest change still logged; a follower behind it has lost events."""
        from . import watches

        return watches.oldest_seq(self.conn)

    # -------------------------------------------------------------- domains
    def _domain_row(self, domid: int):
        return self.conn.execute("SELECT introduced, shutdown FROM xs_domain WHERE domid = ?",
                                 (domid,)).fetchone()

    def _fire_special(self, name: str, domid: int, nodom: bool, dom: bool) -> None:
        node = self._glob.get(name)
        if node is None:
            return
        root = self._glob.get("/")
        args = (_enc(node.perms), _enc(root.perms if root else None))
        if nodom:
            self._log(name, "nodepth", *args)
        if dom:
            self._log(f"{name}/{domid}", "depth", *args)

    def introduce_domain(self, domid: int) -> None:
        """INTRODUCE: xenstored starts serving the domain; fires @introduceDomain."""
        self._require_priv()
        row = self._domain_row(domid)
        if row and row[0]:
            return
        self.conn.execute(
            "INSERT OR REPLACE INTO xs_domain (domid, introduced, shutdown) VALUES (?, 1, 0)",
            (domid,))
        if domid != PRIV_DOMID:
            self._fire_special("@introduceDomain", domid, True, True)

    def is_domain_introduced(self, domid: int) -> bool:
        self._require_priv()
        row = self._domain_row(domid)
        return bool(row and row[0])

    def _connected(self, domid: int) -> None:
        self._require_priv()
        if domid == PRIV_DOMID:
            raise XenStoreError("EINVAL")
        row = self._domain_row(domid)
        if not (row and row[0]):
            raise XenStoreError("ENOENT")

    def domain_shutdown(self, domid: int) -> None:
        """xenstored noticed the domain shut down: @releaseDomain, once until RESUME."""
        row = self._domain_row(domid)
        if not (row and row[0]) or row[1]:
            return
        self.conn.execute("UPDATE xs_domain SET shutdown = 1 WHERE domid = ?", (domid,))
        self._fire_special("@releaseDomain", domid, False, True)
        self._fire_special("@releaseDomain", 0, True, False)

    def resume(self, domid: int) -> None:
        """RESUME: re-arm the shutdown notification."""
        self._connected(domid)
        self.conn.execute("UPDATE xs_domain SET shutdown = 0 WHERE domid = ?", (domid,))

    def release_domain(self, domid: int) -> None:
        """RELEASE: forget the domain, delete the nodes it owns, fire @releaseDomain."""
        self._connected(domid)
        with self._atomic():
            self.conn.execute("DELETE FROM xs_watch WHERE domid = ?", (domid,))
            self.conn.execute("DELETE FROM xs_conn WHERE domid = ?", (domid,))
            for (txid,) in self.conn.execute("SELECT txid FROM xs_tx WHERE domid = ?",
                                             (domid,)).fetchall():
                self.conn.execute("DELETE FROM xs_tx_node WHERE txid = ?", (txid,))
                self.conn.execute("DELETE FROM xs_tx WHERE txid = ?", (txid,))
            self._domain_tree_remove(domid)
            self.conn.execute("DELETE FROM xs_domain WHERE domid = ?", (domid,))
            self.conn.execute("DELETE FROM xs_quota WHERE domid = ?", (domid,))
            self._fire_special("@releaseDomain", domid, True, True)

    def _domain_tree_remove(self, domid: int) -> None:
        """Delete nodes the domain owns; drop perm entries that name it."""
        owned = [r[0] for r in self.conn.execute(
            "SELECT path FROM xs_node WHERE owner = ?", (domid,))]
        owned.sort(key=lambda p: (p.count("/"), p))
        for path in owned:
            if path.startswith("@"):
                continue   # special nodes are never deleted
            node = self._glob.get(path)
            if node is not None:   # else already gone with an owned ancestor
                self._rm_node(self._glob, node)
        refs = [r[0] for r in self.conn.execute(
            "SELECT path FROM xs_perm_ref WHERE domid = ?", (domid,))]
        for path in refs:
            node = self._glob.get(path)
            if node is None:
                continue
            kept = (node.perms[0],) + tuple(p for p in node.perms[1:] if p.domid != domid)
            self._glob.put(Node(node.path, node.parent, node.seq, node.value, kept,
                                node.generation, node.childlen), node)

    # --------------------------------------------------------------- quotas
    def quota_names(self) -> list[str]:
        """GET_QUOTA without arguments."""
        self._require_priv()
        return quota.names()

    def get_quota(self, name: str, domid: int | None = None) -> int:
        """GET_QUOTA: the global value, or one domain's."""
        self._require_priv()
        quota.check_name(name)
        if domid is None:
            return quota.lookup(self.conn, quota.GLOBAL, name)
        if not self.domain_exists(domid):
            raise XenStoreError("ENOENT")
        return quota.lookup(self.conn, domid, name)

    def set_quota(self, name: str, value: int, domid: int | None = None) -> None:
        """SET_QUOTA: globally, or for one domain only."""
        self._require_priv()
        quota.check_name(name)
        if not 0 <= value < quota.Q_VAL_DISABLED:
            raise XenStoreError("EINVAL")
        if domid is not None and not self.domain_exists(domid):
            raise XenStoreError("ENOENT")
        quota.store(self.conn, quota.GLOBAL if domid is None else domid, name, value)


class Transaction:
    """A transaction id bound to its store, for ``XenStore.transaction``."""

    def __init__(self, xs: XenStore, txid: int):
        self.xs = xs
        self.id = txid

    def read(self, path: str) -> bytes:
        return self.xs.read(path, self.id)

    def exists(self, path: str) -> bool:
        return self.xs.exists(path, self.id)

    def write(self, path: str, value: bytes) -> None:
        self.xs.write(path, value, self.id)

    def mkdir(self, path: str) -> None:
        self.xs.mkdir(path, self.id)

    def rm(self, path: str) -> None:
        self.xs.rm(path, self.id)

    def directory(self, path: str) -> list[str]:
        return self.xs.directory(path, self.id)

    def get_perms(self, path: str) -> list[Perm]:
        return self.xs.get_perms(path, self.id)

    def set_perms(self, path: str, perms) -> None:
        self.xs.set_perms(path, perms, self.id)
