"""getdomaininfo's summary of a domain's vCPUs: one rule for every reader.

The hypervisor answers XEN_DOMCTL_getdomaininfo from its loaded model, and
`pyxl list` on a large host answers from the stored rows without building
the model (pyxl/sim/view.py). Both derive the running and blocked flags, the
online vCPU count and the CPU time here, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyxl.hv.runstate import BLOCKED, RUNNING


def vcpu_summary(domid: int, can_run: bool, vcpus: Iterable[tuple[bool, str, int]]
                 ) -> tuple[bool, bool, int, int]:
    """(running, blocked, vcpu_online, cpu_time_ns) of a domain, from each
    vCPU's (online, runstate, running ns).

    Running if an online vCPU runs; blocked if every online vCPU (one at
    least) is blocked; neither while the domain may not run (paused, shut
    down, dying). Domain-0 is running: the toolstack asking runs on one of
    its vCPUs. The CPU time counts offline vCPUs' past running too.
    """
    online = cpu_time = 0
    running, all_blocked = False, True
    for is_online, runstate, running_ns in vcpus:
        cpu_time += running_ns
        if is_online:
            online += 1
            running = running or runstate == RUNNING
            all_blocked = all_blocked and runstate == BLOCKED
    blocked = online > 0 and all_blocked
    if domid == 0:
        running, blocked = True, False
    return running and can_run, blocked and can_run, online, cpu_time
