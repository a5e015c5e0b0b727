"""Scheduler parameters: defaults and libxl/Xen validation, in interface units.

Units are those of the xl/libxl interface, so the CLI can print them as is:
credit/credit2 weight and cap (% of one pCPU); RTDS period and budget in
microseconds; SEDF period, slice and latency in milliseconds; pool-wide
tslice_ms, ratelimit_us, migration_delay_us. Validators raise PyxlError
with libxl's message text (the CLI adds xl's own "... failed." line where xl
prints one). Each returns a new dict: the current values with the changes.
"""

from __future__ import annotations

from pyxl.errors import PyxlError

SCHEDULERS = ("credit", "credit2", "rtds", "sedf")

RATELIMIT_MIN_US, RATELIMIT_MAX_US = 100, 500000
TSLICE_MIN_MS, TSLICE_MAX_MS = 1, 1000
MIGR_DELAY_MAX_US = 100000
RTDS_MIN_US = 10          # Xen rejects shorter periods/budgets (-EINVAL)
SEDF_PERIOD_MIN_NS = 10_000
SEDF_PERIOD_MAX_NS = 10_000_000_000
SEDF_SLICE_MIN_NS = 5_000


def _check_sched(sched: str) -> None:
    if sched not in SCHEDULERS:
        raise PyxlError("Unknown scheduler")


def default_domain_params(sched: str) -> dict:
    _check_sched(sched)
    if sched in ("credit", "credit2"):
        return {"weight": 256, "cap": 0}
    if sched == "rtds":
        return {"period": 10000, "budget": 4000, "extratime": 1}
    # SEDF "best effort" default: only extra time, extraweight 1.
    return {"period": 100, "slice": 0, "latency": 0, "extratime": 1, "weight": 0}


def default_pool_params(sched: str) -> dict:
    _check_sched(sched)
    if sched == "credit":
        return {"tslice_ms": 30, "ratelimit_us": 1000, "migration_delay_us": 0}
    if sched == "credit2":
        return {"ratelimit_us": 1000}
    return {}


def default_vcpu_params(sched: str) -> dict:
    _check_sched(sched)
    if sched == "rtds":
        return {"period": 10000, "budget": 4000, "extratime": 1}
    return {}


def _int(x) -> int:
    try:
        return int(x)
    except (TypeError, ValueError):
        raise PyxlError(f"invalid number '{x}'") from None


def validate_domain_params(sched: str, current: dict, changes: dict,
                           nr_vcpus: int) -> dict:
    """Check `changes` the way libxl (and Xen) would; return the merged dict."""
    _check_sched(sched)
    out = dict(default_domain_params(sched))
    out.update(current or {})
    ch = {k: v for k, v in (changes or {}).items() if v is not None}
    if sched in ("credit", "credit2"):
        if "weight" in ch:
            w = _int(ch["weight"])
            if w < 1 or w > 65535:
                raise PyxlError("Cpu weight out of range, "
                                "valid values are within range from 1 to 65535")
            out["weight"] = w
        if "cap" in ch:
            c = _int(ch["cap"])
            if c < 0 or c > nr_vcpus * 100:
                raise PyxlError("Cpu cap out of range, valid range is from 0 to "
                                f"{nr_vcpus * 100} for specified number of vcpus")
            out["cap"] = c
        return out
    if sched == "rtds":
        period = _int(ch.get("period", out["period"]))
        budget = _int(ch.get("budget", out["budget"]))
        _check_rtds(period, budget, "setting domain sched rtds")
        out.update(period=period, budget=budget)
        if "extratime" in ch:
            out["extratime"] = 1 if _int(ch["extratime"]) else 0
        return out
    return _sedf_adjust(out, ch)


def _check_rtds(period: int, budget: int, xc_what: str) -> None:
    if period < 1:
        raise PyxlError(f"Invalid VCPU period of {period} (it should be >= 1)")
    if budget < 1:
        raise PyxlError(f"Invalid VCPU budget of {budget} (it should be >= 1)")
    if budget > period:
        raise PyxlError("VCPU budget must be smaller than or equal to period, "
                        f"but {budget} > {period}")
    if period < RTDS_MIN_US or budget < RTDS_MIN_US:
        raise PyxlError(f"{xc_what}: Invalid argument")


