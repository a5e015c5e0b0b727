"""Reading and writing nodes, outside or inside a transaction.

``GlobalNodes`` is the committed tree.  ``TxNodes`` is one transaction's
view of it: the first time the transaction touches a node it records the
node's generation (for the conflict check at commit) and from then on
works on a private copy kept in xs_tx_node, as xenstored keeps
per-transaction copies of the nodes a transaction accessed.
"""

from dataclasses import dataclass

from . import paths, quota
from .errors import XenStoreError
from .perms import Perm, decode_perms, encode_perms

NODE_HDR_SIZE = 16     # struct node_hdr
PERM_ENTRY_SIZE = 8    # struct xs_permissions


@dataclass(repr=False, eq=False)
class Node:
    """One XenStore node as stored: its value, permissions and place in the tree."""

    path: str
    parent: str | None       # None for '/' and the special @ nodes
    seq: int                 # creation order among siblings
    value: bytes
    perms: tuple[Perm, ...]
    generation: int | None
    childlen: int = 0        # bytes of the NUL-separated child-name list

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
        if old_refs != new_refs:
            self.conn.executemany("DELETE FROM xs_perm_ref WHERE path = ? AND domid = ?",
                                  [(node.path, d) for d in old_refs - new_refs])
            self.conn.executemany("INSERT OR IGNORE INTO xs_perm_ref (path, domid)"
                                  " VALUES (?, ?)",
                                  [(node.path, d) for d in new_refs - old_refs])

    def delete(self, node: Node) -> None:
        self.conn.execute("DELETE FROM xs_node WHERE path = ?", (node.path,))
        if len(node.perms) > 1:
            self.conn.execute("DELETE FROM xs_perm_ref WHERE path = ?", (node.path,))

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

    def owned_count(self, domid: int) -> int:
        """Nodes owned by ``domid`` as this transaction sees the tree."""
        base = self.glob.owned_count(domid)
        delta = self.conn.execute(
            "SELECT COALESCE(SUM((t.present = 1 AND t.owner = ?)"
            " - (n.path IS NOT NULL AND n.owner = ?)), 0)"
            " FROM xs_tx_node t LEFT JOIN xs_node n ON n.path = t.path"
            " WHERE t.txid = ? AND t.modified = 1", (domid, domid, self.txid)).fetchone()[0]
        return base + delta
