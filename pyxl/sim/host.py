"""A simulated physical host: boot, clock, and one command's view of it.

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
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from pyxl.errors import PyxlError
from pyxl.hv.hypervisor import Hypervisor, PhysInfo
from pyxl.hv.model import RUNNABLE, CpuPool, Domain, Vcpu
from pyxl.sim import guest as guestos
from pyxl.sim.schema import MIGRATIONS, SCHEMA_VERSION, all_statements
from pyxl.state.db import Database
from pyxl.state.paths import DEFAULT_HOST, db_path, host_dir

SCHEDULERS = ("credit", "credit2", "rtds", "sedf")
CLOCKS = ("realtime", "manual")
DOM0_UUID = "00000000-0000-0000-0000-000000000000"
# Manual-clock hosts start their calendar here, so lessons replay identically.
MANUAL_EPOCH = 1767225600  # 2026-01-01T00:00:00Z
MIB = 1024


@dataclass(frozen=True)
class BootOptions:
    """The analogue of Xen's boot parameters, fixed when the host boots."""

    cpus: int = 8
    nodes: int = 1
    memory_mib: int = 16384
    dom0_mem_mib: int = 1024
    sched: str = "credit"
    clock: str = "realtime"

    def validate(self) -> "BootOptions":
        if not 1 <= self.cpus <= 512:
            raise PyxlError(f"invalid --cpus {self.cpus}: must be from 1 to 512")
        if self.nodes < 1 or self.cpus % self.nodes:
            raise PyxlError(f"invalid --nodes {self.nodes}: the {self.cpus} CPUs must split "
                            "evenly over the NUMA nodes")
        if self.sched not in SCHEDULERS:
            raise PyxlError(f"unknown scheduler '{self.sched}': use one of {', '.join(SCHEDULERS)}")
        if self.clock not in CLOCKS:
            raise PyxlError(f"unknown clock '{self.clock}': use realtime or manual")
        if self.memory_mib < 64:
            raise PyxlError(f"invalid --memory {self.memory_mib}: at least 64 MiB")
        if not 32 <= self.dom0_mem_mib <= self.memory_mib - 16:
            raise PyxlError(
                f"invalid --dom0-mem {self.dom0_mem_mib}: from 32 to {self.memory_mib - 16} MiB"
            )
        return self

    def physinfo(self) -> PhysInfo:
        """One socket per NUMA node, two threads per core when the count allows."""
        per_node = self.cpus // self.nodes
        threads = 2 if per_node % 2 == 0 else 1
        return PhysInfo(
            nr_cpus=self.cpus, threads_per_core=threads,
            cores_per_socket=per_node // threads, nr_nodes=self.nodes, cpu_khz=2893202,
            total_kb=self.memory_mib * MIB,
        )

    def xen_cmdline(self) -> str:
        return (f"placeholder dom0_mem={self.dom0_mem_mib}M,max:{self.dom0_mem_mib}M "
                f"dom0_max_vcpus={self.cpus} sched={self.sched} console=com1,vga")


def default_boot_options() -> BootOptions:
    clock = os.environ.get("PYXL_CLOCK", "realtime")
    return BootOptions(clock=clock)


