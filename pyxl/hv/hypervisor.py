"""The simulated hypervisor: the operations libxl asks Xen to perform.

Each public method stands for one hypercall or domctl/sysctl, named after it,
so that a student reading a trace sees what `xl create` really asks of Xen.
The state it acts on (domains, vCPUs, cpupools) is plain data from
pyxl/hv/model.py; nothing here prints, reads the wall clock or touches disk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyxl.hv.model import (
    BLOCKED,
    DOMID_FIRST_RESERVED,
    OFFLINE,
    RUNNING,
    CpuPool,
    Domain,
    Vcpu,
)


class HypercallError(Exception):
    """A hypercall failed; `errno` is the name Xen's error would have (ENOMEM...)."""

    STRERROR = {
        "ESRCH": "No such process",
        "EINVAL": "Invalid argument",
        "ENOMEM": "Cannot allocate memory",
        "EEXIST": "File exists",
        "EBUSY": "Device or resource busy",
        "EPERM": "Operation not permitted",
        "EACCES": "Permission denied",
        "ENOSPC": "No space left on device",
    }

    def __init__(self, errno: str, op: str = ""):
        super().__init__(f"{op}: {errno}")
        self.errno = errno
        self.op = op

    @property
    def strerror(self) -> str:
        return self.STRERROR.get(self.errno, self.errno)


@dataclass(frozen=True)
class PhysInfo:
    """What XEN_SYSCTL_physinfo reports about the machine."""

    nr_cpus: int
    threads_per_core: int
    cores_per_socket: int
    nr_nodes: int
    cpu_khz: int
    total_kb: int

    @property
    def max_cpu_id(self) -> int:
        return self.nr_cpus - 1


@dataclass(frozen=True)
class DomainInfo:
    """XEN_DOMCTL_getdomaininfo's answer, the way libxl_dominfo carries it."""

    domid: int
    uuid: str
    running: bool
    blocked: bool
    paused: bool
    shutdown: bool
    shutdown_reason: int | None
    dying: bool
    current_memkb: int
    max_memkb: int
    cpu_time_ns: int
    vcpu_max_id: int
    vcpu_online: int
    cpupool: int
    ssidref: int


