"""Scheduler parameters: what libxl_sched.c does for xl's sched-* commands.

Per-domain parameters (weight/cap, RTDS period/budget, SEDF's five) and
per-pool ones (credit's tslice/ratelimit/migration delay, credit2's
ratelimit) are checked with libxl's rules here, logged the way libxl logs
a refusal, and handed to the hypervisor's scheduler_op domctl/sysctl, which
refuses what Xen refuses (pyxl/hv/sched/params.py, with the defaults).
Errors raise PyxlError with the line xl itself prints.
"""

from __future__ import annotations

from pyxl.errors import ErrorFail, ErrorInval, LibxlError, PyxlError, strerror
from pyxl.hv.hypervisor import HypercallError
from pyxl.hv.sched.params import (
    MIGR_DELAY_MAX_US,
    RATELIMIT_MAX_US,
    RATELIMIT_MIN_US,
    SCHEDULERS,
    TSLICE_MAX_MS,
    TSLICE_MIN_MS,
    default_domain_params,
    default_pool_params,
    default_vcpu_params,
    domain_putinfo,
    pool_putinfo,
    vcpu_putinfo,
)
from pyxl.toolstack.ctx import Ctx

_SCHED_SET_FN = {"credit": "sched_credit_domain_set", "credit2": "sched_credit2_domain_set",
                 "rtds": "sched_rtds_domain_set", "sedf": "sched_sedf_domain_set"}
# What libxl logs when Xen refuses a domain's new parameters (Xen 4.5.0's
# libxl for SEDF, which does not name the domain), and where.
_XEN_REFUSED = {
    "credit": ("libxl_sched.c:256:sched_credit_domain_set", "Setting domain sched credit"),
    "credit2": ("libxl_sched.c:461:sched_credit2_domain_set", "Setting domain sched credit2"),
    "rtds": ("libxl_sched.c:756:sched_rtds_domain_set", "Setting domain sched rtds"),
    "sedf": ("libxl.c:5788:sched_sedf_domain_set", "setting domain sched sedf"),
}
# Where sched_*_domain_set logs a missing domain (RTDS does not ask first)
# and a failed XEN_DOMCTL_SCHEDOP_getinfo.
_SCHED_SET_LINES = {"credit": (224, 230), "credit2": (429, 435), "rtds": (None, 739)}
_POOL_GET_WHERE = {
    "credit": ("libxl_sched.c:285:libxl_sched_credit_params_get",
               "getting Credit scheduler parameters"),
    "credit2": ("libxl_sched.c:360:libxl_sched_credit2_params_get",
                "getting Credit2 scheduler parameters"),
}
_POOL_SET_WHERE = {
    "credit": ("libxl_sched.c:336:libxl_sched_credit_params_set",
               "Setting Credit scheduler parameters"),
    "credit2": ("libxl_sched.c:387:libxl_sched_credit2_params_set",
                "Setting Credit2 scheduler parameters"),
}


class SchedParamError(PyxlError):
    """Parameters libxl (or Xen, through it) refuses: libxl's log line,
    ``where`` it logs it, and whether the line names the domain."""

    def __init__(self, message: str, where: str, names_domain: bool = True):
        super().__init__(message)
        self.where = where
        self.names_domain = names_domain


def _int(x) -> int:
    try:
        return int(x)
    except (TypeError, ValueError):
        raise PyxlError(f"invalid number '{x}'") from None


def _check_sched(sched: str) -> None:
    if sched not in SCHEDULERS:
        raise PyxlError("Unknown scheduler")


def _given(changes: dict | None, known: dict) -> dict:
    """The parameters a caller set that this scheduler has (libxl's
    *_DEFAULT values are None here; each scheduler reads only its own)."""
    return {k: _int(v) for k, v in (changes or {}).items() if v is not None and k in known}


# --- libxl's checks ----------------------------------------------------------------


