"""Booting a simulated host: the analogue of powering on a machine running Xen.

`BootOptions` are Xen's boot parameters as pyxl offers them; `boot` builds the
host's database with Domain-0 running, Xen's boot log in the console ring and
XenStore holding what xenstored and xen-init-dom0 put there, and writes the
options to `host.toml` so that `host reset` can boot the same machine again.
`reboot` is that reset: a new database built beside the old and swapped in.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

from pyxl.errors import PyxlError, StateError
from pyxl.hv.hypervisor import PhysInfo
from pyxl.hv.model import CpuPool, Domain, Vcpu
from pyxl.hv.runstate import RUNNABLE
from pyxl.sim import guest as guestos
from pyxl.sim.rows import save_domain, save_pool
from pyxl.sim.schema import SCHEMA_VERSION, all_statements
from pyxl.state.db import Database, StateDamaged
from pyxl.state.paths import BOOT_NAME, db_path, host_path, printable

SCHEDULERS = ("credit", "credit2", "rtds", "sedf")
CLOCKS = ("realtime", "manual")
FLASK_MODES = ("enforcing", "permissive", "disabled")
PSR_FEATURES = ("cmt", "cat", "cdp", "mba")
DOM0_UUID = "00000000-0000-0000-0000-000000000000"
MAX_LINK_MBPS = 1_000_000  # 1 Tbit/s
# Manual-clock hosts start their calendar here, so lessons replay identically.
MANUAL_EPOCH = 1767225600  # 2026-01-01T00:00:00Z
MIB = 1024
# A default host's PCI devices, as `lspci -D` names them: two dual-port NICs
# and the chipset's SATA controller.
DEFAULT_PCI = (
    "0000:00:1f.2=SATA controller: Intel Corporation C610/X99 series chipset 6-Port SATA "
    "Controller [AHCI mode]",
    "0000:02:00.0=Ethernet controller: Intel Corporation I350 Gigabit Network Connection",
    "0000:02:00.1=Ethernet controller: Intel Corporation I350 Gigabit Network Connection",
    "0000:03:00.0=Ethernet controller: Intel Corporation 82599ES 10-Gigabit SFI/SFP+ "
    "Network Connection",
    "0000:03:00.1=Ethernet controller: Intel Corporation 82599ES 10-Gigabit SFI/SFP+ "
    "Network Connection",
)
# A default host's USB devices, as `lsusb` names them (bus:device=ID description);
# each bus also has its root hub at device 1.
DEFAULT_USB = (
    "001:002=0781:5567 SanDisk Corp. Cruzer Blade",
    "001:003=046d:c077 Logitech, Inc. M105 Optical Mouse",
    "002:002=8087:0024 Intel Corp. Integrated Rate Matching Hub",
    "002:003=0bda:8153 Realtek Semiconductor Corp. RTL8153 Gigabit Ethernet Adapter",
)


# What a host booted without --dom0-mem gets: a fixed 1 GiB, no more (with
# max:, as distributions' grub configs set it, so Domain-0 never balloons up).
DEFAULT_DOM0_MEM = "1024M,max:1024M"


# A plain class, not a dataclass: every command defines it at start-up,
# where a dataclass costs ~30 times more to define.
class BootOptions:
    """The analogue of Xen's boot parameters, fixed when the host boots."""

    def __init__(self, cpus: int = 8, nodes: int = 1, memory_mib: int = 16384,
                 dom0_mem: str = DEFAULT_DOM0_MEM,  # Xen's dom0_mem= (pyxl/sim/dom0mem.py)
                 sched: str = "credit", clock: str = "realtime",
                 pci: tuple = DEFAULT_PCI,  # "BDF=description" for each PCI device the machine has
                 usb: tuple = DEFAULT_USB,  # "BUS:DEV=description" for each USB device plugged in
                 # Xen's flask=: enforcing, permissive, or disabled (no XSM)
                 flask: str = "disabled",
                 psr: str = "",  # what Xen's psr= turns on: "" (none), or some of cmt,cat,cdp,mba
                 link_mbps: int = 1000):  # the network link migrations leave by, Mbit/s
        self.cpus = cpus
        self.nodes = nodes
        self.memory_mib = memory_mib
        self.dom0_mem = dom0_mem
        self.sched = sched
        self.clock = clock
        self.pci = pci
        self.usb = usb
        self.flask = flask
        self.psr = psr
        self.link_mbps = link_mbps

    def validate(self, full: bool = True) -> "BootOptions":
        """Refuse a machine Xen could not run on: 1-512 CPUs, at most 64 NUMA
        nodes (NR_NUMA_NODES), at most 16 TiB (x86 without CONFIG_BIGMEM).
        ``full=False`` (options read back from a booted host) leaves what only
        booting and a few commands read, dom0_mem and the PCI and USB lists,
        to those users (dom0_kb, pci_devices, usb_devices)."""
        max_nodes, max_memory_mib = 64, 16 << 20
        if not 1 <= self.cpus <= 512:
            raise PyxlError(f"invalid --cpus {self.cpus}: must be from 1 to 512")
        if not 1 <= self.nodes <= max_nodes or self.cpus % self.nodes:
            raise PyxlError(f"invalid --nodes {self.nodes}: the {self.cpus} CPUs must split "
                            f"evenly over 1 to {max_nodes} NUMA nodes")
        if self.sched not in SCHEDULERS:
            raise PyxlError(f"unknown scheduler '{self.sched}': use one of {', '.join(SCHEDULERS)}")
        if self.clock not in CLOCKS:
            raise PyxlError(f"unknown clock '{self.clock}': use realtime or manual")
        if self.flask not in FLASK_MODES:
            raise PyxlError(f"unknown flask mode '{printable(self.flask)}': use enforcing, "
                            "permissive or disabled")
        if any(f not in PSR_FEATURES for f in psr_features(self)):
            raise PyxlError(f"invalid --psr '{printable(self.psr)}': use some of "
                            f"{','.join(PSR_FEATURES)}, comma-separated")
        if not 1 <= self.link_mbps <= MAX_LINK_MBPS:
            raise PyxlError(f"invalid --link {self.link_mbps}: from 1 to {MAX_LINK_MBPS} "
                            "Mbit/s")
        if not 64 <= self.memory_mib <= max_memory_mib:
            raise PyxlError(f"invalid --memory {self.memory_mib}: from 64 to "
                            f"{max_memory_mib} MiB (16 TiB, what Xen on x86 can manage)")
        if not full:
            return self
        from pyxl.sim.dom0mem import Dom0MemError

        try:
            mib = self.dom0_kb()[0] // 1024
        except Dom0MemError:
            raise PyxlError(f"invalid --dom0-mem '{printable(self.dom0_mem)}': use Xen's "
                            "dom0_mem syntax, [min:AMT,][max:AMT,][AMT] with AMT like 1024M, "
                            "10%, 1G+10% or -512M") from None
        if not 32 <= mib <= self.memory_mib - 16:
            raise PyxlError(f"invalid --dom0-mem '{printable(self.dom0_mem)}': it gives "
                            f"Domain-0 {mib} MiB; from 32 to {self.memory_mib - 16} MiB")
        pci_devices(self)
        usb_devices(self)
        return self

    def dom0_kb(self) -> tuple[int, int]:
        """(Domain-0's memory, its limit) in KiB, as Xen's dom0_mem= gives them;
        no max: gives Xen's largest limit (max_pages, an unsigned int, full)."""
        from pyxl.sim.dom0mem import PAGE_KB, dom0_pages

        nr, max_pages = dom0_pages(self.dom0_mem, self.memory_mib * MIB)
        return nr * PAGE_KB, max_pages * PAGE_KB

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
        extra = "" if self.flask == "disabled" else f" flask={self.flask}"
        if self.psr:
            extra += " psr=" + ",".join(f"{f}:1" for f in psr_features(self))
        return (f"placeholder dom0_mem={self.dom0_mem} "
                f"dom0_max_vcpus={self.cpus} sched={self.sched} console=com1,vga{extra}")


