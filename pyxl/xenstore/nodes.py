"""Reading and writing nodes, outside or inside a transaction.

``GlobalNodes`` is the committed tree.  ``TxNodes`` is one transaction's
view of it: the first time the transaction touches a node it records the
node's generation (for the conflict check at commit) and from then on
works on a private copy kept in xs_tx_node, as xenstored keeps
per-transaction copies of the nodes a transaction accessed.
"""

from . import paths, quota
from .errors import XenStoreError
from .perms import Perm, decode_perms, encode_perms

NODE_HDR_SIZE = 16     # struct node_hdr
PERM_ENTRY_SIZE = 8    # struct xs_permissions


# A plain class, not a dataclass: every command defines it at start-up,
# where a dataclass costs ~30 times more to define.
class Node:
    """One XenStore node as stored: its value, permissions and place in the tree."""

    def __init__(self, path: str,
                 parent: str | None,       # None for '/' and the special @ nodes
                 seq: int,                 # creation order among siblings
                 value: bytes,
                 perms: tuple[Perm, ...],
                 generation: int | None,
                 childlen: int = 0):       # bytes of the NUL-separated child-name list
        self.path = path
        self.parent = parent
        self.seq = seq
        self.value = value
        self.perms = perms
        self.generation = generation
        self.childlen = childlen

    @property
    def owner(self) -> int:
        return self.perms[0].domid

    def size(self) -> int:
        """What the node-size quota measures (calc_node_acc_size)."""
        return (NODE_HDR_SIZE + PERM_ENTRY_SIZE * len(self.perms)
                + len(self.value) + self.childlen)


def _child_names(parent: str, rows) -> list[str]:
    cut = 1 if parent == "/" else len(parent) + 1
    return [p[cut:] for p in rows]


def _node(row) -> Node:
    path, parent, seq, value, perms, generation, childlen = row
    return Node(path, parent, seq, bytes(value), decode_perms(perms), generation, childlen)


_NODE_COLS = "path, parent, seq, value, perms, generation, childlen"


class GlobalNodes:
    """The committed tree."""

    txid = 0

    def __init__(self, conn):
        self.conn = conn

    def get(self, path: str) -> Node | None:
        row = self.conn.execute(
            f"SELECT {_NODE_COLS} FROM xs_node WHERE path = ?", (path,)).fetchone()
        return _node(row) if row else None

    def get_many(self, names: list[str]) -> dict[str, Node]:
        """The committed nodes among ``names``, by path (absent ones left out)."""
        out = {}
        for i in range(0, len(names), 500):
            part = names[i:i + 500]
            for row in self.conn.execute(
                    f"SELECT {_NODE_COLS} FROM xs_node"
                    f" WHERE path IN ({','.join('?' * len(part))})", part):
                out[row[0]] = _node(row)
        return out

    def children(self, path: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT path FROM xs_node WHERE parent = ? ORDER BY seq", (path,))
        return _child_names(path, [r[0] for r in rows])

    def subtree(self, path: str) -> list[Node]:
        """Strict descendants of ``path``, in no particular order."""
        lo, hi = paths.subtree_bounds(path)
        rows = self.conn.execute(
            f"SELECT {_NODE_COLS} FROM xs_node WHERE path > ? AND path < ?", (lo, hi))
        return [_node(r) for r in rows]

    def put(self, node: Node, old: Node | None) -> None:
        enc = encode_perms(node.perms)
        self.conn.execute(
            "INSERT OR REPLACE INTO xs_node (path, parent, seq, value, perms, owner,"
            " generation, childlen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (node.path, node.parent, node.seq, node.value, enc, node.owner,
             node.generation, node.childlen))
        old_refs = {p.domid for p in old.perms[1:]} if old else set()
        new_refs = {p.domid for p in node.perms[1:]}
        if old_refs - new_refs:
            self.conn.executemany("DELETE FROM xs_perm_ref WHERE path = ? AND domid = ?",
                                  [(node.path, d) for d in old_refs - new_refs])
        if new_refs - old_refs:
            self.conn.executemany("INSERT OR IGNORE INTO xs_perm_ref (path, domid)"
                                  " VALUES (?, ?)",
                                  [(node.path, d) for d in new_refs - old_refs])

    def delete(self, node: Node) -> None:
        self.delete_many([node])

    def delete_many(self, nodes: list[Node]) -> None:
        self.conn.executemany("DELETE FROM xs_node WHERE path = ?", [(n.path,) for n in nodes])
        refs = [(n.path,) for n in nodes if len(n.perms) > 1]
        if refs:
            self.conn.executemany("DELETE FROM xs_perm_ref WHERE path = ?", refs)

    def owned_count(self, domid: int) -> int:
        return self.conn.execute(
            "SELECT COUNT(*) FROM xs_node WHERE owner = ?", (domid,)).fetchone()[0]


