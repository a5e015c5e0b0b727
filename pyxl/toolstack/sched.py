"""Scheduler parameters: what libxl_sched.c does for xl's sched-* commands.

Per-domain parameters (weight/cap, RTDS period/budget, SEDF's five) and
per-pool ones (credit's tslice/ratelimit/migration delay, credit2's
ratelimit) are checked with libxl's rules (pyxl/hv/sched/params.py), logged
the way libxl logs a refusal, and handed to the hypervisor's scheduler_op
domctl/sysctl. Errors raise PyxlError with the line xl itself prints.
"""

from __future__ import annotations

from pyxl.errors import PyxlError
from pyxl.hv.hypervisor import HypercallError
from pyxl.toolstack.ctx import Ctx

# Where libxl logs each refusal (file:line:function of the real code).
_DOMAIN_SET_WHERE = {
    "credit": "libxl_sched.c:236:sched_credit_domain_set",
    "credit2": "libxl_sched.c:441:sched_credit2_domain_set",
    "rtds": "libxl_sched.c:473:sched_rtds_validate_params",
    "sedf": "libxl.c:5340:sched_sedf_domain_set",
}
_POOL_WHERE = (
    ("Ratelimit out of range", "libxl_sched.c:268:sched_ratelimit_check"),
    ("Time slice", "libxl_sched.c:309:libxl_sched_credit_params_set"),
    ("Ratelimit cannot", "libxl_sched.c:319:libxl_sched_credit_params_set"),
    ("vcpu migration", "libxl_sched.c:324:libxl_sched_credit_params_set"),
)
_POOL_GET_WHERE = {
    "credit": ("libxl_sched.c:285:libxl_sched_credit_params_get",
               "getting Credit scheduler parameters"),
    "credit2": ("libxl_sched.c:360:libxl_sched_credit2_params_get",
                "getting Credit2 scheduler parameters"),
}
_DOMAIN_GET_WHAT = {"credit": "credit", "credit2": "credit2", "rtds": "rtds", "sedf": "sedf"}


def domain_scheduler(ctx: Ctx, domid: int) -> str | None:
    """libxl__domain_scheduler: the scheduler of the domain's pool (None: no domain)."""
    d = ctx.hv.domains.get(domid)
    return None if d is None else ctx.hv.pools[d.poolid].sched


def get_domain_params(ctx: Ctx, domid: int, sched: str) -> dict:
    """sched_domain_get in xl: the parameters, or xl's error (exit 1)."""
    actual = domain_scheduler(ctx, domid)
    if actual is None:
        ctx.log("error", "libxl_sched.c:901:libxl_domain_sched_params_get",
                "Unknown scheduler", domid)
        raise PyxlError("libxl_domain_sched_params_get failed.")
    if actual != sched:
        raise PyxlError(f"libxl_domain_sched_params_get returned {actual} not {sched}.")
    return ctx.hv.domctl_scheduler_op_getinfo(domid, sched)


def set_domain_params(ctx: Ctx, domid: int, sched: str, changes: dict) -> dict:
    """libxl_domain_sched_params_set with `sched` as xl fills it in; returns the result."""
    from pyxl.hv.sched import validate_domain_params

    fail = PyxlError("libxl_domain_sched_params_set failed.")
    d = ctx.hv.domains.get(domid)
    if d is None:
        fn = _DOMAIN_SET_WHERE[sched].rsplit(":", 1)[1]
        ctx.log("error", f"libxl_sched.c:224:{fn}", "Getting domain info", domid,
                errno="No such process")
        raise fail
    try:
        current = ctx.hv.domctl_scheduler_op_getinfo(domid, sched)
    except HypercallError as e:
        fn = _DOMAIN_SET_WHERE[sched].rsplit(":", 1)[1]
        ctx.log("error", f"libxl_sched.c:230:{fn}",
                f"Getting domain sched {_DOMAIN_GET_WHAT[sched]}", domid, errno=e.strerror)
        raise fail from None
    try:
        new = validate_domain_params(sched, current, changes, len(d.vcpus))
    except PyxlError as e:
        ctx.log("error", _DOMAIN_SET_WHERE[sched], e.message, domid)
        raise fail from None
    ctx.hv.domctl_scheduler_op_putinfo(domid, sched, new)
    return new


def get_pool_params(ctx: Ctx, poolid: int, sched: str) -> dict | None:
    """libxl_sched_credit{,2}_params_get; None (after libxl's log line) if unavailable."""
    try:
        return ctx.hv.sysctl_scheduler_op_getinfo(poolid, sched)
    except HypercallError as e:
        where, what = _POOL_GET_WHERE.get(sched, ("libxl_sched.c:285:sched_params_get",
                                                 "getting scheduler parameters"))
        ctx.log("error", where, what, errno=e.strerror)
        return None


def set_pool_params(ctx: Ctx, poolid: int, sched: str, changes: dict) -> dict:
    """libxl_sched_credit{,2}_params_set; raises xl's "... failed." line."""
    from pyxl.hv.sched import validate_pool_params

    fail = PyxlError(f"libxl_sched_{sched}_params_set failed.")
    current = get_pool_params(ctx, poolid, sched)
    if current is None:
        raise PyxlError(f"libxl_sched_{sched}_params_get failed.")
    try:
        new = validate_pool_params(sched, current, changes)
    except PyxlError as e:
        where = next((w for prefix, w in _POOL_WHERE if e.message.startswith(prefix)),
                     "libxl_sched.c:336:libxl_sched_credit_params_set")
        ctx.log("error", where, e.message)
        raise fail from None
    ctx.hv.sysctl_scheduler_op_putinfo(poolid, sched, new)
    return new


