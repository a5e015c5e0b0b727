"""xenstored's per-domain memory accounting, which the ``memory`` quota bounds.

xenstored charges each node it stores (its accounted size plus the length
of its database key) to the node's owner; a transaction's private copy of
a node (key "<transaction generation>/<path>") to the domain of the
connection; and each watch (path plus token) to the watcher's domain.  A
write (ENOMEM from the accounting, reported as EIO by the node writer) or
a watch (ENOMEM) is refused when the total it leads to reaches the quota of
the requesting domain.  The total is computed here from the tables rather
than kept as a counter, so it can never drift from what is stored.

Not simulated: requests and replies waiting in a connection's buffers
(answers here are immediate), and the stall xenstored imposes on a domain
already at its quota; the soft quota only ever made xenstored log.
"""

from .nodes import NODE_HDR_SIZE, PERM_ENTRY_SIZE, Node


def _size_sql(t: str = "") -> str:
    """Node.size() in SQL, over the columns of an xs_node or xs_tx_node row."""
    perms = f"(length({t}perms) - length(replace({t}perms, ',', '')) + 1)"
    return f"{NODE_HDR_SIZE} + {PERM_ENTRY_SIZE} * {perms} + length({t}value) + {t}childlen"


def charge(node: Node, key: str) -> int:
    """What storing ``node`` under database key ``key`` costs (db_write)."""
    return node.size() + len(key)


def tx_key(generation: int, path: str) -> str:
    """A transaction's copy of a node is kept under this key."""
    return f"{generation}/{path}"


def used(conn, domid: int) -> int:
    """The memory xenstored accounts to ``domid`` right now."""
    nodes = conn.execute(
        f"SELECT COALESCE(SUM({_size_sql()} + length(path)), 0)"
        " FROM xs_node WHERE owner = ?", (domid,)).fetchone()[0]
    copies = conn.execute(
        f"SELECT COALESCE(SUM({_size_sql('t.')} + length(x.generation) + 1"
        " + length(t.path)), 0) FROM xs_tx x JOIN xs_tx_node t ON t.txid = x.txid"
        " WHERE x.domid = ? AND t.present = 1", (domid,)).fetchone()[0]
    watches = conn.execute(
        "SELECT COALESCE(SUM(length(CAST(path AS BLOB)) + length(CAST(token AS BLOB))), 0)"
        " FROM xs_watch WHERE domid = ?", (domid,)).fetchone()[0]
    return nodes + copies + watches