def psr_features(opts: BootOptions) -> list[str]:
    """The PSR features the host's CPUs offer (Xen's psr= turns each on)."""
    return [f for f in opts.psr.split(",") if f] if isinstance(opts.psr, str) else [""]


def pci_devices(opts: BootOptions) -> dict[str, str]:
    """The machine's PCI devices, BDF -> description; PyxlError naming a bad
    entry (a BDF must be written as lspci -D writes it)."""
    import re

    devices: dict[str, str] = {}
    for entry in opts.pci:
        bdf, sep, desc = entry.partition("=") if isinstance(entry, str) else ("", "", "")
        if (not sep or not re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]", bdf)
                or not desc.isprintable() or not desc.strip() or bdf in devices):
            raise PyxlError(f"invalid pci device '{printable(str(entry))}': "
                            "use 'DDDD:BB:DD.F=description', each BDF once")
        devices[bdf] = desc
    return devices


def usb_devices(opts: BootOptions) -> dict[tuple[int, int], str]:
    """The machine's USB devices, (bus, device) -> description; PyxlError
    naming a bad entry (device 1 of each bus is its root hub)."""
    import re

    devices: dict[tuple[int, int], str] = {}
    for entry in opts.usb:
        spec, sep, desc = entry.partition("=") if isinstance(entry, str) else ("", "", "")
        m = re.fullmatch(r"(\d{3}):(\d{3})", spec)
        key = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        if (not sep or not 1 <= key[0] <= 127 or not 2 <= key[1] <= 127
                or not desc.isprintable() or not desc.strip() or key in devices):
            raise PyxlError(f"invalid usb device '{printable(str(entry))}': "
                            "use 'BBB:DDD=description', bus 1-127, device 2-127, each once")
        devices[key] = desc
    return devices