class TxNodes:
    """One transaction's view; every first access is recorded."""

    def __init__(self, conn, txid: int, domid: int, privileged: bool):
        self.conn = conn
        self.txid = txid
        self.domid = domid
        self.glob = GlobalNodes(conn)
        self.nodes, self.generation = conn.execute(
            "SELECT nodes, generation FROM xs_tx WHERE txid = ?", (txid,)).fetchone()
        self.node_quota = None if privileged else quota.lookup(conn, domid,
                                                              "transaction-nodes")

    # -- access bookkeeping -------------------------------------------------
    def _row(self, path: str):
        return self.conn.execute(
            "SELECT parent, seq, present, value, perms, childlen FROM xs_tx_node"
            " WHERE txid = ? AND path = ?", (self.txid, path)).fetchone()

    def _record(self, path: str, g: Node | None, check_gen: bool) -> None:
        """First access to ``path`` in this transaction (access_node)."""
        if self.node_quota is not None and quota.exceeds(self.nodes + 1, self.node_quota):
            raise XenStoreError("ENOSPC")
        self.nodes += 1
        self.conn.execute("UPDATE xs_tx SET nodes = ? WHERE txid = ?",
                          (self.nodes, self.txid))
        if g is None:
            self.conn.execute(
                "INSERT INTO xs_tx_node (txid, path, ord, present, base_gen, check_gen)"
                " VALUES (?, ?, ?, 0, NULL, ?)", (self.txid, path, self.nodes, int(check_gen)))
        else:
            enc = encode_perms(g.perms)
            self.conn.execute(
                "INSERT INTO xs_tx_node (txid, path, ord, parent, seq, present, value, perms,"
                " owner, childlen, base_gen, check_gen, old_perms)"
                " VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                (self.txid, path, self.nodes, g.parent, g.seq, g.value, enc, g.owner,
                 g.childlen, g.generation, int(check_gen), enc))

    # -- the view -----------------------------------------------------------
    def get(self, path: str) -> Node | None:
        row = self._row(path)
        if row is not None:
            parent, seq, present, value, perms, childlen = row
            if not present:
                return None
            return Node(path, parent, seq, bytes(value), decode_perms(perms), None, childlen)
        g = self.glob.get(path)
        self._record(path, g, check_gen=True)
        return g

    def children(self, path: str) -> list[str]:
        mine = {p: (present, seq) for p, present, seq in self.conn.execute(
            "SELECT path, present, seq FROM xs_tx_node WHERE txid = ? AND parent = ?",
            (self.txid, path))}
        found = []
        for p, seq in self.conn.execute(
                "SELECT path, seq FROM xs_node WHERE parent = ?", (path,)):
            if p not in mine:
                found.append((seq, p))
        found.extend((seq, p) for p, (present, seq) in mine.items() if present)
        found.sort()
        return _child_names(path, [p for _, p in found])

    def subtree(self, path: str) -> list[Node]:
        lo, hi = paths.subtree_bounds(path)
        mine = {}
        for p, parent, seq, present, value, perms, childlen in self.conn.execute(
                "SELECT path, parent, seq, present, value, perms, childlen FROM xs_tx_node"
                " WHERE txid = ? AND path > ? AND path < ?", (self.txid, lo, hi)):
            mine[p] = (Node(p, parent, seq, bytes(value), decode_perms(perms), None, childlen)
                       if present else None)
        out = [n for n in mine.values() if n is not None]
        for g in self.glob.subtree(path):
            if g.path not in mine:
                self._record(g.path, g, check_gen=True)
                out.append(g)
        return out

    def put(self, node: Node, old: Node | None) -> None:
        if self._row(node.path) is None:
            self._record(node.path, None, check_gen=False)
        self.conn.execute(
            "UPDATE xs_tx_node SET parent = ?, seq = ?, present = 1, value = ?, perms = ?,"
            " owner = ?, childlen = ?, modified = 1 WHERE txid = ? AND path = ?",
            (node.parent, node.seq, node.value, encode_perms(node.perms), node.owner,
             node.childlen, self.txid, node.path))

    def delete(self, node: Node) -> None:
        self.conn.execute(
            "UPDATE xs_tx_node SET present = 0, modified = 1 WHERE txid = ? AND path = ?",
            (self.txid, node.path))

    def queue_fire(self, path: str, match: str) -> None:
        """Remember that commit must fire watches for ``path`` (queue_watches)."""
        self.conn.execute(
            "UPDATE xs_tx_node SET fire = CASE WHEN fire = 'subtree' THEN fire ELSE ? END"
            " WHERE txid = ? AND path = ?", (match, self.txid, path))

    def conflict(self) -> bool:
        """Has a node this transaction read changed since (its generation)?"""
        return self.conn.execute(
            "SELECT 1 FROM xs_tx_node t LEFT JOIN xs_node n ON n.path = t.path"
            " WHERE t.txid = ? AND t.check_gen = 1 AND t.base_gen IS NOT n.generation"
            " LIMIT 1", (self.txid,)).fetchone() is not None

    def changes(self) -> list[tuple]:
        """The modified nodes in first-access order (see MemTxNodes.changes)."""
        return [(path, parent, seq, present, bytes(value) if present else value,
                 decode_perms(perms) if present else None, childlen, fire, old_perms)
                for path, parent, seq, present, value, perms, childlen, fire, old_perms
                in self.conn.execute(
                    "SELECT path, parent, seq, present, value, perms, childlen, fire,"
                    " old_perms FROM xs_tx_node WHERE txid = ? AND modified = 1 ORDER BY ord",
                    (self.txid,)).fetchall()]

    def owned_count(self, domid: int) -> int:
        """Nodes owned by ``domid`` as this transaction sees the tree."""
        base = self.glob.owned_count(domid)
        delta = self.conn.execute(
            "SELECT COALESCE(SUM((t.present = 1 AND t.owner = ?)"
            " - (n.path IS NOT NULL AND n.owner = ?)), 0)"
            " FROM xs_tx_node t LEFT JOIN xs_node n ON n.path = t.path"
            " WHERE t.txid = ? AND t.modified = 1", (domid, domid, self.txid)).fetchone()[0]
        return base + delta