def validate_domain_params(sched: str, current: dict, changes: dict,
                           nr_vcpus: int) -> dict:
    """libxl_domain_sched_params_set's checks, then Xen's: the parameters the
    domain has after a successful set. Raises SchedParamError."""
    _check_sched(sched)
    out = default_domain_params(sched)
    out.update(current or {})
    ch = _given(changes, out)
    if sched in ("credit", "credit2"):
        _check_weight_cap(sched, ch, nr_vcpus)
    elif sched == "rtds":
        period, budget = ch.get("period", out["period"]), ch.get("budget", out["budget"])
        _check_rtds(period, budget, "libxl_sched.c:{}:sched_rtds_validate_params")
    else:
        if "weight" not in ch and ("period" in ch or "slice" in ch):
            ch["weight"] = 0  # xl: setting -p or -s clears the weight
    if "extratime" in ch:
        ch["extratime"] = 1 if ch["extratime"] else 0
    out.update(ch)
    try:
        return domain_putinfo(sched, current, out, nr_vcpus)
    except HypercallError as e:
        where, what = _XEN_REFUSED[sched]
        raise SchedParamError(f"{what}: {e.strerror}", where, sched != "sedf") from None


def _check_weight_cap(sched: str, ch: dict, nr_vcpus: int) -> None:
    """sched_credit{,2}_domain_set: a weight of 1-65535, a cap of at most
    100 per vCPU."""
    fn, lines = _SCHED_SET_FN[sched], ((236, 246) if sched == "credit" else (441, 451))
    if "weight" in ch and not 1 <= ch["weight"] <= 65535:
        raise SchedParamError("Cpu weight out of range, valid values are within range "
                              "from 1 to 65535", f"libxl_sched.c:{lines[0]}:{fn}")
    if "cap" in ch and not 0 <= ch["cap"] <= nr_vcpus * 100:
        raise SchedParamError(f"Cpu cap out of range, valid range is from 0 to "
                              f"{nr_vcpus * 100} for specified number of vcpus",
                              f"libxl_sched.c:{lines[1]}:{fn}")


def _check_rtds(period: int, budget: int, where: str) -> None:
    """sched_rtds_validate_params (it logs without naming the domain)."""
    if period < 1:
        raise SchedParamError(f"Invalid VCPU period of {period} (it should be >= 1)",
                              where.format(473), names_domain=False)
    if budget < 1:
        raise SchedParamError(f"Invalid VCPU budget of {budget} (it should be >= 1)",
                              where.format(479), names_domain=False)
    if budget > period:
        raise SchedParamError("VCPU budget must be smaller than or equal to period, "
                              f"but {budget} > {period}", where.format(485),
                              names_domain=False)


def validate_vcpu_params(sched: str, current: dict, changes: dict, vcpuid: int,
                         max_vcpuid: int) -> dict:
    """Per-vCPU parameters (RTDS only, as in libxl): libxl's checks, then Xen's."""
    _check_sched(sched)
    if sched != "rtds":
        raise SchedParamError("per-VCPU parameter setting not supported for this scheduler",
                              "libxl_sched.c:822:libxl_vcpu_sched_params_set")
    if vcpuid < 0 or vcpuid > max_vcpuid:
        raise SchedParamError(f"Invalid VCPU {vcpuid}: valid range is [0, {max_vcpuid}]",
                              "libxl_sched.c:623:sched_rtds_vcpu_set")
    out = default_vcpu_params(sched)
    out.update(current or {})
    ch = _given(changes, out)
    period, budget = ch.get("period", out["period"]), ch.get("budget", out["budget"])
    _check_rtds(period, budget, "libxl_sched.c:{}:sched_rtds_validate_params")
    if "extratime" in ch:
        ch["extratime"] = 1 if ch["extratime"] else 0
    out.update(ch)
    try:
        return vcpu_putinfo(sched, out)
    except HypercallError as e:
        raise SchedParamError(f"Setting vcpu sched rtds: {e.strerror}",
                              "libxl_sched.c:649:sched_rtds_vcpu_set") from None


def validate_pool_params(sched: str, current: dict, changes: dict) -> dict:
    """libxl_sched_credit{,2}_params_set's checks, then Xen's."""
    _check_sched(sched)
    out = default_pool_params(sched)
    out.update(current or {})
    ch = {k: _int(v) for k, v in (changes or {}).items() if v is not None}
    out.update(ch)
    if sched == "credit":
        _check_credit_pool(out)
    elif sched == "credit2":
        _check_ratelimit(out["ratelimit_us"])
    try:
        return pool_putinfo(sched, out if sched in ("credit", "credit2") else ch)
    except HypercallError as e:
        where, what = _POOL_SET_WHERE.get(sched, _POOL_SET_WHERE["credit"])
        raise SchedParamError(f"{what}: {e.strerror}", where, names_domain=False) from None


