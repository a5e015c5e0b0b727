"""Tables of the simulated xenstored (all prefixed ``xs_``).

Nodes are keyed by their absolute path, so a node is one index probe and
a subtree is one key range; children are found through (parent, seq),
seq being the generation at creation, which gives xenstored's creation
order.  Transactions, watches and the change log live here too so that
they outlive the process that created them, and the connections that are
bound to a process, so they can be closed once it is gone.
"""

# Connections bound to a process (conns.py): pid and its start time
# (NULL where the platform does not tell), so dead ones can be reaped.
CONN_SCHEMA: list[str] = [
    """CREATE TABLE IF NOT EXISTS xs_conn (
        conn_id TEXT PRIMARY KEY,
        domid INTEGER NOT NULL,
        pid INTEGER NOT NULL,
        pid_start INTEGER
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS xs_conn_domid ON xs_conn (domid)",
]

SCHEMA: list[str] = [
    # One row per node.  perms: "n0,r5" ('!' marks an ignored entry);
    # owner = domid of entry 0; childlen = bytes of the NUL-separated
    # child list (for the node-size quota).
    """CREATE TABLE IF NOT EXISTS xs_node (
        path TEXT PRIMARY KEY,
        parent TEXT,
        seq INTEGER NOT NULL,
        value BLOB NOT NULL,
        perms TEXT NOT NULL,
        owner INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        childlen INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS xs_node_children ON xs_node (parent, seq)",
    "CREATE INDEX IF NOT EXISTS xs_node_owner ON xs_node (owner)",
    # Non-owner perm entries by domid, so releasing a domain finds them.
    """CREATE TABLE IF NOT EXISTS xs_perm_ref (
        path TEXT NOT NULL,
        domid INTEGER NOT NULL,
        PRIMARY KEY (path, domid)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS xs_perm_ref_domid ON xs_perm_ref (domid)",
    # Counters: generation (also child order), next transaction id.
    """CREATE TABLE IF NOT EXISTS xs_meta (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID""",
    # Domains xenstored knows as introduced.
    """CREATE TABLE IF NOT EXISTS xs_domain (
        domid INTEGER PRIMARY KEY,
        introduced INTEGER NOT NULL DEFAULT 1,
        shutdown INTEGER NOT NULL DEFAULT 0
    )""",
    # Quota settings; domid -1 = global.  Absent = xenstored's default.
    """CREATE TABLE IF NOT EXISTS xs_quota (
        domid INTEGER NOT NULL,
        name TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (domid, name)
    ) WITHOUT ROWID""",
    # Open transactions.
    """CREATE TABLE IF NOT EXISTS xs_tx (
        txid INTEGER PRIMARY KEY,
        domid INTEGER NOT NULL,
        conn_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        nodes INTEGER NOT NULL DEFAULT 0,
        started_ns INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS xs_tx_domid ON xs_tx (domid)",
    # Nodes a transaction touched, with its private copy of each.
    # base_gen: generation seen at first access (NULL = node was absent);
    # present: does the node exist in the transaction's view.
    """CREATE TABLE IF NOT EXISTS xs_tx_node (
        txid INTEGER NOT NULL,
        path TEXT NOT NULL,
        ord INTEGER NOT NULL,
        parent TEXT,
        seq INTEGER,
        present INTEGER NOT NULL,
        value BLOB,
        perms TEXT,
        owner INTEGER,
        childlen INTEGER,
        base_gen INTEGER,
        check_gen INTEGER NOT NULL,
        modified INTEGER NOT NULL DEFAULT 0,
        fire TEXT,
        old_perms TEXT,
        PRIMARY KEY (txid, path)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS xs_tx_node_children ON xs_tx_node (txid, parent, seq)",
    # Registered watches.  depth NULL = unlimited; relative = the watch was
    # given relative to the owner's home (events are reported relative).
    """CREATE TABLE IF NOT EXISTS xs_watch (
        conn_id TEXT NOT NULL,
        path TEXT NOT NULL,
        token TEXT NOT NULL,
        domid INTEGER NOT NULL,
        depth INTEGER,
        relative INTEGER NOT NULL,
        reg_seq INTEGER NOT NULL,
        PRIMARY KEY (conn_id, path, token)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS xs_watch_domid ON xs_watch (domid)",
    "CREATE INDEX IF NOT EXISTS xs_watch_path ON xs_watch (path)",
    *CONN_SCHEMA,
    # Change log watchers in other processes follow.  match: subtree,
    # exact, depth, nodepth or initial (initial rows name their watch).
    # perms/parent_perms/old_perms: what the read filter needs.
    """CREATE TABLE IF NOT EXISTS xs_change (
        seq INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        match TEXT NOT NULL,
        perms TEXT,
        parent_perms TEXT,
        old_perms TEXT,
        conn_id TEXT,
        token TEXT,
        now_ns INTEGER NOT NULL DEFAULT 0
    )""",
]


def apply_schema(conn) -> None:
    """Create the xs_ tables (tests and tools; the state layer does the same)."""
    for stmt in SCHEMA:
        conn.execute(stmt)


def add_conns(conn) -> None:
    """Migration: create xs_conn and adopt the watches of xenstore-watch
    processes from before it (conn_id "xenstore-watch:<pid>:<n>"), by pid
    alone, so the dead ones among them can be reaped too."""
    for stmt in CONN_SCHEMA:
        conn.execute(stmt)
    conn.execute(
        "INSERT OR IGNORE INTO xs_conn (conn_id, domid, pid, pid_start)"
        " SELECT conn_id, MIN(domid), CAST(substr(substr(conn_id, 16), 1,"
        " instr(substr(conn_id, 16), ':') - 1) AS INTEGER), NULL"
        " FROM xs_watch WHERE conn_id LIKE 'xenstore-watch:%:%' GROUP BY conn_id")
