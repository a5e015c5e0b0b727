"""Watch events across processes: a change log plus xenstored's matching.

xenstored pushes an event to each connection the moment a node changes.
Here the writer appends one row per change to xs_change (with the
permissions the read filter needs), and a watcher, possibly in another
process, asks for the events of its watches since the last change it saw;
the matching rules of watch.c are applied at that point.  Watches
registered after a change never see it, as with a live daemon.

`events_by_conn` does the matching for every connection at once, the way
xenstored's fire_watches does it per change: a change at a path can only
fire watches on that path or on one of its ancestors, so the watches are
looked up by those paths (xs_watch is indexed by path), and the cost follows
the changes and the watches they hit, not connections x changes.
"""

from . import paths
from .perms import PERM_READ, decode_perms, perm_for

# How many changes the log keeps; older rows are pruned as new ones come.
CHANGE_LOG_KEEP = 10000
_PRUNE_EVERY = 256


# Plain classes, not dataclasses: every command defines them at start-up,
# where a dataclass costs ~30 times more to define.
class WatchEvent:
    """One event: ``path`` as the watcher sees it, ``token`` of its watch.

    ``changes_since`` returns raw changes, with ``token`` None.
    """

    def __init__(self, seq: int, path: str, token: str | None = None):
        # never assigned to afterwards: an event is a value (equal, hashed)
        self.seq = seq
        self.path = path
        self.token = token

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return (self.seq, self.path, self.token) == (other.seq, other.path, other.token)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.seq, self.path, self.token))


class Watch:
    """One registered watch, as its row in the watches table holds it."""

    def __init__(self, conn_id: str,
                 path: str,          # canonical absolute (or @special) path
                 token: str, domid: int, depth: int | None, relative: bool, reg_seq: int):
        self.conn_id = conn_id
        self.path = path
        self.token = token
        self.domid = domid
        self.depth = depth
        self.relative = relative
        self.reg_seq = reg_seq

    def epath(self, path: str) -> str:
        """Event path as reported: relative watches get relative paths."""
        if self.relative:
            return path[len(paths.home_of(self.domid)) + 1:]
        return path