class Hypervisor:
    """Xen, as far as the toolstack can see it, over the loaded host state."""

    def __init__(self, physinfo: PhysInfo, domains: dict[int, Domain],
                 pools: dict[int, CpuPool], now_ns: int, domid_rover: int,
                 seed: int = 0, trace: Callable[[str, dict], None] | None = None):
        self.physinfo = physinfo
        self.domains = domains
        self.pools = pools
        self.now_ns = now_ns
        self.domid_rover = domid_rover
        self.seed = seed
        self.console_ring: list[str] = []  # lines logged during this command
        self.destroyed: set[int] = set()
        self._trace = trace

    # --- bookkeeping -----------------------------------------------------

    def trace(self, op: str, **args) -> None:
        if self._trace is not None:
            self._trace(op, args)

    def log(self, line: str) -> None:
        """Append a line to Xen's console ring (what `xl dmesg` reads)."""
        self.console_ring.append(f"(XEN) {line}")

    def domain(self, domid: int) -> Domain:
        d = self.domains.get(domid)
        if d is None:
            raise HypercallError("ESRCH")
        return d

    # --- sysctls --------------------------------------------------------

    def sysctl_physinfo(self) -> PhysInfo:
        return self.physinfo

    def free_kb(self) -> int:
        used = sum(d.tot_memkb for d in self.domains.values())
        return self.physinfo.total_kb - used

    # --- domctls --------------------------------------------------------

    def domctl_createdomain(self, uuid: str, name: str, type: str, poolid: int = 0,
                            domid: int | None = None, ssidref: int = 0) -> Domain:
        """Create an empty, paused domain; pick a domid as Xen's rover does."""
        if domid is None:
            domid = self._next_free_domid()
        elif domid in self.domains or not 0 < domid < DOMID_FIRST_RESERVED:
            raise HypercallError("EEXIST" if domid in self.domains else "EINVAL",
                                 "XEN_DOMCTL_createdomain")
        if poolid not in self.pools:
            raise HypercallError("ESRCH", "XEN_DOMCTL_createdomain")
        d = Domain(domid=domid, name=name, uuid=uuid, type=type, poolid=poolid,
                   pause_count=1, created_ns=self.now_ns, ssidref=ssidref)
        self.domains[domid] = d
        self.trace("XEN_DOMCTL_createdomain", domid=domid, uuid=uuid, type=type)
        return d

    def _next_free_domid(self) -> int:
        # Xen's domid rover moves forward and wraps, so a destroyed domain's id
        # is not reused until the rover comes round again.
        for _ in range(DOMID_FIRST_RESERVED):
            self.domid_rover += 1
            if self.domid_rover >= DOMID_FIRST_RESERVED:
                self.domid_rover = 1
            if self.domid_rover not in self.domains:
                return self.domid_rover
        raise HypercallError("ENOMEM", "XEN_DOMCTL_createdomain")

    def domctl_max_vcpus(self, domid: int, max_vcpus: int, online: int,
                         params: dict, workload: list[str]) -> None:
        d = self.domain(domid)
        d.vcpus = [
            Vcpu(domid=domid, vcpuid=i, online=i < online, runstate=OFFLINE,
                 cpu=self._initial_cpu(d, i), workload=workload[i],
                 sched_params=dict(params))
            for i in range(max_vcpus)
        ]
        self.trace("XEN_DOMCTL_max_vcpus", domid=domid, max=max_vcpus)

    def _initial_cpu(self, d: Domain, vcpuid: int) -> int:
        cpus = self.pools[d.poolid].cpus or [0]
        return cpus[(d.domid + vcpuid) % len(cpus)]

    def domctl_setvcpuaffinity(self, domid: int, vcpuid: int,
                               hard: list[int] | None, soft: list[int] | None) -> None:
        v = self.vcpu(domid, vcpuid)
        if hard is not None:
            v.hard_affinity = None if len(hard) >= self.physinfo.nr_cpus else sorted(hard)
        if soft is not None:
            v.soft_affinity = None if len(soft) >= self.physinfo.nr_cpus else sorted(soft)
        self.trace("XEN_DOMCTL_setvcpuaffinity", domid=domid, vcpu=vcpuid,
                   hard=v.hard_affinity, soft=v.soft_affinity)

    def vcpu(self, domid: int, vcpuid: int) -> Vcpu:
        d = self.domain(domid)
        if not 0 <= vcpuid < len(d.vcpus):
            raise HypercallError("EINVAL")
        return d.vcpus[vcpuid]

    def domctl_max_mem(self, domid: int, max_memkb: int) -> None:
        self.domain(domid).max_memkb = max_memkb
        self.trace("XEN_DOMCTL_max_mem", domid=domid, max_memkb=max_memkb)

    def memory_populate_physmap(self, domid: int, kb: int) -> None:
        """XENMEM_populate_physmap: give the domain `kb` more memory."""
        d = self.domain(domid)
        if kb > self.free_kb():
            raise HypercallError("ENOMEM", "XENMEM_populate_physmap")
        if d.tot_memkb + kb > d.max_memkb:
            raise HypercallError("ENOMEM", "XENMEM_populate_physmap")
        d.tot_memkb += kb
        self.trace("XENMEM_populate_physmap", domid=domid, kb=kb)

    def memory_decrease_reservation(self, domid: int, kb: int) -> None:
        d = self.domain(domid)
        d.tot_memkb = max(0, d.tot_memkb - kb)
        self.trace("XENMEM_decrease_reservation", domid=domid, kb=kb)

    def domctl_pausedomain(self, domid: int) -> None:
        d = self.domain(domid)
        if d.dying:
            raise HypercallError("EINVAL", "XEN_DOMCTL_pausedomain")
        d.pause_count += 1
        self.trace("XEN_DOMCTL_pausedomain", domid=domid, pause_count=d.pause_count)

    def domctl_unpausedomain(self, domid: int) -> None:
        d = self.domain(domid)
        if d.pause_count == 0 or d.dying:
            raise HypercallError("EINVAL", "XEN_DOMCTL_unpausedomain")
        d.pause_count -= 1
        self.trace("XEN_DOMCTL_unpausedomain", domid=domid, pause_count=d.pause_count)

    def domctl_destroydomain(self, domid: int) -> None:
        d = self.domain(domid)
        d.dying = True
        del self.domains[domid]
        self.destroyed.add(domid)
        self.trace("XEN_DOMCTL_destroydomain", domid=domid)

    def sched_shutdown(self, domid: int, reason: int) -> None:
        """SCHEDOP_shutdown (from the guest) or SCHEDOP_remote_shutdown."""
        d = self.domain(domid)
        if d.shutdown:
            return  # Xen latches the first reason
        d.shutdown = True
        d.shutdown_reason = reason
        self.trace("SCHEDOP_shutdown", domid=domid, reason=reason)

    def domctl_resumedomain(self, domid: int) -> None:
        d = self.domain(domid)
        d.shutdown = False
        d.shutdown_reason = None
        self.trace("XEN_DOMCTL_resumedomain", domid=domid)

    def getdomaininfo(self, domid: int) -> DomainInfo:
        d = self.domain(domid)
        online = [v for v in d.vcpus if v.online]
        running = any(v.runstate == RUNNING for v in online)
        blocked = bool(online) and all(v.runstate == BLOCKED for v in online)
        if domid == 0:
            # The toolstack asking is itself running on one of dom0's vCPUs.
            running, blocked = True, False
        return DomainInfo(
            domid=d.domid, uuid=d.uuid, running=running and d.can_run,
            blocked=blocked and d.can_run, paused=d.paused, shutdown=d.shutdown,
            shutdown_reason=d.shutdown_reason, dying=d.dying,
            current_memkb=d.tot_memkb, max_memkb=d.max_memkb, cpu_time_ns=d.cpu_time,
            vcpu_max_id=len(d.vcpus) - 1, vcpu_online=len(online), cpupool=d.poolid,
            ssidref=d.ssidref,
        )

    def list_domains(self) -> list[DomainInfo]:
        return [self.getdomaininfo(domid) for domid in sorted(self.domains)]

    # --- time -----------------------------------------------------------

    def advance(self, t_ns: int) -> None:
        """Run every cpupool's scheduler from the current time to `t_ns`."""
        if t_ns <= self.now_ns:
            return
        from pyxl.hv.sched import advance_pool

        for pool in self.pools.values():
            members = [d for d in self.domains.values() if d.poolid == pool.poolid]
            advance_pool(pool, members, self.now_ns, t_ns, seed=self.seed)
        self.now_ns = t_ns