def boot_options(table: object, full: bool = True) -> BootOptions:
    """BootOptions from a stored table (host.toml, the database's meta);
    ValueError saying what is wrong with it."""
    if not isinstance(table, dict):
        raise ValueError("no boot options")
    if "dom0_mem_mib" in table and "dom0_mem" not in table:   # before dom0_mem= syntax
        mib = table["dom0_mem_mib"]
        table = {k: v for k, v in table.items() if k != "dom0_mem_mib"}
        table["dom0_mem"] = f"{mib}M,max:{mib}M" if type(mib) is int else mib
    known = {k: type(v) for k, v in BootOptions().__dict__.items()}  # each option's type
    for key in ("pci", "usb"):
        if isinstance(table.get(key), list):
            table = {**table, key: tuple(table[key])}
    for key, value in table.items():
        if key not in known:
            raise ValueError(f"unknown boot option '{key}'")
        if type(value) is not known[key]:
            raise ValueError(f"boot option '{key}' must be {known[key].__name__}")
    try:
        return BootOptions(**table).validate(full)
    except PyxlError as e:
        raise ValueError(e.message) from None


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


def reboot(name: str, opts: BootOptions) -> None:
    """Power-cycle: a freshly booted database replaces the host's, in one
    rename. The caller holds the host's lock alone."""
    opts.validate()
    wall = time.time()

    def init(conn: sqlite3.Connection) -> None:
        _init_host(conn, opts, wall)

    Database.replace(db_path(name), name, all_statements(), SCHEMA_VERSION, init)
    _write_boot_file(name, opts)


def _write_boot_file(name: str, opts: BootOptions) -> None:
    """The boot options, readable by people and by `host reset` even when the
    database is beyond reading."""
    import tomli_w

    path = host_path(name, BOOT_NAME)
    tmp = host_path(name, f".{BOOT_NAME}.{os.getpid()}.tmp")
    text = ("# pyxl host: its boot options, which `pyxl host reset` reuses\n"
            + tomli_w.dumps({"boot": dict(opts.__dict__)}))
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise StateError(f"pyxl: cannot write {path}: {e.strerror or e}") from None


def read_boot_file(name: str) -> BootOptions | None:
    """The boot options in the host's host.toml; None if it has none."""
    import tomllib

    path = host_path(name, BOOT_NAME)
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
        return boot_options(table.get("boot"))
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateError(f"pyxl: cannot read {path}: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:  # TOMLDecodeError is a ValueError
        raise StateError(f"pyxl: {path}: {printable(str(e))}") from None


def meta_boot_options(text: object) -> BootOptions:
    """The boot options kept in the database's meta table."""
    try:
        return boot_options(json.loads(text), full=False)  # checked at boot
    except (TypeError, ValueError, RecursionError) as e:
        raise StateDamaged(f"boot options in meta: {e}") from None


def _init_host(conn: sqlite3.Connection, opts: BootOptions, wall: float) -> None:
    from pyxl.hv import sched
    from pyxl.xenstore.store import XenStore

    epoch = MANUAL_EPOCH if opts.clock == "manual" else int(wall)
    meta = {
        "boot": json.dumps(opts.__dict__),
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
    dom0_kb, dom0_max_kb = opts.dom0_kb()
    dom0 = Domain(domid=0, name="Domain-0", uuid=DOM0_UUID, type="pv",
                  max_memkb=dom0_max_kb, tot_memkb=dom0_kb,
                  sched_params=sched.default_domain_params(opts.sched))
    vparams = sched.default_vcpu_params(opts.sched)
    dom0.vcpus = [Vcpu(domid=0, vcpuid=i, cpu=i, runstate=RUNNABLE, workload="idle",
                       sched_params=dict(vparams))
                  for i in range(phys.nr_cpus)]
    save_domain(conn, dom0, config=None, guest=guestos.GuestState(phase="up"))
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
        f"(XEN)  Dom0 alloc.:   {opts.dom0_kb()[0]}kB",
        "(XEN) Initial low memory virq threshold set at 0x4000 pages.",
        "(XEN) *** Serial input to DOM0 (type 'CTRL-a' three times to switch input)",
        "(XEN) Freed 656kB init memory",
    ]
