"""A host's stored state, read without the simulation: what a quick query needs.

`peek_host` opens a host's database in a read transaction for a query that
needs nothing simulated first (`list`, `domid`, `xenstore-read` on a manual
clock, or on a realtime one whose catch-up to now is quiet: `quiet_now`).
It is kept apart from pyxl/sim/host.py, and imports nothing heavy, because
those commands are what scripts call in loops: their start-up is the cost.
The host's meta numbers and the guests' wake index are read here too, for
both.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pyxl.cnum import LONG_MAX  # the end of s_time_t (pyxl.units imports more)
from pyxl.sim.schema import MIGRATIONS, SCHEMA_VERSION
from pyxl.sim.wake import WAKE_STARVED
from pyxl.state.db import Database, StateDamaged, host_lock
from pyxl.state.paths import DEFAULT_HOST, db_path

if TYPE_CHECKING:
    import sqlite3


def current_host_name(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PYXL_HOST") or DEFAULT_HOST


# The meta table's numbers, checked once when a command opens the host.
_META_NUMBERS = (("now_ns", int), ("wall_anchor", float), ("epoch", int),
                 ("domid_rover", int), ("seed", int))


def optional_number(meta: dict, key: str) -> int:
    """A meta number that older databases lack (0 then)."""
    try:
        return int(meta.get(key, "0"))
    except ValueError:
        raise StateDamaged(f"meta '{key}' is {meta[key]!r}") from None


def read_meta(conn) -> dict:
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    for key, kind in _META_NUMBERS:
        try:
            ok = math.isfinite(kind(meta[key]))
        except (KeyError, TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise StateDamaged(f"meta '{key}' is {meta.get(key)!r}")
    return meta


def memory_waiters(meta: dict) -> set[int]:
    """The guests whose balloon sleeps until memory is freed, as the last
    command left them (derived state: `_queue_timers` finds them again)."""
    try:
        ids = json.loads(meta.get("balloon_waiters", "[]"))
    except ValueError:
        return set()
    if not isinstance(ids, list):
        return set()
    return {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}


def heap_runs(meta: dict) -> list[list[int]] | None:
    """Xen's free frames as the last command left them ([mfn, count] runs);
    None before any domain had frames. Runs that are not pairs of counts
    are damage."""
    text = meta.get("heap")
    if text is None:
        return None
    try:
        runs = json.loads(text)
    except ValueError:
        runs = None
    if not isinstance(runs, list) or not all(
            isinstance(r, list) and len(r) == 2
            and all(type(x) is int and x >= 0 for x in r) for r in runs):
        raise StateDamaged(f"meta 'heap' is {text[:60]!r}")
    return runs


def db_exists(path) -> bool:
    """False only if the file is surely not there (opening it says why else)."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except OSError:
        pass
    return True


def realtime_now(meta: dict, wall_now: float) -> int:
    """A realtime host's now: its last committed moment plus the wall time
    since (never less, if the wall clock went back)."""
    elapsed = wall_now - float(meta["wall_anchor"])
    return int(meta["now_ns"]) + max(0, int(elapsed * 1e9))


def xs_head(conn: sqlite3.Connection) -> int:
    """The newest XenStore change's sequence number (0: none)."""
    return conn.execute("SELECT MAX(seq) FROM xs_change").fetchone()[0] or 0


def due_guests(conn: sqlite3.Connection, upto: int, waiters: set[int]) -> list[int]:
    """The guests that may act on their own by `upto`, by the wake index: an
    entry at or before it, one that is not an integer (missing or damaged:
    the guest's state says), or a starved balloon off the waiter list (it may
    have missed memory being freed). Domid order."""
    return sorted(domid for domid, wake in conn.execute(  # a scan of the index alone
        "SELECT domid, wake_ns FROM domains "
        "WHERE NOT (typeof(wake_ns) = 'integer' AND wake_ns > ?) OR wake_ns = ?",
        (upto, WAKE_STARVED)) if wake != WAKE_STARVED or wake <= upto or domid not in waiters)


def quiet_now(conn: sqlite3.Connection, meta: dict, wall_now: float) -> int | None:
    """A realtime host's now, if nothing can happen between its last
    committed moment and now: no guest due, no XenStore change the guests
    have not seen, no starved balloon off the waiter list (one on it waits
    for memory a command frees) and every cpupool steady (its stored state
    reads at now without running its scheduler). Then a command that only
    reads answers from the stored state, at now, and writes nothing. None
    when the catch-up has work, or when meta is damaged (open_host says so)."""
    try:
        now = realtime_now(meta, wall_now)
        seen = int(meta.get("xs_seen", "0"))
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if now > LONG_MAX or xs_head(conn) > seen \
            or due_guests(conn, now, memory_waiters(meta)):
        return None
    from pyxl.hv.steady import pool_is_steady

    for (data,) in conn.execute("SELECT data FROM cpupools"):
        try:
            state = json.loads(data).get("sched_state")
        except (TypeError, ValueError, RecursionError, AttributeError):
            return None
        if not isinstance(state, dict) or not pool_is_steady(state, now):
            return None
    return now


class HostPeek:
    """A host's stored state in a read transaction, and its now."""

    __slots__ = ("conn", "now_ns")

    def __init__(self, conn: sqlite3.Connection, now_ns: int):
        self.conn = conn
        self.now_ns = now_ns


@contextmanager
def peek_host(name: str | None = None) -> Iterator[HostPeek | None]:
    """The host's database in a read transaction, for a query that needs no
    simulation (a name or a domid looked up): nothing to catch up, so neither
    the hypervisor nor the guests are loaded. Yields None, having opened
    nothing, when the answer needs `open_host`: a host not booted yet, or a
    realtime clock whose catch-up to now has work (it may change what the
    query sees: a guest's shutdown, xl's monitor acting on it).
    """
    name = current_host_name(name)
    path = db_path(name)
    with host_lock(name, exclusive=False):
        if not db_exists(path):
            yield None
            return
        db = Database.open(path, name, SCHEMA_VERSION, MIGRATIONS)
        try:
            with db.read() as conn:
                yield _peek(conn)
        finally:
            db.close()


def _peek(conn: sqlite3.Connection) -> HostPeek | None:
    """The peek at a host's stored state, if nothing needs simulating first."""
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN "
                             "('boot', 'now_ns', 'wall_anchor', 'xs_seen', 'balloon_waiters')"))
    clock = stored_clock(meta.get("boot"))
    if clock == "manual":
        try:
            return HostPeek(conn, int(meta["now_ns"]))
        except (KeyError, ValueError):
            return None
    now = quiet_now(conn, meta, time.time()) if clock == "realtime" else None
    return None if now is None else HostPeek(conn, now)


def stored_clock(text: object) -> str | None:
    """The clock named in the boot options kept in meta, without checking
    the rest of them (open_host does, and says what is wrong)."""
    try:
        opts = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return opts.get("clock") if isinstance(opts, dict) else None


def stored_domid(conn: sqlite3.Connection, name: str) -> int | None:
    """The domid of the domain named `name` in the database, if there is one."""
    row = conn.execute("SELECT domid FROM domains WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def stored_name(conn: sqlite3.Connection, domid: int) -> str | None:
    """The name of domain `domid` in the database, if there is one."""
    row = conn.execute("SELECT name FROM domains WHERE domid = ?", (domid,)).fetchone()
    return row[0] if row else None