def validate_vcpu_params(sched: str, current: dict, changes: dict, vcpuid: int,
                         max_vcpuid: int) -> dict:
    """Per-vCPU parameters (RTDS only, as in libxl)."""
    _check_sched(sched)
    if sched != "rtds":
        raise PyxlError("per-VCPU parameter setting not supported for this scheduler")
    if vcpuid < 0 or vcpuid > max_vcpuid:
        raise PyxlError(f"Invalid VCPU {vcpuid}: valid range is [0, {max_vcpuid}]")
    out = dict(default_vcpu_params(sched))
    out.update(current or {})
    ch = {k: v for k, v in (changes or {}).items() if v is not None}
    period = _int(ch.get("period", out["period"]))
    budget = _int(ch.get("budget", out["budget"]))
    _check_rtds(period, budget, "setting vcpu sched rtds")
    out.update(period=period, budget=budget)
    if "extratime" in ch:
        out["extratime"] = 1 if _int(ch["extratime"]) else 0
    return out


def validate_pool_params(sched: str, current: dict, changes: dict) -> dict:
    """Pool-wide parameters (sysctl); libxl's checks and messages."""
    _check_sched(sched)
    out = dict(default_pool_params(sched))
    out.update(current or {})
    ch = {k: v for k, v in (changes or {}).items() if v is not None}
    if sched == "credit":
        if "tslice_ms" in ch:
            out["tslice_ms"] = _int(ch["tslice_ms"])
        if "ratelimit_us" in ch:
            out["ratelimit_us"] = _int(ch["ratelimit_us"])
        if "migration_delay_us" in ch:
            out["migration_delay_us"] = _int(ch["migration_delay_us"])
        t = out["tslice_ms"]
        if t < TSLICE_MIN_MS or t > TSLICE_MAX_MS:
            raise PyxlError(f"Time slice out of range, valid range is from "
                            f"{TSLICE_MIN_MS} to {TSLICE_MAX_MS}")
        _check_ratelimit(out["ratelimit_us"])
        if out["ratelimit_us"] > t * 1000:
            raise PyxlError("Ratelimit cannot be greater than timeslice")
        m = out["migration_delay_us"]
        if m < 0 or m > MIGR_DELAY_MAX_US:
            raise PyxlError(f"vcpu migration delay should be >= 0 and <= "
                            f"{MIGR_DELAY_MAX_US}us")
        return out
    if sched == "credit2":
        if "ratelimit_us" in ch:
            out["ratelimit_us"] = _int(ch["ratelimit_us"])
        _check_ratelimit(out["ratelimit_us"])
        return out
    if ch:
        raise PyxlError("Invalid argument")
    return out


def _check_ratelimit(r: int) -> None:
    if r != 0 and (r < RATELIMIT_MIN_US or r > RATELIMIT_MAX_US):
        raise PyxlError(f"Ratelimit out of range, valid range is from "
                        f"{RATELIMIT_MIN_US} to {RATELIMIT_MAX_US}")


def _sedf_adjust(out: dict, ch: dict) -> dict:
    """SEDF's sedf_adjust rules (Xen 4.5); values in ms as libxl passed them."""
    for k in ("period", "slice", "latency", "weight"):
        if k in ch:
            out[k] = _int(ch[k])
    if "extratime" in ch:
        out["extratime"] = 1 if _int(ch["extratime"]) else 0
    if "weight" not in ch and ("period" in ch or "slice" in ch):
        out["weight"] = 0  # xl: setting -p clears the weight
    period, slc, weight = out["period"], out["slice"], out["weight"]
    fail = PyxlError("setting domain sched sedf: Invalid argument")
    if period == 0 and weight == 0:
        raise fail
    if weight == 0:
        p_ns, s_ns = period * 1_000_000, slc * 1_000_000
        if not (SEDF_PERIOD_MIN_NS <= p_ns <= SEDF_PERIOD_MAX_NS):
            raise fail
        if not (SEDF_SLICE_MIN_NS <= s_ns <= p_ns):
            raise fail
    elif weight < 0:
        raise fail
    return out