class _TxRow:
    """One node as a transaction holds it (a row of xs_tx_node, in memory)."""

    __slots__ = ("parent", "seq", "present", "value", "perms", "childlen", "base_gen",
                 "check_gen", "base_perms", "modified", "fire")

    def __init__(self, g: Node | None, check_gen: bool):
        self.present = g is not None
        self.parent, self.seq = (g.parent, g.seq) if g else (None, None)
        self.value, self.perms = (g.value, g.perms) if g else (b"", ())
        self.childlen = g.childlen if g else 0
        self.base_gen = g.generation if g else None
        self.check_gen = check_gen
        self.base_perms = g.perms if g else None
        self.modified = False
        self.fire = None

    def copy(self) -> "_TxRow":
        c = _TxRow.__new__(_TxRow)
        for k in _TxRow.__slots__:
            setattr(c, k, getattr(self, k))
        return c

    def node(self, path: str) -> Node | None:
        if not self.present:
            return None
        return Node(path, self.parent, self.seq, self.value, self.perms, None, self.childlen)


class MemTxNodes:
    """A transaction that lives within one call of ``XenStore.transaction``,
    kept in memory instead of in xs_tx_node.

    Only Domain-0 uses it: no quota binds Domain-0, so nothing outside the
    call needs to see its rows. What it reads and commits is what ``TxNodes``
    would: the same first-access records, the same conflict check, the same
    changes in the same order. A request that fails is undone from a journal
    of the rows it touched, as the savepoint undoes it for ``TxNodes``.
    """

    def __init__(self, conn, txid: int, domid: int, generation: int):
        self.conn = conn
        self.txid = txid
        self.domid = domid
        self.generation = generation
        self.glob = GlobalNodes(conn)
        self.rows: dict[str, _TxRow] = {}   # in first-access order, as xs_tx_node's ord
        self._undo: list | None = None

    # -- one request, all or nothing -----------------------------------------
    def begin(self) -> None:
        self._undo = []

    def end(self, ok: bool) -> None:
        undo, self._undo = self._undo, None
        if ok or not undo:
            return
        for path, before in reversed(undo):
            if before is None:
                del self.rows[path]
            else:
                self.rows[path] = before

    def _row(self, path: str, check_gen: bool, g: Node | None = None,
             new: bool = False) -> _TxRow:
        """The row to change (journalled), created on first access."""
        row = self.rows.get(path)
        if self._undo is not None:
            self._undo.append((path, row.copy() if row is not None else None))
        if row is None:
            row = self.rows[path] = _TxRow(g, check_gen)
        return row

    # -- the view -----------------------------------------------------------
    def get(self, path: str) -> Node | None:
        row = self.rows.get(path)
        if row is not None:
            return row.node(path)
        g = self.glob.get(path)
        self._row(path, True, g)
        return g

    def children(self, path: str) -> list[str]:
        mine = {p: r for p, r in self.rows.items() if r.parent == path}
        found = [(seq, p) for p, seq in self.conn.execute(
            "SELECT path, seq FROM xs_node WHERE parent = ?", (path,)) if p not in mine]
        found.extend((r.seq, p) for p, r in mine.items() if r.present)
        found.sort()
        return _child_names(path, [p for _, p in found])

    def subtree(self, path: str) -> list[Node]:
        lo, hi = paths.subtree_bounds(path)
        mine = {p: r.node(p) for p, r in self.rows.items() if lo < p < hi}
        out = [n for n in mine.values() if n is not None]
        for g in self.glob.subtree(path):
            if g.path not in mine:
                self._row(g.path, True, g)
                out.append(g)
        return out

    def put(self, node: Node, old: Node | None) -> None:
        row = self._row(node.path, False)
        row.parent, row.seq, row.present = node.parent, node.seq, True
        row.value, row.perms, row.childlen = node.value, node.perms, node.childlen
        row.modified = True

    def delete(self, node: Node) -> None:
        if node.path in self.rows:
            row = self._row(node.path, False)
            row.present, row.modified = False, True

    def queue_fire(self, path: str, match: str) -> None:
        row = self.rows.get(path)
        if row is not None and row.fire != "subtree":
            self._row(path, False).fire = match

    def owned_count(self, domid: int) -> int:
        base = self.glob.owned_count(domid)
        for p, r in self.rows.items():
            if r.modified:
                g = self.glob.get(p)
                base += (r.present and r.perms[0].domid == domid) - (
                    g is not None and g.owner == domid)
        return base

    # -- commit -------------------------------------------------------------
    def conflict(self) -> bool:
        """Has a node this transaction read changed since (its generation)?"""
        checked = {p: r.base_gen for p, r in self.rows.items() if r.check_gen}
        names, now = list(checked), {}
        for i in range(0, len(names), 500):
            part = names[i:i + 500]
            now.update(self.conn.execute(
                "SELECT path, generation FROM xs_node"
                f" WHERE path IN ({','.join('?' * len(part))})", part))
        return any(now.get(p) != gen for p, gen in checked.items())

    def changes(self) -> list[tuple]:
        """The modified nodes in first-access order: (path, parent, seq,
        present, value, perms, childlen, fire, encoded perms at first access)."""
        return [(p, r.parent, r.seq, r.present, r.value, r.perms, r.childlen, r.fire,
                 encode_perms(r.base_perms) if r.base_perms is not None else None)
                for p, r in self.rows.items() if r.modified]
