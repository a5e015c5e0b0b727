"""One command's view of a simulated host: its clock, its state, its guests.

`open_host(name, write=...)` is how every command starts: it boots the host
if this is the first command on it, opens one database transaction, and
yields a `Host` whose hypervisor state is loaded on first use. On the way out
the guests are given their moment (a domain unpaused by this command starts
booting), changed state is written back, and the transaction commits; if the
command fails, nothing it did is kept.

Time: the host's simulated clock is either tied to the wall clock
("realtime": every command first runs the simulation up to now) or manual
(it moves only when `pyxl clock advance` or a waiting command moves it).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pyxl.hv.hypervisor import Hypervisor
from pyxl.hv.model import Domain
from pyxl.sim import guest as guestos
from pyxl.sim.boot import boot, default_boot_options, meta_boot_options, read_boot_file
from pyxl.sim.rows import (decode_object, domain_data, guest_state, load_domains, load_pools,
                           save_domain, save_pool)
from pyxl.sim.schema import MIGRATIONS, SCHEMA_VERSION
from pyxl.state.db import Database, StateDamaged, host_lock
from pyxl.state.paths import DEFAULT_HOST, db_path

def current_host_name(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PYXL_HOST") or DEFAULT_HOST


# The meta table's numbers, checked once when a command opens the host.
_META_NUMBERS = (("now_ns", int), ("wall_anchor", float), ("epoch", int),
                 ("domid_rover", int), ("seed", int))


def _read_meta(conn) -> dict:
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    for key, kind in _META_NUMBERS:
        try:
            ok = math.isfinite(kind(meta[key]))
        except (KeyError, TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise StateDamaged(f"meta '{key}' is {meta.get(key)!r}")
    return meta


class Host:
    """One command's handle on a host: its meta, hypervisor, XenStore, guests."""

    def __init__(self, name: str, db: Database, writable: bool):
        self.name = name
        self.db = db
        self.conn = db.conn
        self.writable = writable
        self.meta = _read_meta(self.conn)
        self.boot = meta_boot_options(self.meta.get("boot"))
        self.physinfo = self.boot.physinfo()
        self._hv: Hypervisor | None = None
        self._guests: dict[int, dict] = {}
        self._all_guests_loaded = False
        self._domain_rows: dict[int, str] = {}
        self._dirty_guests: set[int] = set()
        self._new_domains: set[int] = set()
        self._pending_config: dict[int, dict] = {}
        self._meta_dirty: set[str] = set()
        # Called after the guests at each simulation step: the toolstack's
        # monitor (xl's background process) hooks in here to act on shutdowns.
        self.on_step: list = []
        self._tracer = None
        self._xs_head: int | None = None
        self.wall_now = time.time()
        self.now_ns = self._clock_now()

    # --- clock ---

    @property
    def clock(self) -> str:
        return self.boot.clock

    def _clock_now(self) -> int:
        last = int(self.meta["now_ns"])
        if self.clock == "manual":
            return last
        elapsed = self.wall_now - float(self.meta["wall_anchor"])
        return last + max(0, int(elapsed * 1e9))

    @property
    def epoch(self) -> int:
        return int(self.meta["epoch"])

    def wall_time(self, t_ns: int | None = None) -> float:
        """Unix time of simulated time `t_ns` (default: now) on this host's calendar."""
        return self.epoch + (self.now_ns if t_ns is None else t_ns) / 1e9

    def set_meta(self, key: str, value: str) -> None:
        self.meta[key] = value
        self._meta_dirty.add(key)

    def next_seq(self, key: str) -> int:
        n = int(self.meta.get(key, "0")) + 1
        self.set_meta(key, str(n))
        return n

    # --- state, loaded on first use ---

    @property
    def hv_loaded(self) -> bool:
        return self._hv is not None

    @property
    def hv(self) -> Hypervisor:
        if self._hv is None:
            self._hv = self._load_hv()
        return self._hv

    def _load_hv(self) -> Hypervisor:
        domains, self._domain_rows = load_domains(self.conn)
        return Hypervisor(self.physinfo, domains, load_pools(self.conn),
                          now_ns=int(self.meta["now_ns"]),
                          domid_rover=int(self.meta["domid_rover"]),
                          seed=int(self.meta["seed"]), trace=self._tracer)

    def trace_hypercalls(self, tracer) -> None:
        """Call `tracer(op, args)` for every hypervisor operation from now on."""
        self._tracer = tracer
        if self._hv is not None:
            self._hv.tracer = tracer

    def xs(self, caller: int = 0):
        from pyxl.xenstore.store import XenStore

        return XenStore(self.conn, caller=caller, domain_exists=self.domain_exists,
                        now_ns=self.now_ns)

    def domain_exists(self, domid: int) -> bool:
        if self._hv is not None:
            return domid in self._hv.domains
        return self.conn.execute("SELECT 1 FROM domains WHERE domid = ?", (domid,)).fetchone() is not None

    def guest(self, domid: int) -> dict:
        """The simulated guest OS's state; all of them are read at once when the
        simulation runs, since it visits every guest."""
        if domid not in self._guests:
            if self._hv is not None and not self._all_guests_loaded:
                self._all_guests_loaded = True
                for other, data in self.conn.execute("SELECT domid, guest FROM domains"):
                    self._guests.setdefault(other, guest_state(data, other))
                if domid in self._guests:
                    return self._guests[domid]
            row = self.conn.execute("SELECT guest FROM domains WHERE domid = ?", (domid,)).fetchone()
            self._guests[domid] = guest_state(row[0], domid) if row else {}
        return self._guests[domid]

    def set_guest(self, domid: int, state: dict) -> None:
        self._guests[domid] = state
        self._dirty_guests.add(domid)

    def config(self, domid: int) -> dict | None:
        """The domain's stored xl config (also for one built earlier in this command)."""
        if domid in self._pending_config:
            return self._pending_config[domid]
        row = self.conn.execute("SELECT config FROM domains WHERE domid = ?", (domid,)).fetchone()
        if not row or not row[0]:
            return None
        return decode_object(row[0], f"domains.config of domain {domid}")

    def set_config(self, domid: int, config: dict) -> None:
        self.conn.execute("UPDATE domains SET config = ? WHERE domid = ?",
                          (json.dumps(config), domid))

    def add_domain(self, d: Domain, config: dict, guest: dict) -> None:
        """Record a domain the toolstack has just built."""
        self._new_domains.add(d.domid)
        self._guests[d.domid] = guest
        self._pending_config[d.domid] = config

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Undo everything done inside if it fails: the database back to a
        savepoint, and domains built meanwhile forgotten (for work done on
        behalf of the command, such as a restart, that must not sink it)."""
        known = set(self.hv.domains)
        self.conn.execute("SAVEPOINT pyxl_attempt")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK TO pyxl_attempt")
            self.conn.execute("RELEASE pyxl_attempt")
            for domid in set(self.hv.domains) - known:
                del self.hv.domains[domid]
                self._new_domains.discard(domid)
                self._guests.pop(domid, None)
                self._pending_config.pop(domid, None)
            raise
        self.conn.execute("RELEASE pyxl_attempt")

    def domid_by_name(self, name: str) -> int | None:
        if self._hv is not None:
            for d in self._hv.domains.values():
                if d.name == name:
                    return d.domid
            return None
        row = self.conn.execute("SELECT domid FROM domains WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def name_of(self, domid: int) -> str | None:
        if self._hv is not None:
            d = self._hv.domains.get(domid)
            return d.name if d else None
        row = self.conn.execute("SELECT name FROM domains WHERE domid = ?", (domid,)).fetchone()
        return row[0] if row else None

    # --- consoles ---

    def console_lines(self, domid: int, upto_ns: int | None = None) -> list[str]:
        upto = self.now_ns if upto_ns is None else upto_ns
        return [line for (line,) in self.conn.execute(
            "SELECT line FROM console WHERE domid = ? AND t_ns <= ? ORDER BY seq",
            (domid, upto))]

    def append_console(self, domid: int, lines: list[tuple[int, str]]) -> None:
        row = self.conn.execute("SELECT MAX(seq) FROM console WHERE domid = ?", (domid,)).fetchone()
        seq = (row[0] or 0) + 1
        self.conn.executemany(
            "INSERT INTO console(domid, seq, t_ns, line) VALUES (?, ?, ?, ?)",
            [(domid, seq + i, t, line) for i, (t, line) in enumerate(lines)])

    def dmesg(self) -> list[str]:
        return [line for (line,) in self.conn.execute(
            "SELECT line FROM dmesg WHERE t_ns <= ? ORDER BY seq", (self.now_ns,))]

    def clear_dmesg(self) -> None:
        self.conn.execute("DELETE FROM dmesg WHERE t_ns <= ?", (self.now_ns,))

    # --- time ---

    def sync(self) -> None:
        """Bring the simulation up to this command's `now`."""
        if self.now_ns > int(self.meta["now_ns"]):
            self.advance_to(self.now_ns)

    def advance_to(self, t_ns: int) -> None:
        """Run hypervisor and guests forward to simulated time `t_ns`.

        Every move of the clock comes here, so this is where one past the end
        of Xen's s_time_t (signed 64-bit ns) is refused, before anything runs.
        """
        from pyxl.units import MAX_DURATION_NS

        if t_ns > MAX_DURATION_NS:
            from pyxl.errors import PyxlError

            raise PyxlError(f"the clock cannot pass {MAX_DURATION_NS} ns (about 292 years, "
                            f"the range of Xen's s_time_t): it is at {self.now_ns} ns and "
                            f"would move to {t_ns} ns")
        if not self.writable:
            return
        hv = self.hv
        while hv.now_ns < t_ns:
            step = min(t_ns, self._next_guest_event(t_ns))
            hv.advance(step)
            self._guest_events(step)
        self.now_ns = t_ns
        self.set_meta("now_ns", str(t_ns))
        self.set_meta("wall_anchor", repr(self.wall_now))

    def _next_guest_event(self, horizon: int) -> int:
        t = horizon
        with self._xs_head_cached():
            for domid, d in self.hv.domains.items():
                nxt = guestos.next_event_ns(self, d, self.guest(domid))
                if nxt is not None:
                    t = min(t, nxt)
        return max(t, self.hv.now_ns + 1)

    def xs_head(self) -> int:
        """The XenStore change log's newest entry: guests compare it with the
        last one they read to know whether a watch may have fired."""
        if self._xs_head is not None:
            return self._xs_head
        return self.xs().last_seq()

    @contextmanager
    def _xs_head_cached(self) -> Iterator[None]:
        """Within one pass over the guests, ask the store once, not once per guest.

        A write made during the pass is seen by the next pass, which the
        scheduling of guest events makes happen at once.
        """
        self._xs_head = self.xs().last_seq()
        try:
            yield
        finally:
            self._xs_head = None

    def _guest_events(self, now: int) -> None:
        """Let every guest react to what has happened by `now`, then the toolstack."""
        with self._xs_head_cached():
            for domid in list(self.hv.domains):
                d = self.hv.domains.get(domid)
                if d is not None:
                    guestos.step(self, d, self.guest(domid), now)
        for hook in self.on_step:
            hook(self, now)
        for domid, d in list(self.hv.domains.items()):
            if self.guest(domid).get("phase") == "created":  # just rebuilt by a hook
                guestos.step(self, d, self.guest(domid), now)

    def mark_guest_dirty(self, domid: int) -> None:
        self._dirty_guests.add(domid)

    # --- writing back ---

    def flush(self) -> None:
        if not self.writable:
            return
        if self._hv is not None:
            hv = self._hv
            self._guest_events(hv.now_ns)  # e.g. a domain unpaused by this command boots
            conn = self.conn
            for domid in hv.destroyed:
                conn.execute("DELETE FROM domains WHERE domid = ?", (domid,))
                conn.execute("DELETE FROM vcpus WHERE domid = ?", (domid,))
                conn.execute("DELETE FROM console WHERE domid = ?", (domid,))
            for domid, d in hv.domains.items():
                if domid in self._new_domains:
                    save_domain(conn, d, self._pending_config.get(domid),
                                 self._guests.get(domid))
                    continue
                data = domain_data(d)
                if data != self._domain_rows.get(domid):
                    conn.execute("UPDATE domains SET name = ?, data = ? WHERE domid = ?",
                                 (d.name, data, domid))
                conn.executemany(
                    "UPDATE vcpus SET data = ? WHERE domid = ? AND vcpuid = ?",
                    [(json.dumps(v.__dict__), v.domid, v.vcpuid) for v in d.vcpus])
            for pool in hv.pools.values():
                save_pool(conn, pool)
            for (poolid,) in conn.execute("SELECT poolid FROM cpupools").fetchall():
                if poolid not in hv.pools:  # destroyed by this command
                    conn.execute("DELETE FROM cpupools WHERE poolid = ?", (poolid,))
            conn.executemany(
                "INSERT INTO dmesg(t_ns, line) VALUES (?, ?)",
                [(hv.now_ns, line) for line in hv.console_ring])
            if str(hv.domid_rover) != self.meta["domid_rover"]:
                self.set_meta("domid_rover", str(hv.domid_rover))
        for domid in self._dirty_guests - self._new_domains:
            self.conn.execute("UPDATE domains SET guest = ? WHERE domid = ?",
                              (json.dumps(self._guests[domid]), domid))
        self.conn.executemany("UPDATE meta SET value = ? WHERE key = ?",
                              [(self.meta[k], k) for k in self._meta_dirty])


@contextmanager
def open_host(name: str | None = None, *, write: bool) -> Iterator[Host]:
    """One command's transaction on a host, booting the host if it is new.

    A command that only reads still writes when the clock is tied to the wall
    clock, because showing "now" means running the simulation up to now.
    """
    name = current_host_name(name)
    path = db_path(name)
    with host_lock(name, exclusive=False):
        if not _exists(path):  # booted from its host.toml if it has one
            boot(name, read_boot_file(name) or default_boot_options(), must_be_new=False)
        db = Database.open(path, name, SCHEMA_VERSION, MIGRATIONS)
        try:
            if not write:
                write = _clock_of(db) == "realtime"
            with (db.write() if write else db.read()):
                host = Host(name, db, writable=write)
                host.sync()
                yield host
                host.flush()
        finally:
            db.close()


def _exists(path) -> bool:
    """False only if the file is surely not there (opening it says why else)."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except OSError:
        pass
    return True


def _clock_of(db: Database) -> str:
    with db.read() as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'boot'").fetchone()
        return meta_boot_options(row[0] if row else None).clock