# --- RTDS per-vCPU parameters ---------------------------------------------------------


def get_vcpu_params(ctx: Ctx, domid: int, vcpuids: list[int] | None) -> list[tuple[int, dict]]:
    """libxl_vcpu_sched_params_get(_all) for RTDS: (vcpuid, params) pairs."""
    sched = domain_scheduler(ctx, domid)
    what = "libxl_vcpu_sched_params_get" + ("_all" if vcpuids is None else "")
    if sched is None:
        ctx.log("error", "libxl_sched.c:506:sched_rtds_vcpu_get", "Getting domain info",
                domid, errno="No such process")
        raise PyxlError(f"{what} failed.")
    if sched != "rtds":
        ctx.log("error", "libxl_sched.c:927:libxl_vcpu_sched_params_get",
                "per-VCPU parameter getting not supported for this scheduler", domid)
        raise PyxlError(f"{what} failed.")
    d = ctx.hv.domains[domid]
    ids = list(range(len(d.vcpus))) if vcpuids is None else vcpuids
    for v in ids:
        if not 0 <= v < len(d.vcpus):
            ctx.log("error", "libxl_sched.c:520:sched_rtds_vcpu_get",
                    "VCPU index is out of range, valid values are within range from 0 to "
                    f"{len(d.vcpus) - 1}", domid)
            raise PyxlError(f"{what} failed.")
    return [(v, ctx.hv.domctl_scheduler_op_getvcpuinfo(domid, v, "rtds")) for v in ids]


def set_vcpu_params(ctx: Ctx, domid: int, settings: list[tuple[int | None, dict]]) -> None:
    """libxl_vcpu_sched_params_set(_all): vcpuid None means every vCPU.

    All entries are checked before any is applied, as libxl does.
    """
    from pyxl.hv.sched import validate_vcpu_params

    is_all = any(v is None for v, _ in settings)
    fail = PyxlError("libxl_vcpu_sched_params_set" + ("_all" if is_all else "") + " failed.")
    sched = domain_scheduler(ctx, domid)
    if sched is None:
        ctx.log("error", "libxl_sched.c:610:sched_rtds_vcpu_set", "Getting domain info",
                domid, errno="No such process")
        raise fail
    if sched != "rtds":
        ctx.log("error", "libxl_sched.c:822:libxl_vcpu_sched_params_set",
                "per-VCPU parameter setting not supported for this scheduler", domid)
        raise fail
    d = ctx.hv.domains[domid]
    expanded = []
    for vcpuid, changes in settings:
        for v in (range(len(d.vcpus)) if vcpuid is None else [vcpuid]):
            current = {} if not 0 <= v < len(d.vcpus) else d.vcpus[v].sched_params
            try:
                new = validate_vcpu_params("rtds", current, changes, v, len(d.vcpus) - 1)
            except PyxlError as e:
                ctx.log("error", "libxl_sched.c:623:sched_rtds_vcpu_set", e.message, domid)
                raise fail from None
            expanded.append((v, new))
    for v, new in expanded:
        ctx.hv.domctl_scheduler_op_putvcpuinfo(domid, v, "rtds", new)


def pools_running(ctx: Ctx, sched: str, only: int | None = None) -> list[tuple[int, str, list[int]]]:
    """(poolid, name, domids) of each pool whose scheduler is `sched`, as xl walks them."""
    result = []
    for poolid in sorted(ctx.hv.pools):
        pool = ctx.hv.pools[poolid]
        if pool.sched != sched or (only is not None and poolid != only):
            continue
        domids = sorted(d.domid for d in ctx.hv.domains.values() if d.poolid == poolid)
        result.append((poolid, pool.name, domids))
    return result


# --- what the guests run (pyxl's workload extension) --------------------------------


def get_workload(ctx: Ctx, domid: int) -> list[str]:
    """Per-vCPU workload specs: what each vCPU runs now (a booting guest: after boot)."""
    d = ctx.hv.domains.get(domid)
    if d is None:
        raise PyxlError(f"Domain {domid} does not exist.")
    g = ctx.host.guest(domid)
    if g.get("phase") in ("created", "booting") and g.get("workload"):
        from pyxl.sim.guest import per_vcpu

        return per_vcpu(g["workload"], len(d.vcpus))
    return [v.workload for v in d.vcpus]


def set_workload(ctx: Ctx, domid: int, spec: str | list[str]) -> list[str]:
    """Change what a guest runs. A running guest switches now; a booting one when it
    reaches its login prompt (its boot keeps vCPU 0 busy until then)."""
    from pyxl.hv.workload import parse_workload

    d = ctx.hv.domains.get(domid)
    if d is None:
        raise PyxlError(f"Domain {domid} does not exist.")
    specs = parse_workload(spec, len(d.vcpus))
    g = dict(ctx.host.guest(domid))
    g["workload"] = specs
    ctx.host.set_guest(domid, g)
    if g.get("phase", "up") == "up":
        for v, s in zip(d.vcpus, specs):
            if v.workload != s:
                v.workload, v.wl_state = s, {}
    ctx.hv.trace("pyxl_workload", domid=domid, workload=specs)
    return specs
