"""Connections that live as long as a process, as xenstored's sockets do.

xenstored drops a connection's watches and transactions the moment its
socket closes, however the client died.  Here a client such as
``xenstore-watch`` is a process that registers its connection in xs_conn
with its pid and the kernel's start time for that pid (so a reused pid is
not taken for the dead process).  Nothing tells the store when a process
dies, so dead connections are reaped when it matters: when a quota would
refuse a request, and each time the change log is pruned.

Whether a process still runs is the operating system's to say, not the
store's: the store is handed an ``Alive`` check (pyxl.sim.processes.alive
on a real host) and stays pure.
"""

from __future__ import annotations

from collections.abc import Callable

Alive = Callable[[int, "int | None"], bool]


def never_dead(_pid: int, _start: int | None) -> bool:
    """The check of a store that is told nothing: no connection is reaped."""
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
