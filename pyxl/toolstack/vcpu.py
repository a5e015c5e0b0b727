"""libxl_list_vcpu and the vCPU operations xl's vcpu-* commands use."""

from __future__ import annotations

from pyxl.hv.model import RUNNING, Vcpu
from pyxl.toolstack.ctx import Ctx


def list_vcpus(ctx: Ctx, domid: int) -> list[Vcpu]:
    """Every vCPU of a domain (XEN_DOMCTL_getvcpuinfo for each); [] if it is gone.

    A domain that cannot run (paused, shut down) has no vCPU running, and dom0's
    vCPU 0 is the one running this very command.
    """
    d = ctx.hv.domains.get(domid)
    if d is None:
        ctx.log("error", "libxl.c:633:libxl_list_vcpu", "getting infolist", domid,
                "No such process")
        return []
    vcpus = []
    for v in d.vcpus:
        if domid == 0 and v.vcpuid == 0:
            v = _copy(v, runstate=RUNNING)
        elif not d.can_run and v.runstate == RUNNING:
            v = _copy(v, runstate="runnable")
        vcpus.append(v)
    return vcpus


def _copy(v: Vcpu, **changes) -> Vcpu:
    from dataclasses import replace

    return replace(v, **changes)
