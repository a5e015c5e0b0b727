"""Booting a simulated host: the analogue of powering on a machine running Xen.

`BootOptions` are Xen's boot parameters as pyxl offers them; `boot` builds the
host's database with Domain-0 running, Xen's boot log in the console ring and
XenStore holding what xenstored and xen-init-dom0 put there, and writes the
options to `host.toml` so that `host reset` can boot the same machine again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass

from pyxl.errors import PyxlError
from pyxl.hv.hypervisor import PhysInfo
from pyxl.hv.model import RUNNABLE, CpuPool, Domain, Vcpu
from pyxl.sim import guest as guestos
from pyxl.sim.rows import save_domain, save_pool
from pyxl.sim.schema import SCHEMA_VERSION, all_statements
from pyxl.state.db import Database
from pyxl.state.paths import db_path, host_dir

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
    save_pool(conn, pool)
    dom0 = Domain(domid=0, name="Domain-0", uuid=DOM0_UUID, type="pv",
                  max_memkb=opts.dom0_mem_mib * MIB, tot_memkb=opts.dom0_mem_mib * MIB,
                  sched_params=sched.default_domain_params(opts.sched))
    vparams = sched.default_vcpu_params(opts.sched)
    dom0.vcpus = [Vcpu(domid=0, vcpuid=i, cpu=i, runstate=RUNNABLE, workload="idle",
                       sched_params=dict(vparams))
                  for i in range(phys.nr_cpus)]
    save_domain(conn, dom0, config=None, guest={"phase": "up"})
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
