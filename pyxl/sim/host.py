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
The command's `Simulation` owns the current time and the queue of guest
events; `advance_to` pops them in time order, running the hypervisor's
schedulers up to each, stepping the guests that are due and then the
toolstack's hooks (xl's monitor). A XenStore change wakes the guest whose
home it touches; the guests' watches do the rest.

Only the guests that can act are loaded: the wake index (domains.wake_ns,
written with each guest's row) says when each next acts on its own, so
running to a time loads the guests due by then and the rest stay rows until
something touches them. On a realtime clock a command that only reads first
looks whether anything at all can happen before now (`quiet_now`); if not,
it answers from the stored state at now, in a read transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pyxl.sim import guest as guestos
from pyxl.sim.guest import GuestState
from pyxl.sim.peek import (current_host_name, db_exists, due_guests,
                           heap_runs, memory_waiters, optional_number, quiet_now, read_meta,
                           realtime_now, stored_domid, stored_name, xs_head)
from pyxl.sim.rows import (DomainTable, decode_lines, decode_object, domain_data, guest_json,
                           guest_state, load_pools, pool_data, save_domain, save_guests,
                           save_pool, save_wakes, vcpu_data)
from pyxl.sim.schema import MIGRATIONS, SCHEMA_VERSION
from pyxl.sim.simulation import Simulation
from pyxl.state.db import Database, host_lock
from pyxl.state.paths import db_path

if TYPE_CHECKING:  # the hypervisor and boot are imported when first needed
    from pyxl.hv.hypervisor import Hypervisor
    from pyxl.hv.model import Domain


class Host:
    """One command's handle on a host: its meta, hypervisor, XenStore, guests."""

    def __init__(self, name: str, db: Database, writable: bool):
        self.name = name
        self.db = db
        self.conn = db.conn
        self.writable = writable
        from pyxl.sim.boot import meta_boot_options

        self.meta = read_meta(self.conn)
        self.boot = meta_boot_options(self.meta.get("boot"))
        self.physinfo = self.boot.physinfo()
        self._hv: Hypervisor | None = None
        self._guests: dict[int, GuestState] = {}
        self._wake_rows: dict[int, object] = {}  # each loaded guest's wake index entry
        # The rows as read, so that writing back skips those that did not change.
        self._domain_rows: dict[int, str] = {}
        self._vcpu_rows: dict[tuple[int, int], str] = {}
        self._pool_rows: dict[int, tuple[str, str]] = {}
        self._dirty_guests: set[int] = set()
        self._new_domains: set[int] = set()
        self._pending_config: dict[int, dict] = {}
        self._meta_dirty: set[str] = set()
        # Called after the guests at each simulation step: the toolstack's
        # monitor (xl's background process) hooks in here to act on shutdowns.
        self.on_step: list = []
        self._tracer = None
        # Ring passes of traffic this command did not trace, by device (sim/traffic.py).
        self.traffic_untraced: dict[str, tuple[int, int, int]] = {}
        self.wall_now = time.time()
        self.sim = Simulation(int(self.meta["now_ns"]))
        self.sim.memory_waiters = memory_waiters(self.meta)
        # The guests' timers are in sim's queue up to here: those of every
        # loaded guest, and no unloaded guest is due by then (the wake index).
        self._queued_upto: int | None = None
        self._xs_seen = optional_number(self.meta, "xs_seen")
        self.xs_head: tuple[int, int] | None = None  # (conn.total_changes, head) read

    # --- clock ---

    @property
    def clock(self) -> str:
        return self.boot.clock

    @property
    def now_ns(self) -> int:
        """The simulation's current time (after `sync`, this command's now)."""
        return self.sim.now_ns

    def _clock_now(self) -> int:
        if self.clock == "manual":
            return int(self.meta["now_ns"])
        return realtime_now(self.meta, self.wall_now)

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
        from pyxl.hv.hypervisor import Hypervisor

        domains = DomainTable(self.conn, self._domain_rows, self._vcpu_rows)
        hv = Hypervisor(self.physinfo, domains, load_pools(self.conn, self._pool_rows),
                        clock=lambda: self.sim.now_ns,
                        domid_rover=int(self.meta["domid_rover"]),
                        seed=int(self.meta["seed"]), trace=self._tracer,
                        heap_free=heap_runs(self.meta))
        hv.notify = self._wake
        hv.memory_freed = self._memory_freed
        return hv

    def _wake(self, domid: int) -> None:
        """The guest has something to notice now (unpaused, a trigger)."""
        self.sim.schedule(self.sim.now_ns, domid)

    def _memory_freed(self, domid: int | None) -> None:
        """Memory appeared (for any domain, or for `domid` only): the balloon
        drivers that sleep for want of it get an event at their retry tick."""
        waiters = self.sim.memory_waiters
        if domid is not None and domid not in waiters:
            return
        woken = [domid] if domid is not None else sorted(waiters)
        waiters.difference_update(woken)
        for w in woken:
            d = self._hv.domains.get(w) if self._hv is not None else None
            if d is not None:
                guestos.memory_freed(self, d, self.guest(w), self.sim.now_ns)
        self._save_memory_waiters()

    def _save_memory_waiters(self) -> None:
        text = json.dumps(sorted(self.sim.memory_waiters))
        if text != self.meta.get("balloon_waiters", "[]"):
            self.set_meta("balloon_waiters", text)

    def trace_hypercalls(self, tracer) -> None:
        """Call `tracer(op, args)` for every hypervisor operation from now on."""
        self._tracer = tracer
        if self._hv is not None:
            self._hv.tracer = tracer

    def xs(self, caller: int = 0, conn_id: str | None = None):
        """The store as connection `conn_id` of domain `caller` sees it
        (default: the caller's connection for this command)."""
        from pyxl.sim.processes import alive
        from pyxl.xenstore.store import XenStore

        return XenStore(self.conn, caller=caller, domain_exists=self.domain_exists,
                        now_ns=self.now_ns, conn_id=conn_id, conn_alive=alive)

    def domain_exists(self, domid: int) -> bool:
        if self._hv is not None:
            return domid in self._hv.domains
        return self.conn.execute("SELECT 1 FROM domains WHERE domid = ?", (domid,)).fetchone() is not None

    def guest(self, domid: int) -> GuestState:
        """The simulated guest OS's state; whoever changes it calls
        `mark_guest_dirty` so that it is written back."""
        g = self._guests.get(domid)
        if g is None:
            row = self.conn.execute("SELECT guest, wake_ns FROM domains WHERE domid = ?",
                                    (domid,)).fetchone()
            if row is None:
                return self._guests.setdefault(domid, GuestState())
            g = self._guests[domid] = guest_state(row[0], domid)
            self._wake_rows[domid] = row[1]
            if self._queued_upto is not None:  # time runs: its timers join the queue
                d = self.hv.domains.get(domid)
                if d is not None:
                    for t in guestos.timers(d, g):
                        self.sim.schedule(t, domid)
        return g

    def _load_guests(self, upto: int) -> list[int]:
        """The guests not loaded yet that may act by `upto`, by the wake index
        (a missing or damaged entry counts as due): loaded now, their domids
        returned in order."""
        due = [domid for domid in due_guests(self.conn, upto, self.sim.memory_waiters)
               if domid not in self._guests]
        for i in range(0, len(due), 500):
            part = due[i:i + 500]
            for domid, data, wake in self.conn.execute(
                    "SELECT domid, guest, wake_ns FROM domains WHERE domid IN "
                    f"({','.join('?' * len(part))})", part):
                self._guests[domid] = guest_state(data, domid)
                self._wake_rows[domid] = wake
        return due

    def mark_guest_dirty(self, domid: int) -> None:
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
        """Replace the domain's stored xl config (as libxl updates it, e.g. on mem-set)."""
        if domid in self._pending_config:
            self._pending_config[domid] = config
        else:
            self.conn.execute("UPDATE domains SET config = ? WHERE domid = ?",
                              (json.dumps(config), domid))

    def add_domain(self, d: Domain, config: dict, guest: GuestState) -> None:
        """Record a domain the toolstack has just built; its guest looks at once."""
        self._new_domains.add(d.domid)
        self._guests[d.domid] = guest
        self._pending_config[d.domid] = config
        self._wake(d.domid)

    # --- xl's monitor: the toolstack's own state, kept beside the domain ---

    def monitored(self, domid: int) -> bool:
        """Whether xl's monitor still waits for this domain's death."""
        row = self.conn.execute("SELECT active FROM xl_monitor WHERE domid = ?",
                                (domid,)).fetchone()
        return bool(row and row[0])

    def set_monitored(self, domid: int, active: bool) -> None:
        self.conn.execute(
            "INSERT INTO xl_monitor(domid, active, log) VALUES (?, ?, '[]') "
            "ON CONFLICT(domid) DO UPDATE SET active = excluded.active", (domid, int(active)))

    def monitor_log(self, domid: int) -> list[str]:
        """xl's monitor log for the domain (/var/log/xen/xl-NAME.log), line by line."""
        row = self.conn.execute("SELECT log FROM xl_monitor WHERE domid = ?",
                                (domid,)).fetchone()
        return decode_lines(row[0], f"xl_monitor.log of domain {domid}") if row else []

    def log_monitor(self, domid: int, line: str) -> None:
        log = json.dumps(self.monitor_log(domid) + [line])
        self.conn.execute(
            "INSERT INTO xl_monitor(domid, active, log) VALUES (?, 0, ?) "
            "ON CONFLICT(domid) DO UPDATE SET log = excluded.log", (domid, log))

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
            self.hv.sched_reload()
            for domid in set(self.hv.domains) - known:
                del self.hv.domains[domid]
                self._new_domains.discard(domid)
                self._guests.pop(domid, None)
                self._pending_config.pop(domid, None)
            raise
        self.conn.execute("RELEASE pyxl_attempt")

    def domid_by_name(self, name: str) -> int | None:
        if self._hv is not None:
            return self._hv.domains.domid_named(name)
        return stored_domid(self.conn, name)

    def name_of(self, domid: int) -> str | None:
        if self._hv is not None:
            return self._hv.domains.name_of(domid)
        return stored_name(self.conn, domid)

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
        target = self._clock_now()
        if target > self.now_ns:
            self.advance_to(target)

    def advance_to(self, t_ns: int) -> None:
        """Run hypervisor and guests forward to simulated time `t_ns`.

        Every move of the clock comes here, so this is where one past the end
        of Xen's s_time_t (signed 64-bit ns) is refused, before anything runs.
        """
        from pyxl.cnum import LONG_MAX as MAX_DURATION_NS   # pyxl.units.MAX_DURATION_NS

        if t_ns > MAX_DURATION_NS:
            from pyxl.errors import PyxlError

            raise PyxlError(f"the clock cannot pass {MAX_DURATION_NS} ns (about 292 years, "
                            f"the range of Xen's s_time_t): it is at {self.now_ns} ns and "
                            f"would move to {t_ns} ns")
        if not self.writable:
            return
        self._queue_timers(t_ns)
        self._run_due()
        while (t := self.sim.next_ns()) is not None and t <= t_ns:
            self._move_to(t)
            self._run_due()
        self._move_to(t_ns)
        if self.traffic_untraced:
            from pyxl.sim import traffic

            traffic.summarise(self)
        self.hv.sched_sync()
        self.set_meta("now_ns", str(self.now_ns))
        self.set_meta("wall_anchor", repr(self.wall_now))

    def _save_guests(self) -> None:
        """Write back the guests that changed, each with its wake index entry,
        and correct the entries of the other loaded guests that are stale or
        damaged (a guest whose domain has shut down, a value set by hand)."""
        domains = self._hv.domains if self._hv is not None else {}
        rows, wakes = [], []
        for domid in sorted(self._guests.keys() - self._new_domains):
            d, g = domains.get(domid), self._guests[domid]
            wake = guestos.wake_ns(d, g) if d is not None else None
            if domid in self._dirty_guests:
                rows.append((guest_json(g), wake, domid))
            elif d is not None and wake != self._wake_rows.get(domid):
                wakes.append((wake, domid))
        save_guests(self.conn, rows)
        save_wakes(self.conn, wakes)

    def _move_to(self, t_ns: int) -> None:
        """The schedulers run up to `t_ns`, then the clock moves there."""
        if t_ns > self.sim.now_ns:
            self.hv.advance(t_ns)
            if "traffic" in self.meta:  # guests send on their vifs and vbds
                from pyxl.sim import traffic

                traffic.account(self, self.sim.now_ns, t_ns)
            self.sim.now_ns = t_ns

    def _queue_timers(self, upto: int) -> None:
        """The timers of every guest that may act by `upto` into the queue (the
        guests' persisted states are the truth; the queue is derived from
        them): the first time, those of the guests loaded so far and of the
        guests the wake index says are due; later, of those due by the new
        `upto`. The rest stay unloaded unless something touches them."""
        if self._queued_upto is not None and upto <= self._queued_upto:
            return
        first = self._queued_upto is None
        fresh = self._load_guests(upto)
        self._queued_upto = upto
        domains = self.hv.domains
        for domid in sorted(self._guests) if first else fresh:
            d = domains.get(domid)
            if d is None:
                continue
            g = self._guests[domid]
            for t in guestos.timers(d, g):
                self.sim.schedule(t, domid)
            if guestos.starved(d, g) and domid not in self.sim.memory_waiters:
                # Starved, yet not on the list the hypervisor's memory-freed
                # hook reads (state restored or damaged): it may have missed
                # memory being freed, so it tries again at its next retry tick.
                guestos.memory_freed(self, d, g, self.sim.now_ns)

    def _run_due(self) -> None:
        """React to everything due by now: the guests that have an event, then
        the toolstack's hooks; again while that sets off more at this instant."""
        while True:
            self._notice_xenstore()
            self._run_instant()
            self._notice_xenstore()
            t = self.sim.next_ns()
            if t is None or t > self.sim.now_ns:
                self._save_memory_waiters()
                return

    def _run_instant(self) -> None:
        now = self.sim.now_ns
        domains = self.hv.domains
        for domid in self.sim.pop_due():
            d = domains.get(domid)
            if d is not None:
                guestos.step(self, d, self.guest(domid), now)
        for hook in self.on_step:
            hook(self, now)

    def _notice_xenstore(self) -> None:
        """Match the XenStore changes made since the guests last looked, whoever
        made them (this command or another process), once against all watches,
        and wake each guest that has events, handing it them. The change log's
        head is read again only once this connection has written something."""
        changes = self.conn.total_changes
        if self.xs_head is None or self.xs_head[0] != changes:
            self.xs_head = (changes, xs_head(self.conn))
        head = self.xs_head[1]
        if head <= self._xs_seen:
            return
        events = self.xs().events_by_conn(self._xs_seen, head)
        domains = self.hv.domains
        woken = []
        for conn_id in events:
            if conn_id.startswith("dom") and conn_id[3:].isdigit():
                domid = int(conn_id[3:])
                if domid != 0 and domid in domains and conn_id == f"dom{domid}":
                    woken.append(domid)
        for domid in sorted(woken):
            guestos.xenstore_changed(self, domains[domid], self.guest(domid),
                                     events[f"dom{domid}"], head)
        self._xs_seen = head
        self.set_meta("xs_seen", str(head))

    # --- writing back ---

    def flush(self) -> None:
        if not self.writable:
            return
        if self._hv is not None:
            hv = self._hv
            self._run_due()  # e.g. a domain unpaused by this command boots
            hv.sched_sync()
            hv.stored_form()  # a steady pool's views at now are not written
            conn = self.conn
            for domid in hv.destroyed:
                conn.execute("DELETE FROM domains WHERE domid = ?", (domid,))
                conn.execute("DELETE FROM vcpus WHERE domid = ?", (domid,))
                conn.execute("DELETE FROM console WHERE domid = ?", (domid,))
                if domid not in hv.domains:
                    conn.execute("DELETE FROM xl_monitor WHERE domid = ?", (domid,))
            vcpu_rows, changed_vcpus = self._vcpu_rows, []
            for domid, d in hv.domains.loaded_items():  # the others did not change
                if domid in self._new_domains:
                    save_domain(conn, d, self._pending_config.get(domid), self._guests[domid])
                    continue
                data = domain_data(d)
                if data != self._domain_rows.get(domid):
                    conn.execute("UPDATE domains SET name = ?, data = ?, memkb = ? "
                                 "WHERE domid = ?", (d.name, data, d.tot_memkb, domid))
                    self._domain_rows[domid] = data
                for v in d.vcpus:  # only the rows whose bytes changed
                    data = vcpu_data(v)
                    if data != vcpu_rows.get((v.domid, v.vcpuid)):
                        changed_vcpus.append((data, v.domid, v.vcpuid))
                        vcpu_rows[v.domid, v.vcpuid] = data
            if changed_vcpus:
                conn.executemany("UPDATE vcpus SET data = ? WHERE domid = ? AND vcpuid = ?",
                                 changed_vcpus)
            for poolid, pool in hv.pools.items():
                data = pool_data(pool)
                if (pool.name, data) != self._pool_rows.get(poolid):
                    save_pool(conn, pool, data)
                    self._pool_rows[poolid] = (pool.name, data)
            for (poolid,) in conn.execute("SELECT poolid FROM cpupools").fetchall():
                if poolid not in hv.pools:  # destroyed by this command
                    conn.execute("DELETE FROM cpupools WHERE poolid = ?", (poolid,))
            conn.executemany(
                "INSERT INTO dmesg(t_ns, line) VALUES (?, ?)",
                [(hv.now_ns, line) for line in hv.console_ring])
            if str(hv.domid_rover) != self.meta["domid_rover"]:
                self.set_meta("domid_rover", str(hv.domid_rover))
            if hv.heap_free is not None:
                heap = json.dumps(hv.heap_free, separators=(",", ":"))
                if heap != self.meta.get("heap"):
                    self.set_meta("heap", heap)
        self._save_guests()
        self.conn.executemany(  # a key older databases lack is added
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, self.meta[k]) for k in self._meta_dirty])