def current_host_name(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PYXL_HOST") or DEFAULT_HOST


# --- booting ---------------------------------------------------------------


def boot(name: str, opts: BootOptions, *, must_be_new: bool = True) -> bool:
    """Create the host's database with Domain-0 running; False if it existed."""
    opts.validate()
    path = db_path(name)
    if path.exists():
        if must_be_new:
            raise PyxlError(f"host '{name}' is already booted; use 'pyxl --host {name} host reset'")
        return False
    wall = time.time()

    def init(conn: sqlite3.Connection) -> None:
        _init_host(conn, opts, wall)

    created = Database.create(path, name, all_statements(), SCHEMA_VERSION, init)
    if not created and must_be_new:
        raise PyxlError(f"host '{name}' is already booted")
    if created:
        _write_boot_file(name, opts)
    return created


BOOT_FILE = "host.toml"


def _write_boot_file(name: str, opts: BootOptions) -> None:
    """The boot options, readable by people and by `host reset` even when the
    database is beyond reading."""
    import tomli_w

    path = host_dir(name) / BOOT_FILE
    tmp = path.with_name(f".{BOOT_FILE}.{os.getpid()}.tmp")
    tmp.write_text("# pyxl host: its boot options, which `pyxl host reset` reuses\n"
                   + tomli_w.dumps({"boot": asdict(opts)}))
    os.replace(tmp, path)


def read_boot_file(name: str) -> BootOptions | None:
    import tomllib

    try:
        with open(host_dir(name) / BOOT_FILE, "rb") as f:
            return BootOptions(**tomllib.load(f)["boot"])
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return None


def _init_host(conn: sqlite3.Connection, opts: BootOptions, wall: float) -> None:
    from pyxl.hv import sched
    from pyxl.xenstore.store import XenStore

    epoch = MANUAL_EPOCH if opts.clock == "manual" else int(wall)
    meta = {
        "boot": json.dumps(asdict(opts)),
        "now_ns": "0",
        "wall_anchor": repr(wall),
        "epoch": str(epoch),
        "domid_rover": "0",
        "seed": "0",
        "uuid_seq": "0",
    }
    conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
    phys = opts.physinfo()
    pool = CpuPool(poolid=0, name="Pool-0", sched=opts.sched, cpus=list(range(opts.cpus)),
                   params=sched.default_pool_params(opts.sched))
    _save_pool(conn, pool)
    dom0 = Domain(domid=0, name="Domain-0", uuid=DOM0_UUID, type="pv",
                  max_memkb=opts.dom0_mem_mib * MIB, tot_memkb=opts.dom0_mem_mib * MIB,
                  sched_params=sched.default_domain_params(opts.sched))
    vparams = sched.default_vcpu_params(opts.sched)
    dom0.vcpus = [Vcpu(domid=0, vcpuid=i, cpu=i, runstate=RUNNABLE, workload="idle",
                       sched_params=dict(vparams))
                  for i in range(phys.nr_cpus)]
    _save_domain(conn, dom0, config=None, guest={"phase": "up"})
    conn.executemany(
        "INSERT INTO dmesg(seq, t_ns, line) VALUES (?, 0, ?)",
        enumerate(_xen_boot_log(opts, phys)),
    )
    XenStore.boot(conn)
    xs = XenStore(conn)
    for path, value in (
        ("/local/domain/0/domid", "0"),
        ("/local/domain/0/name", "Domain-0"),
        ("/local/pool/0/name", "Pool-0"),
    ):
        xs.write(path, value.encode())
    guestos.dom0_xenbus_up(xs)


SCHED_BANNER = {
    "credit": "SMP Credit Scheduler (credit)",
    "credit2": "SMP Credit Scheduler rev2 (credit2)",
    "rtds": "SMP RTDS Scheduler (rtds)",
    "sedf": "Simple EDF Scheduler (sedf)",
}


def _xen_boot_log(opts: BootOptions, phys: PhysInfo) -> list[str]:
    return [
        " __  __            _  _    ____  _____                      _        _     _      ",
        " \\ \\/ /___ _ __   | || |  |___ \\|___ /    _   _ _ __  ___| |_ __ _| |__ | | ___ ",
        "  \\  // _ \\ '_ \\  | || |_   __) | |_ \\ __| | | | '_ \\/ __| __/ _` | '_ \\| |/ _ \\",
        "  /  \\  __/ | | | |__   _| / __/ ___) |__| |_| | | | \\__ \\ || (_| | |_) | |  __/",
        " /_/\\_\\___|_| |_|    |_|(_)_____|____/    \\__,_|_| |_|___/\\__\\__,_|_.__/|_|\\___|",
        "(XEN) Xen version 4.23-unstable (pyxl@sim) (gcc (Debian 12.2.0-14) 12.2.0) debug=n",
        f"(XEN) Command line: {opts.xen_cmdline()}",
        f"(XEN) System RAM: {opts.memory_mib}MB ({opts.memory_mib * MIB}kB)",
        f"(XEN) Using scheduler: {SCHED_BANNER[opts.sched]}",
        f"(XEN) Brought up {phys.nr_cpus} CPUs",
        f"(XEN) Dom0 has maximum {phys.nr_cpus} VCPUs",
        "(XEN) *** LOADING DOMAIN 0 ***",
        f"(XEN)  Dom0 alloc.:   {opts.dom0_mem_mib * MIB}kB",
        "(XEN) Initial low memory virq threshold set at 0x4000 pages.",
        "(XEN) *** Serial input to DOM0 (type 'CTRL-a' three times to switch input)",
        "(XEN) Freed 656kB init memory",
    ]


# --- rows <-> model ----------------------------------------------------------


def _save_pool(conn: sqlite3.Connection, pool: CpuPool) -> None:
    data = {"sched": pool.sched, "cpus": pool.cpus, "params": pool.params,
            "sched_state": pool.sched_state}
    conn.execute("INSERT OR REPLACE INTO cpupools(poolid, name, data) VALUES (?, ?, ?)",
                 (pool.poolid, pool.name, json.dumps(data)))


def _domain_data(d: Domain) -> str:
    data = {k: v for k, v in d.__dict__.items() if k != "vcpus"}
    return json.dumps(data)


def _save_domain(conn: sqlite3.Connection, d: Domain, config: dict | None = None,
                 guest: dict | None = None) -> None:
    conn.execute(
        "INSERT INTO domains(domid, name, data, config, guest) VALUES (?, ?, ?, ?, ?)",
        (d.domid, d.name, _domain_data(d), json.dumps(config) if config is not None else None,
         json.dumps(guest or {})),
    )
    _save_vcpus(conn, d)


def _save_vcpus(conn: sqlite3.Connection, d: Domain) -> None:
    conn.execute("DELETE FROM vcpus WHERE domid = ?", (d.domid,))
    conn.executemany(
        "INSERT INTO vcpus(domid, vcpuid, data) VALUES (?, ?, ?)",
        [(v.domid, v.vcpuid, json.dumps(v.__dict__)) for v in d.vcpus],
    )


# --- one command's view of the host ------------------------------------------


class Host:
    """One command's handle on a host: its meta, hypervisor, XenStore, guests."""

    def __init__(self, name: str, db: Database, writable: bool):
        self.name = name
        self.db = db
        self.conn = db.conn
        self.writable = writable
        self.meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        self.boot = BootOptions(**json.loads(self.meta["boot"]))
        self.physinfo = self.boot.physinfo()
        self._hv: Hypervisor | None = None
        self._guests: dict[int, dict] = {}
        self._dirty_guests: set[int] = set()
        self._new_domains: set[int] = set()
        self._pending_config: dict[int, dict] = {}
        self._meta_dirty: set[str] = set()
        # Called after the guests at each simulation step: the toolstack's
        # monitor (xl's background process) hooks in here to act on shutdowns.
        self.on_step: list = []
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
        vcpus: dict[int, list[Vcpu]] = {}
        for domid, data in self.conn.execute(
                "SELECT domid, data FROM vcpus ORDER BY domid, vcpuid"):
            vcpus.setdefault(domid, []).append(Vcpu(**json.loads(data)))
        domains = {}
        for domid, data in self.conn.execute("SELECT domid, data FROM domains"):
            d = Domain(**json.loads(data))
            d.vcpus = vcpus.get(domid, [])
            domains[domid] = d
        pools = {}
        for poolid, name, data in self.conn.execute("SELECT poolid, name, data FROM cpupools"):
            fields = json.loads(data)
            pools[poolid] = CpuPool(poolid=poolid, name=name, **fields)
        return Hypervisor(self.physinfo, domains, pools, now_ns=int(self.meta["now_ns"]),
                          domid_rover=int(self.meta["domid_rover"]),
                          seed=int(self.meta["seed"]))

    def xs(self, caller: int = 0):
        from pyxl.xenstore.store import XenStore

        return XenStore(self.conn, caller=caller, domain_exists=self.domain_exists,
                        now_ns=self.now_ns)

    def domain_exists(self, domid: int) -> bool:
        if self._hv is not None:
            return domid in self._hv.domains
        return self.conn.execute("SELECT 1 FROM domains WHERE domid = ?", (domid,)).fetchone() is not None

    def guest(self, domid: int) -> dict:
        if domid not in self._guests:
            row = self.conn.execute("SELECT guest FROM domains WHERE domid = ?", (domid,)).fetchone()
            self._guests[domid] = json.loads(row[0]) if row else {}
        return self._guests[domid]

    def set_guest(self, domid: int, state: dict) -> None:
        self._guests[domid] = state
        self._dirty_guests.add(domid)

    def config(self, domid: int) -> dict | None:
        """The domain's stored xl config (also for one built earlier in this command)."""
        if domid in self._pending_config:
            return self._pending_config[domid]
        row = self.conn.execute("SELECT config FROM domains WHERE domid = ?", (domid,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def set_config(self, domid: int, config: dict) -> None:
        self.conn.execute("UPDATE domains SET config = ? WHERE domid = ?",
                          (json.dumps(config), domid))

    def add_domain(self, d: Domain, config: dict, guest: dict) -> None:
        """Record a domain the toolstack has just built."""
        self._new_domains.add(d.domid)
        self._guests[d.domid] = guest
        self._pending_config[d.domid] = config

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
        """Run hypervisor and guests forward to simulated time `t_ns`."""
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
        for domid, d in self.hv.domains.items():
            nxt = guestos.next_event_ns(self, d, self.guest(domid))
            if nxt is not None:
                t = min(t, nxt)
        return max(t, self.hv.now_ns + 1)

    def _guest_events(self, now: int) -> None:
        """Let every guest react to what has happened by `now`, then the toolstack."""
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
                    _save_domain(conn, d, self._pending_config.get(domid),
                                 self._guests.get(domid))
                    continue
                conn.execute("UPDATE domains SET name = ?, data = ? WHERE domid = ?",
                             (d.name, _domain_data(d), domid))
                conn.executemany(
                    "UPDATE vcpus SET data = ? WHERE domid = ? AND vcpuid = ?",
                    [(json.dumps(v.__dict__), v.domid, v.vcpuid) for v in d.vcpus])
            for pool in hv.pools.values():
                _save_pool(conn, pool)
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
    if not path.exists():
        boot(name, default_boot_options(), must_be_new=False)
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


def _clock_of(db: Database) -> str:
    with db.read() as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'boot'").fetchone()
    return json.loads(row[0])["clock"]
