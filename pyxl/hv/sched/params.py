"""Scheduler parameters as Xen keeps them: their types, defaults, and Xen's own checks.

Units are those of the xl/libxl interface, so the CLI can print them as is:
credit/credit2 weight and cap (% of one pCPU); RTDS period and budget in
microseconds; SEDF period, slice and latency in milliseconds; pool-wide
tslice_ms, ratelimit_us, migration_delay_us. Each default is written once,
in the tables below; the hypervisor keeps copies of them as plain dicts in
its domain, vCPU and pool records.

Only what Xen itself refuses is checked here: the ``*_putinfo`` functions
return what Xen keeps after a put, or raise HypercallError("EINVAL").
libxl's range checks and their messages are the toolstack's
(pyxl/toolstack/sched.py).
"""

from __future__ import annotations

from pyxl.errors import PyxlError
from pyxl.hv.errors import HypercallError

SCHEDULERS = ("credit", "credit2", "rtds", "sedf")

RATELIMIT_MIN_US, RATELIMIT_MAX_US = 100, 500000    # XEN_SYSCTL_SCHED_RATELIMIT_*
TSLICE_MIN_MS, TSLICE_MAX_MS = 1, 1000              # XEN_SYSCTL_CSCHED_TSLICE_*
MIGR_DELAY_MAX_US = 100000                          # XEN_SYSCTL_CSCHED_MGR_DLY_MAX_US
RTDS_MIN_US = 10          # RTDS_MIN_PERIOD and RTDS_MIN_BUDGET
SEDF_PERIOD_MIN_NS = 10_000
SEDF_PERIOD_MAX_NS = 10_000_000_000
SEDF_SLICE_MIN_NS = 5_000


# Each scheduler's parameters with Xen's defaults, by their xl/libxl names.
DOMAIN_PARAMS = {
    # xen_domctl_sched_credit / _credit2: CSCHED_DEFAULT_WEIGHT and
    # CSCHED2_DEFAULT_WEIGHT, no cap
    "credit": {"weight": 256, "cap": 0},
    "credit2": {"weight": 256, "cap": 0},
    # xen_domctl_sched_rtds, per domain and per vCPU (RTDS_DEFAULT_PERIOD/_BUDGET)
    "rtds": {"period": 10000, "budget": 4000, "extratime": 1},
    # Xen 4.5's xen_domctl_sched_sedf; the default is "best effort": only
    # extra time, with extraweight 1
    "sedf": {"period": 100, "slice": 0, "latency": 0, "extratime": 1, "weight": 0},
}
POOL_PARAMS = {
    "credit": {"tslice_ms": 30, "ratelimit_us": 1000, "migration_delay_us": 0},
    "credit2": {"ratelimit_us": 1000},   # xen_sysctl_credit2_schedule
}
VCPU_PARAMS = {"rtds": DOMAIN_PARAMS["rtds"]}


def _check_sched(sched: str) -> None:
    if sched not in SCHEDULERS:
        raise PyxlError("Unknown scheduler")


def default_domain_params(sched: str) -> dict:
    _check_sched(sched)
    return dict(DOMAIN_PARAMS[sched])


def default_pool_params(sched: str) -> dict:
    _check_sched(sched)
    return dict(POOL_PARAMS.get(sched, {}))


def default_vcpu_params(sched: str) -> dict:
    _check_sched(sched)
    return dict(VCPU_PARAMS.get(sched, {}))


def domain_putinfo(sched: str, current: dict, new: dict, nr_vcpus: int) -> dict:
    """XEN_DOMCTL_SCHEDOP_putinfo: the parameters Xen keeps, or EINVAL.

    Credit and credit2 keep the current weight when given 0 (a weight is
    never 0); credit2 refuses a cap above 100 x its vCPUs. RTDS refuses a
    period or budget under 10 us, or a budget above the period. SEDF
    follows Xen 4.5's sedf_adjust.
    """
    out = default_domain_params(sched)
    out.update(current or {})
    out.update(new)
    if sched in ("credit", "credit2"):
        if not new.get("weight"):
            out["weight"] = (current or {}).get("weight", DOMAIN_PARAMS[sched]["weight"])
        ok = sched == "credit" or out["cap"] <= 100 * nr_vcpus
    elif sched == "rtds":
        ok = _rtds_ok(out["period"], out["budget"])
    else:
        ok = _sedf_ok(out)
    return _einval_unless(ok, out, "XEN_DOMCTL_scheduler_op")


def vcpu_putinfo(sched: str, new: dict) -> dict:
    """XEN_DOMCTL_SCHEDOP_putvcpuinfo (RTDS only): the vCPU's new parameters."""
    out = default_vcpu_params(sched)
    out.update(new)
    ok = sched == "rtds" and _rtds_ok(out["period"], out["budget"])
    return _einval_unless(ok, out, "XEN_DOMCTL_scheduler_op")


def _einval_unless(ok: bool, params: dict, op: str) -> dict:
    if not ok:
        raise HypercallError("EINVAL", op)
    return params


def _rtds_ok(period: int, budget: int) -> bool:
    """rt_validate_params (microseconds)."""
    return RTDS_MIN_US <= budget <= period and period >= RTDS_MIN_US


def _sedf_ok(p: dict) -> bool:
    """Xen 4.5's sedf_adjust: a weight, or a period of 10 us to 10 s and a
    slice of at least 5 us that fits in it (values in ms, as libxl passed)."""
    period, slc, weight = p["period"], p["slice"], p["weight"]
    if (period == 0 and weight == 0) or weight < 0:
        return False
    if weight:
        return True
    p_ns, s_ns = period * 1_000_000, slc * 1_000_000
    return SEDF_PERIOD_MIN_NS <= p_ns <= SEDF_PERIOD_MAX_NS and SEDF_SLICE_MIN_NS <= s_ns <= p_ns


def pool_putinfo(sched: str, new: dict) -> dict:
    """XEN_SYSCTL_SCHEDOP_putinfo: csched_sys_cntl / csched2_sys_cntl's
    checks; RTDS and SEDF have no pool-wide parameters (EINVAL)."""
    out = default_pool_params(sched)
    if sched not in POOL_PARAMS:
        return _einval_unless(not new, out, "XEN_SYSCTL_scheduler_op")
    out.update(new)
    r = out["ratelimit_us"]
    ok = r == 0 or RATELIMIT_MIN_US <= r <= RATELIMIT_MAX_US
    if sched == "credit":
        t = out["tslice_ms"]
        ok = (ok and TSLICE_MIN_MS <= t <= TSLICE_MAX_MS and r <= t * 1000
              and 0 <= out["migration_delay_us"] <= MIGR_DELAY_MAX_US)
    return _einval_unless(ok, out, "XEN_SYSCTL_scheduler_op")