def _check_credit_pool(p: dict) -> None:
    t = p["tslice_ms"]
    if not TSLICE_MIN_MS <= t <= TSLICE_MAX_MS:
        raise SchedParamError(f"Time slice out of range, valid range is from "
                              f"{TSLICE_MIN_MS} to {TSLICE_MAX_MS}",
                              "libxl_sched.c:309:libxl_sched_credit_params_set", False)
    _check_ratelimit(p["ratelimit_us"])
    if p["ratelimit_us"] > t * 1000:
        raise SchedParamError("Ratelimit cannot be greater than timeslice",
                              "libxl_sched.c:319:libxl_sched_credit_params_set", False)
    if not 0 <= p["migration_delay_us"] <= MIGR_DELAY_MAX_US:
        raise SchedParamError(f"vcpu migration delay should be >= 0 and <= "
                              f"{MIGR_DELAY_MAX_US}us",
                              "libxl_sched.c:324:libxl_sched_credit_params_set", False)


def _check_ratelimit(r: int) -> None:
    """sched_ratelimit_check."""
    if r != 0 and not RATELIMIT_MIN_US <= r <= RATELIMIT_MAX_US:
        raise SchedParamError(f"Ratelimit out of range, valid range is from "
                              f"{RATELIMIT_MIN_US} to {RATELIMIT_MAX_US}",
                              "libxl_sched.c:268:sched_ratelimit_check", False)


def _log_refusal(ctx: Ctx, e: SchedParamError, domid: int | None) -> None:
    ctx.log("error", e.where, e.message, domid if e.names_domain else None)


# --- the libxl calls ---------------------------------------------------------------


def domain_scheduler(ctx: Ctx, domid: int) -> str | None:
    """libxl__domain_scheduler: the scheduler of the domain's pool (None: no
    domain, logged by libxl__domain_cpupool)."""
    d = ctx.hv.domains.get(domid)
    if d is None:
        ctx.log("error", "libxl_dom.c:76:libxl__domain_cpupool", "get domaininfo failed",
                domid, errno=strerror("ESRCH"))
        return None
    return ctx.hv.pools[d.poolid].sched


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


def domain_sched_params_set(ctx: Ctx, domid: int, sched: str, changes: dict) -> dict:
    """libxl_domain_sched_params_set for the pool's scheduler `sched`: the
    parameters the domain has now. A refusal is logged and raised as
    ErrorInval (libxl's checks) or ErrorFail."""
    d = ctx.hv.domains.get(domid)
    fn = _SCHED_SET_FN[sched]
    info_line, get_line = _SCHED_SET_LINES.get(sched, (224, 230))
    if d is None and info_line is not None:
        ctx.log("error", f"libxl_sched.c:{info_line}:{fn}", "Getting domain info", domid,
                errno=strerror("ESRCH"))
        raise ErrorInval
    try:
        if d is None:
            raise HypercallError("ESRCH", "XEN_DOMCTL_scheduler_op")
        current = ctx.hv.domctl_scheduler_op_getinfo(domid, sched)
    except HypercallError as e:
        what = "Getting domain sched " + sched
        ctx.log("error", f"libxl_sched.c:{get_line}:{fn}", what, domid, errno=e.strerror)
        raise ErrorFail from None
    try:
        new = validate_domain_params(sched, current, changes, len(d.vcpus))
    except SchedParamError as e:
        _log_refusal(ctx, e, domid)
        raise (ErrorInval if e.where != _XEN_REFUSED[sched][0] else ErrorFail) from None
    ctx.hv.domctl_scheduler_op_putinfo(domid, sched, new)
    return new


