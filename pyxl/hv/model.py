"""The hypervisor's view of domains, vCPUs and cpupools, as plain data.

These are what Xen keeps in `struct domain`, `struct vcpu` and `struct cpupool`,
reduced to what the simulation needs. They are loaded from the host database at
the start of a command and written back at its end (pyxl/state); the code in
pyxl/hv changes them in between. Times are simulated nanoseconds.
"""

from __future__ import annotations

from pyxl.hv.runstate import RUNNABLE, RUNNING, RUNSTATES

# Shutdown reasons (SHUTDOWN_* in xen/include/public/sched.h).
SHUTDOWN_POWEROFF = 0
SHUTDOWN_REBOOT = 1
SHUTDOWN_SUSPEND = 2
SHUTDOWN_CRASH = 3
SHUTDOWN_WATCHDOG = 4
SHUTDOWN_SOFT_RESET = 5

DOMID_FIRST_RESERVED = 0x7FF0

# The most vCPUs Xen gives a domain (x86 arch_sanitise_domain_config):
# HVM_MAX_VCPUS for HVM and PVH, MAX_VIRT_CPUS (the per-domain GDT/LDT area's
# room) for PV.
HVM_MAX_VCPUS = 128
MAX_VIRT_CPUS = 8192
MAX_VCPUS = {"hvm": HVM_MAX_VCPUS, "pvh": HVM_MAX_VCPUS, "pv": MAX_VIRT_CPUS}
# struct domain's max_pages is an unsigned int: its largest value, in KiB.
MAX_PAGES_KB = ((1 << 32) - 1) * 4
# Domain fields a row holds only while they are non-empty, so that a domain
# without channels or grants costs nothing more to store and load.
SPARSE_FIELDS = frozenset({"evtchn", "evtchn_upcall", "gnttab", "max_evtchn_port", "p2m",
                           "page_types", "build"})


# Plain classes, not dataclasses: every command defines them at start-up,
# where a dataclass costs ~30 times more to define.
class Vcpu:
    """One virtual CPU.

    `workload` is the pyxl spec string of what the guest runs on it ("idle",
    "busy", "periodic:5ms/20ms", "bursty"); `wl_state` and `sched_state` are
    JSON-serialisable dicts owned by the workload model and by the pool's
    scheduler; `sched_params` holds per-vCPU parameters (RTDS period/budget).
    """

    def __init__(self, domid: int, vcpuid: int, online: bool = True,
                 runstate: str = RUNNABLE, cpu: int = 0,
                 hard_affinity: list[int] | None = None,  # None: every pCPU
                 soft_affinity: list[int] | None = None,
                 time: dict[str, int] | None = None,  # None: a fresh one, all zero
                 workload: str = "idle", wl_state: dict | None = None,
                 sched_state: dict | None = None, sched_params: dict | None = None):
        self.domid = domid
        self.vcpuid = vcpuid
        self.online = online
        self.runstate = runstate
        self.cpu = cpu
        self.hard_affinity = hard_affinity
        self.soft_affinity = soft_affinity
        self.time = {s: 0 for s in RUNSTATES} if time is None else time
        self.workload = workload
        self.wl_state = {} if wl_state is None else wl_state
        self.sched_state = {} if sched_state is None else sched_state
        self.sched_params = {} if sched_params is None else sched_params

    @property
    def cpu_time(self) -> int:
        """Time spent running, in ns (what getvcpuinfo reports as cpu_time)."""
        return self.time[RUNNING]


class Domain:
    """One domain, as `struct domain` and getdomaininfo describe it."""

    def __init__(self, domid: int, name: str, uuid: str,
                 type: str = "pv",  # pv | hvm | pvh
                 vcpus: list[Vcpu] | None = None,
                 poolid: int = 0, pause_count: int = 0, shutdown: bool = False,
                 shutdown_reason: int | None = None, dying: bool = False,
                 max_memkb: int = 0,  # Xen's max_pages, in KiB
                 tot_memkb: int = 0,  # pages currently allocated, in KiB
                 sched_params: dict | None = None, created_ns: int = 0, ssidref: int = 0,
                 # HVM_PARAM_* values the guest has set (HVMOP_set_param), by name.
                 hvm_params: dict[str, int] | None = None,
                 # Event channels and grant table in use (pyxl/hv/evtchn.py, gnttab.py);
                 # stored only while non-empty (SPARSE_FIELDS).
                 evtchn: dict[str, list] | None = None,
                 evtchn_upcall: dict[str, list] | None = None,
                 gnttab: dict | None = None,
                 # Machine frames (pyxl/hv/mm.py), stored only while non-empty: the P2M
                 # as [pfn, mfn, count] runs and the frames typed other than writable.
                 p2m: list[list[int]] | None = None,
                 page_types: list[list[int]] | None = None,
                 # What the PV domain builder laid out ({"nr_pages", "ramdisk"}): the
                 # layout and start_info follow from it (pyxl/toolstack/pvbuild.py).
                 build: dict | None = None,
                 # createdomain's max_evtchn_port (xl.cfg max_event_channels); None: libxl's 1023
                 max_evtchn_port: int | None = None):
        # (None for a list or dict: a fresh empty one)
        self.domid = domid
        self.name = name
        self.uuid = uuid
        self.type = type
        self.vcpus = [] if vcpus is None else vcpus
        self.poolid = poolid
        self.pause_count = pause_count
        self.shutdown = shutdown
        self.shutdown_reason = shutdown_reason
        self.dying = dying
        self.max_memkb = max_memkb
        self.tot_memkb = tot_memkb
        self.sched_params = {} if sched_params is None else sched_params
        self.created_ns = created_ns
        self.ssidref = ssidref
        self.hvm_params = {} if hvm_params is None else hvm_params
        self.evtchn = {} if evtchn is None else evtchn
        self.evtchn_upcall = {} if evtchn_upcall is None else evtchn_upcall
        self.gnttab = {} if gnttab is None else gnttab
        self.p2m = [] if p2m is None else p2m
        self.page_types = [] if page_types is None else page_types
        self.build = {} if build is None else build
        self.max_evtchn_port = max_evtchn_port

    @property
    def paused(self) -> bool:
        return self.pause_count > 0

    @property
    def can_run(self) -> bool:
        """Whether the scheduler may run its vCPUs at all."""
        return not (self.paused or self.shutdown or self.dying)

    @property
    def cpu_time(self) -> int:
        return sum(v.cpu_time for v in self.vcpus)

    @property
    def online_vcpus(self) -> int:
        return sum(1 for v in self.vcpus if v.online)


class CpuPool:
    """A cpupool: a set of pCPUs with one scheduler instance.

    `params` holds the pool-wide scheduler parameters (credit: tslice_ms,
    ratelimit_us, migration_delay_us; credit2: ratelimit_us); `sched_state`
    is private to the scheduler (timers, accounting phase, runqueues).
    """

    def __init__(self, poolid: int, name: str, sched: str, cpus: list[int] | None = None,
                 params: dict | None = None, sched_state: dict | None = None):
        self.poolid = poolid
        self.name = name
        self.sched = sched
        self.cpus = [] if cpus is None else cpus
        self.params = {} if params is None else params
        self.sched_state = {} if sched_state is None else sched_state
