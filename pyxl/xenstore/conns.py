"""Connections that live as long as a process, as xenstored's sockets do.

xenstored drops a connection's watches and transactions the moment its
socket closes, however the client died.  Here a client such as
``xenstore-watch`` is a process that registers its connection in xs_conn
with its pid and the kernel's start time for that pid (so a reused pid is
not taken for the dead process).  Nothing tells the store when a process
dies, so dead connections are reaped when it matters: when a quota would
refuse a request, and each time the change log is pruned.

``alive`` is the one place the store looks outside its database; the store
takes it as a parameter so tests and replays can supply their own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

Alive = Callable[[int, "int | None"], bool]

_PROC = "/proc"
_STARTTIME_FIELD = 22        # proc(5): starttime, in clock ticks since boot
_GONE_STATES = ("Z", "X")    # a zombie has closed its sockets already


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 on (after the parenthesised comm), or None."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    _, paren, rest = text.rpartition(")")
    return rest.split() if paren else None


def _has_proc() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir(f"{_PROC}/self")


def start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid``; None where the platform does not say."""
    if not _has_proc():
        return None
    fields = _stat_fields(pid)
    try:
        return int(fields[_STARTTIME_FIELD - 3]) if fields else None
    except (IndexError, ValueError):
        return None


def this_process() -> tuple[int, int | None]:
    """(pid, start time) of the running process, to bind a connection to."""
    pid = os.getpid()
    return pid, start_time(pid)


def alive(pid: int, start: int | None) -> bool:
    """Is the process that opened a connection still running?

    With /proc: the pid exists, is no zombie and started when recorded.
    Elsewhere on POSIX: the pid exists.  Where neither can be asked, a
    connection is never taken for dead.
    """
    if pid <= 0:
        return False
    if _has_proc():
        fields = _stat_fields(pid)
        if not fields or fields[0] in _GONE_STATES:
            return False
        return start is None or start_time(pid) == start
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True      # exists, owned by someone else
    return True


def bind(conn, conn_id: str, domid: int, pid: int, start: int | None) -> None:
    conn.execute("INSERT OR REPLACE INTO xs_conn (conn_id, domid, pid, pid_start)"
                 " VALUES (?, ?, ?, ?)", (conn_id, domid, pid, start))


def drop(conn, conn_id: str) -> None:
    """What closing a connection does: its watches and transactions go."""
    conn.execute("DELETE FROM xs_watch WHERE conn_id = ?", (conn_id,))
    for (txid,) in conn.execute("SELECT txid FROM xs_tx WHERE conn_id = ?",
                                (conn_id,)).fetchall():
        conn.execute("DELETE FROM xs_tx_node WHERE txid = ?", (txid,))
        conn.execute("DELETE FROM xs_tx WHERE txid = ?", (txid,))


def close(conn, conn_id: str) -> None:
    drop(conn, conn_id)
    conn.execute("DELETE FROM xs_conn WHERE conn_id = ?", (conn_id,))


def reap(conn, is_alive: Alive, domid: int | None = None) -> int:
    """Close the connections (of ``domid``, or all) whose process is gone."""
    if domid is None:
        rows = conn.execute("SELECT conn_id, pid, pid_start FROM xs_conn").fetchall()
    else:
        rows = conn.execute("SELECT conn_id, pid, pid_start FROM xs_conn WHERE domid = ?",
                            (domid,)).fetchall()
    dead = [conn_id for conn_id, pid, start in rows if not is_alive(pid, start)]
    for conn_id in dead:
        close(conn, conn_id)
    return len(dead)