def set_domain_params(ctx: Ctx, domid: int, sched: str, changes: dict) -> dict:
    """xl's sched-* -d DOM with settings: libxl_domain_sched_params_set, and
    xl's line when it fails."""
    try:
        return domain_sched_params_set(ctx, domid, sched, changes)
    except LibxlError:
        raise PyxlError("libxl_domain_sched_params_set failed.") from None


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
    """xl's sched-credit -s (get, change, set) and sched-credit2 -s -r (set
    only: its one parameter needs no get); raises xl's "... failed." line."""
    if sched == "credit2":
        current = {}
    else:
        current = get_pool_params(ctx, poolid, sched)
        if current is None:
            raise PyxlError(f"libxl_sched_{sched}_params_get failed.")
    try:
        new = validate_pool_params(sched, current, changes)
        ctx.hv.sysctl_scheduler_op_putinfo(poolid, sched, new)
    except HypercallError as e:     # Xen: the pool runs another scheduler
        where, what = _POOL_SET_WHERE.get(sched, _POOL_SET_WHERE["credit"])
        ctx.log("error", where, f"{what}: {e.strerror}")
        raise PyxlError(f"libxl_sched_{sched}_params_set failed.") from None
    except SchedParamError as e:
        _log_refusal(ctx, e, None)
        raise PyxlError(f"libxl_sched_{sched}_params_set failed.") from None
    return new


# --- RTDS per-vCPU parameters ---------------------------------------------------------


def get_vcpu_params(ctx: Ctx, domid: int, vcpuids: list[int] | None) -> list[tuple[int, dict]]:
    """libxl_vcpu_sched_params_get(_all) for RTDS: (vcpuid, params) pairs."""
    sched = domain_scheduler(ctx, domid)
    what = "libxl_vcpu_sched_params_get" + ("_all" if vcpuids is None else "")
    if sched is None:
        ctx.log("error", f"libxl_sched.c:{967 if vcpuids is None else 934}:{what}",
                "Unknown scheduler", domid)
        raise PyxlError(f"{what} failed.")
    if sched != "rtds":
        ctx.log("error", f"libxl_sched.c:{960 if vcpuids is None else 927}:{what}",
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
    is_all = any(v is None for v, _ in settings)
    fail = PyxlError("libxl_vcpu_sched_params_set" + ("_all" if is_all else "") + " failed.")
    fn, info_line, set_line = (("sched_rtds_vcpu_set_all", 671, 701) if is_all
                               else ("sched_rtds_vcpu_set", 610, 649))
    d = ctx.hv.domains.get(domid)    # xl names RTDS: libxl goes straight to it
    if d is None:
        ctx.log("error", f"libxl_sched.c:{info_line}:{fn}", "Getting domain info",
                domid, errno=strerror("ESRCH"))
        raise fail
    expanded = []
    for vcpuid, changes in settings:
        for v in (range(len(d.vcpus)) if vcpuid is None else [vcpuid]):
            current = {} if not 0 <= v < len(d.vcpus) else d.vcpus[v].sched_params
            try:
                new = validate_vcpu_params("rtds", current, changes, v, len(d.vcpus) - 1)
            except SchedParamError as e:
                _log_refusal(ctx, e, domid)
                raise fail from None
            expanded.append((v, new))
    if ctx.hv.pools[d.poolid].sched != "rtds":   # Xen: not this pool's scheduler
        ctx.log("error", f"libxl_sched.c:{set_line}:{fn}", "Setting vcpu sched rtds",
                domid, errno=strerror("EINVAL"))
        raise fail
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
    from pyxl.sim.guest import workload_of

    return workload_of(d, ctx.host.guest(domid))


def set_workload(ctx: Ctx, domid: int, spec: str | list[str]) -> list[str]:
    """Change what a guest runs. A running guest switches now; a booting one when it
    reaches its login prompt (its boot keeps vCPU 0 busy until then)."""
    from pyxl.hv.workload import parse_workload

    d = ctx.hv.domains.get(domid)
    if d is None:
        raise PyxlError(f"Domain {domid} does not exist.")
    specs = parse_workload(spec, len(d.vcpus))
    from pyxl.sim.guest import set_workload as guest_runs

    guest_runs(ctx.host, d, ctx.host.guest(domid), specs)
    ctx.hv.trace("pyxl_workload", domid=domid, workload=specs)
    return specs