@contextmanager
def open_host(name: str | None = None, *, write: bool, commit: bool = True) -> Iterator[Host]:
    """One command's transaction on a host, booting the host if it is new.

    A command that only reads runs in a read transaction and writes nothing,
    unless the clock is tied to the wall clock and something can happen
    between the last committed moment and now (`quiet_now`): then showing
    "now" means running the simulation up to now, in a write transaction.
    With commit=False it may run the simulation, but nothing is kept.
    """
    name = current_host_name(name)
    path = db_path(name)
    with host_lock(name, exclusive=False):
        if not db_exists(path):  # booted from its host.toml if it has one
            from pyxl.sim.boot import boot, default_boot_options, read_boot_file

            boot(name, read_boot_file(name) or default_boot_options(), must_be_new=False)
        db = Database.open(path, name, SCHEMA_VERSION, MIGRATIONS)
        try:
            if not write:
                with db.read():
                    host = Host(name, db, writable=False)
                    now = host.now_ns if host.clock == "manual" else \
                        quiet_now(db.conn, host.meta, host.wall_now)
                    if now is not None:
                        host.sim.now_ns = now
                        yield host
                        return
            with db.write(commit):
                host = Host(name, db, writable=True)
                host.sync()
                yield host
                host.flush()
        finally:
            db.close()