def append_change(conn, path: str, match: str, perms=None, parent_perms=None,
                  old_perms=None, conn_id=None, token=None, now_ns: int = 0) -> int:
    """Log one change (or a targeted initial event) and prune old rows."""
    cur = conn.execute(
        "INSERT INTO xs_change (path, match, perms, parent_perms, old_perms, conn_id,"
        " token, now_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (path, match, perms, parent_perms, old_perms, conn_id, token, now_ns))
    seq = cur.lastrowid
    if pruned(seq):
        conn.execute("DELETE FROM xs_change WHERE seq <= ?", (seq - CHANGE_LOG_KEEP,))
    return seq


def pruned(seq: int) -> bool:
    """Is the log pruned when change ``seq`` is appended?"""
    return seq % _PRUNE_EVERY == 0


def last_seq(conn) -> int:
    row = conn.execute("SELECT MAX(seq) FROM xs_change").fetchone()
    return row[0] or 0


def oldest_seq(conn) -> int:
    row = conn.execute("SELECT MIN(seq) FROM xs_change").fetchone()
    return row[0] or 0


def changes_since(conn, seq: int) -> list[WatchEvent]:
    rows = conn.execute(
        "SELECT seq, path FROM xs_change WHERE seq > ? AND match != 'initial' ORDER BY seq",
        (seq,))
    return [WatchEvent(s, p) for s, p in rows]


def load_watches(conn, conn_id: str) -> list[Watch]:
    rows = conn.execute(
        "SELECT conn_id, path, token, domid, depth, relative, reg_seq FROM xs_watch"
        " WHERE conn_id = ? ORDER BY reg_seq", (conn_id,))
    return [Watch(c, p, t, d, dp, bool(r), s) for c, p, t, d, dp, r, s in rows]


def _matches(match: str, path: str, w: Watch) -> bool:
    if match == "subtree":
        return paths.is_child(path, w.path, w.depth)
    if match == "exact":
        return path == w.path
    if match == "depth":   # @special/<domid>: exact, or a watch with depth > 0
        return path == w.path or (w.depth is not None and w.depth > 0
                                  and paths.is_child(path, w.path, w.depth))
    if match == "nodepth":  # @special itself: only watches without depth
        return path == w.path and w.depth is None
    return False


def _reads(domid: int, text: str | None) -> bool:
    return text is not None and bool(perm_for(domid, decode_perms(text)) & PERM_READ)


def permitted(domid: int, perms, parent_perms, old_perms) -> bool:
    """watch_permitted: the old perms, else the node's, else its parent's.

    A node that no longer exists (``perms`` None) is only seen through
    its old perms, as xenstored fails to read it.
    """
    if _reads(domid, old_perms):
        return True
    if perms is None:
        return False
    return _reads(domid, perms) or _reads(domid, parent_perms)


def pending_events(conn, conn_id: str, since_seq: int) -> list[WatchEvent]:
    """Events for the watches of ``conn_id`` from changes after ``since_seq``."""
    watches = load_watches(conn, conn_id)
    if not watches:
        return []
    out = []
    rows = conn.execute(
        "SELECT seq, path, match, perms, parent_perms, old_perms, conn_id, token"
        " FROM xs_change WHERE seq > ? ORDER BY seq", (since_seq,))
    for seq, path, match, perms, parent_perms, old_perms, c_id, token in rows:
        if match == "initial":
            if c_id != conn_id:
                continue
            for w in watches:
                if w.reg_seq == seq and w.token == token and w.path == path:
                    out.append(WatchEvent(seq, w.epath(path), w.token))
            continue
        allowed: dict[int, bool] = {}
        for w in watches:
            if w.reg_seq >= seq or not _matches(match, path, w):
                continue
            ok = allowed.get(w.domid)
            if ok is None:
                ok = allowed[w.domid] = permitted(w.domid, perms, parent_perms, old_perms)
            if ok:
                out.append(WatchEvent(seq, w.epath(path), w.token))
    return out


def ancestors(path: str) -> list[str]:
    """``path`` and every path above it, nearest first: the only paths a
    watch can be on to see a change at ``path`` ("/a/b": "/a/b", "/a", "/";
    "@releaseDomain/3": itself and "@releaseDomain")."""
    out = [path]
    i = path.rfind("/")
    while i > 0:
        path = path[:i]
        out.append(path)
        i = path.rfind("/")
    if i == 0 and path != "/":
        out.append("/")
    return out


_IN_CHUNK = 500  # paths per IN (...) query, well below SQLite's variable limit


def _watches_on(conn, wanted: set[str]) -> dict[str, list[Watch]]:
    """The watches on each of the ``wanted`` paths, oldest registration first."""
    by_path: dict[str, list[Watch]] = {}
    wanted_list = sorted(wanted)
    for i in range(0, len(wanted_list), _IN_CHUNK):
        chunk = wanted_list[i:i + _IN_CHUNK]
        rows = conn.execute(
            "SELECT conn_id, path, token, domid, depth, relative, reg_seq FROM xs_watch"
            f" WHERE path IN ({','.join('?' * len(chunk))})", chunk)
        for c, p, t, d, dp, r, s in rows:
            by_path.setdefault(p, []).append(Watch(c, p, t, d, dp, bool(r), s))
    for ws in by_path.values():
        ws.sort(key=lambda w: w.reg_seq)
    return by_path


def events_by_conn(conn, since_seq: int, upto_seq: int | None = None
                   ) -> dict[str, list[WatchEvent]]:
    """Every connection's events from the changes after ``since_seq`` (up to
    ``upto_seq``): for each connection, what ``pending_events`` would give
    it for those changes, in the same order."""
    query = ("SELECT seq, path, match, perms, parent_perms, old_perms, conn_id, token"
             " FROM xs_change WHERE seq > ?")
    args: tuple = (since_seq,)
    if upto_seq is not None:
        query += " AND seq <= ?"
        args += (upto_seq,)
    rows = conn.execute(query + " ORDER BY seq", args).fetchall()
    if not rows:
        return {}
    up: dict[str, list[str]] = {}
    wanted: set[str] = set()
    for _seq, path, match, *_ in rows:
        if match == "initial":
            wanted.add(path)
        elif path not in up:
            wanted.update(up.setdefault(path, ancestors(path)))
    by_path = _watches_on(conn, wanted)
    out: dict[str, list[WatchEvent]] = {}
    if not by_path:
        return out
    for seq, path, match, perms, parent_perms, old_perms, c_id, token in rows:
        if match == "initial":
            for w in by_path.get(path, ()):
                if w.conn_id == c_id and w.reg_seq == seq and w.token == token:
                    out.setdefault(w.conn_id, []).append(WatchEvent(seq, w.epath(path), w.token))
            continue
        hit = [w for p in up[path] if p in by_path for w in by_path[p]
               if w.reg_seq < seq and _matches(match, path, w)]
        if not hit:
            continue
        if len(hit) > 1:
            hit.sort(key=lambda w: w.reg_seq)
        allowed: dict[int, bool] = {}
        for w in hit:
            ok = allowed.get(w.domid)
            if ok is None:
                ok = allowed[w.domid] = permitted(w.domid, perms, parent_perms, old_perms)
            if ok:
                out.setdefault(w.conn_id, []).append(WatchEvent(seq, w.epath(path), w.token))
    return out
