"""libxl_list_vcpu and the vCPU operations xl's vcpu-* commands use."""

from __future__ import annotations

from dataclasses import dataclass

from pyxl.hv.runstate import BLOCKED, RUNNING
from pyxl.toolstack.ctx import Ctx


@dataclass(frozen=True)
class VcpuInfo:
    """libxl_vcpuinfo (times in ns; an affinity of None is every pCPU)."""

    domid: int
    vcpuid: int
    cpu: int
    online: bool
    blocked: bool
    running: bool
    vcpu_time: int
    cpumap: tuple[int, ...] | None
    cpumap_soft: tuple[int, ...] | None


def list_vcpus(ctx: Ctx, domid: int) -> list[VcpuInfo]:
    """libxl_list_vcpu: every vCPU of a domain (XEN_DOMCTL_getvcpuinfo for
    each); [] if it is gone.

    A domain that cannot run (paused, shut down) has no vCPU running or
    blocked, and dom0's vCPU 0 is the one running this very command: the
    same rule as getdomaininfo's (pyxl/hv/dominfo.py), whose domain flags
    are derived from these, so `list` and `vcpu-list` agree.
    """
    d = ctx.hv.domains.get(domid)
    if d is None:
        ctx.log("error", "libxl_domain.c:1671:libxl_list_vcpu", "Getting dominfo", domid,
                "No such process")
        return []
    vcpus = []
    for v in d.vcpus:
        running = v.runstate == RUNNING and d.can_run
        if domid == 0 and v.vcpuid == 0:
            running = True
        vcpus.append(VcpuInfo(
            domid, v.vcpuid, v.cpu, v.online,
            v.runstate == BLOCKED and d.can_run and not running, running,
            v.cpu_time, _cpumap(v.hard_affinity), _cpumap(v.soft_affinity)))
    return vcpus


def _cpumap(cpus: list[int] | None) -> tuple[int, ...] | None:
    return None if cpus is None else tuple(cpus)


def vcpu_pin(ctx: Ctx, domid: int, vcpuid: int | None, hard: set[int] | None,
             soft: set[int] | None) -> bool:
    """libxl_set_vcpuaffinity (vcpuid None: libxl_set_vcpuaffinity_all).

    None leaves that affinity as it is. Xen refuses a hard affinity with no pCPU
    of the domain's pool in it, or a vCPU it does not have (EINVAL); a soft
    affinity outside the pool is accepted with libxl's warning. `vcpuid` is a
    uint32_t, as in libxl. Returns False if any vCPU failed.
    """
    from pyxl.hv.hypervisor import HypercallError

    d = ctx.hv.domains.get(domid)
    if hard is None and soft is None:
        # libxl: nothing to set is ERROR_INVAL without a log line; _all warns
        for v in range(len(d.vcpus)) if vcpuid is None and d is not None else ():
            ctx.log("warning", "libxl_sched.c:124:libxl_set_vcpuaffinity_all",
                    f"Failed to set affinity for {v}", domid)
        return False
    if d is None:
        ctx.log("error", "libxl_sched.c:62:libxl__set_vcpuaffinity", "Setting vcpu affinity",
                domid, "No such process")
        return False
    pool_cpus = set(ctx.hv.pools[d.poolid].cpus)
    ok = True
    for v in (range(len(d.vcpus)) if vcpuid is None else [vcpuid]):
        try:
            ctx.hv.domctl_setvcpuaffinity(domid, v, None if hard is None else sorted(hard),
                                          None if soft is None else sorted(soft))
        except HypercallError as e:
            ctx.log("error", "libxl_sched.c:62:libxl__set_vcpuaffinity",
                    "Setting vcpu affinity", domid, e.strerror)
            if vcpuid is None:
                ctx.log("warning", "libxl_sched.c:124:libxl_set_vcpuaffinity_all",
                        f"Failed to set affinity for {v}", domid)
            ok = False
            continue
        if soft is not None:
            cur = d.vcpus[v].hard_affinity
            effective = soft & pool_cpus & (set(cur) if cur is not None else pool_cpus)
            if not effective:
                ctx.log("warning", "libxl_sched.c:84:libxl__set_vcpuaffinity",
                        f"All cpus in soft affinity of vcpu {v} are unreachable. Only hard "
                        "affinity will be considered for scheduling", domid)
    return ok


def vcpu_set(ctx: Ctx, domid: int, count: int) -> int:
    """libxl_set_vcpuonline with vCPUs 0..count-1: ~/cpu/N/availability for
    every vCPU, in one transaction; the guest brings them up or down. Returns
    the libxl rc (0, ERROR_DOMAIN_NOTFOUND, ERROR_FAIL), having logged as libxl."""
    d = ctx.hv.domains.get(domid)
    if d is None:
        ctx.log("error", "libxl_domain.c:356:libxl_domain_info", "Getting domain info",
                domid, "No such process")
        ctx.log("error", "libxl_domain.c:1860:libxl_set_vcpuonline",
                "Getting domain info list", domid, "No such process")
        return -21
    if count == 0:
        ctx.log("error", "libxl_domain.c:1867:libxl_set_vcpuonline", "Requested 0 VCPUs!",
                domid, "Success")
        return -3
    if count > len(d.vcpus):
        ctx.log("error", "libxl_domain.c:1873:libxl_set_vcpuonline",
                f"Requested {count} VCPUs, however maxcpus is {len(d.vcpus)}!", domid,
                "Success")
        return -3
    dompath = f"/local/domain/{domid}"

    def write(t) -> None:
        for i in range(len(d.vcpus)):
            t.write(f"{dompath}/cpu/{i}/availability",
                    b"online" if i < count else b"offline")

    ctx.xs().transaction(write)
    return 0
