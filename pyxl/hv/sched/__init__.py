"""The four schedulers a pool can run, as discrete-event simulations.

`advance_pool(pool, domains, t0, t1)` runs the pool's scheduler over the
vCPUs of its domains from simulated time t0 to t1 (ns) and updates, in place,
each vCPU's runstate, pCPU, per-runstate times, `sched_state` and `wl_state`,
and the pool's `sched_state`. Same inputs, same outputs: the only randomness is
the workload PRNG keyed by `seed`. `open_engine` and `run_engine` are its two
halves, for a caller that keeps one engine running over many steps (the
hypervisor does, within a command) and saves it only when the model is read.

Long gaps (the steady-state shortcut). A command may come days of simulated
time after the previous one, and simulating every 10 ms tick of a day is too
slow for a command line. So at most a bounded window is simulated explicitly:

    W = clamp(4 x the longest period in play, the engine's minimum, 20 s)

(periods: workload cycles, RTDS and SEDF reservations). The minimum is 2 s,
except for credit, whose minimum is 8 s: credit hands out whole 30 ms slices,
so a 1 s sample (the second half of a 2 s window) can be a slice or so off per
domain, and extrapolating it over a long gap put a 64/64/128 split up to 3.6
points away from 25/25/50 (the exact simulation stays within 1.5); a 4 s
sample keeps it within 1.5 too. Both stay cheap: under 0.1 s of CPU for 128
vCPUs on 16 pCPUs.

When nothing contends (`Engine.uncontended()`: each vCPU that may want a pCPU
always finds one free at once, no bursty workload, no cap, RTDS extratime
everywhere, SEDF at most one vCPU per pCPU), the runstates repeat exactly
with L = lcm(periods in play), so W is the smallest multiple of 2L that is at
least 200 ms (`UNCONTENDED_MIN_NS`; 200 ms with no period at all, all busy),
if that is shorter than the rule above: both halves are whole cycles, the
first settles and the second is an exact sample (`window_ns`). Then only
whole cycles of the gap are extrapolated (step 2) and the rest, less than
one cycle, is simulated from the relabelled state (after step 3), so the
times are exactly those of simulating every event. Not while tracing: a
trace is always simulated with the usual window.

If t1 - t0 <= W the whole interval is simulated. Otherwise:

1. simulate [t0, t0 + W] exactly;
2. extrapolate the remaining gap G = t1 - t0 - W: each vCPU's G ns are split
   over its runstates in the proportions it showed in the second half of the
   window (the first half lets start-up transients such as wake-up boosts and
   the first credit periods settle; integer
   largest-remainder apportionment, ties in runstate order, so the times still
   sum exactly to the elapsed time);
3. carry on from the state reached at t0 + W as if it were the state at t1:
   all saved scheduler and workload times are relative to the save moment, so
   this is a relabelling, not a recomputation.

The trace gets one record with reason "extrapolated" for the skipped gap.

A gap after a gap (the kept sample). When something contends, step 2's
proportions (each vCPU's runstate times over the sampled half) are kept in
the pool's state with the moment the pool was left at (t1) and a digest of
what they depend on besides time: the scheduler, its pCPUs and parameters,
and each vCPU's eligibility, workload, affinities and parameters. The next
long gap that starts at that very moment, with the same digest, is
extrapolated from them at once, without simulating a window: nothing has
run since that could have moved the pool away from the state the sample
describes. Anything that runs the scheduler or saves it (a shorter advance,
a create, a pause, new parameters) drops the sample, and the next long gap
samples afresh. So a script that advances a busy host by minutes at a time
pays for one window, not one per command. Not while tracing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from pyxl.hv.runstate import RUNSTATES
from pyxl.hv.sched.params import (
    SCHEDULERS,
    default_domain_params,
    default_pool_params,
    default_vcpu_params,
)

if TYPE_CHECKING:
    from pyxl.hv.sched.engine import Engine

__all__ = [
    "SCHEDULERS", "advance_pool", "open_engine", "run_engine", "default_domain_params", "default_pool_params",
    "default_vcpu_params", "WINDOW_MIN_NS", "WINDOW_MAX_NS", "UNCONTENDED_MIN_NS",
    "window_ns",
]

WINDOW_MIN_NS = 2_000_000_000
WINDOW_MAX_NS = 20_000_000_000
UNCONTENDED_MIN_NS = 200_000_000


def _engine_class(sched: str):
    if sched == "credit":
        from pyxl.hv.sched.credit import CreditEngine
        return CreditEngine
    if sched == "credit2":
        from pyxl.hv.sched.credit2 import Credit2Engine
        return Credit2Engine
    if sched == "rtds":
        from pyxl.hv.sched.rtds import RtdsEngine
        return RtdsEngine
    if sched == "sedf":
        from pyxl.hv.sched.sedf import SedfEngine
        return SedfEngine
    raise ValueError(f"unknown scheduler {sched!r}")


def advance_pool(pool, domains, t0: int, t1: int, *, seed: int = 0,
                 trace: Callable[[dict], None] | None = None) -> None:
    """Run `pool`'s scheduler from t0 to t1 over the vCPUs of `domains` that
    belong to it (see the module docstring for the long-gap method)."""
    eng = open_engine(pool, domains, t0, seed=seed, trace=trace)
    if run_engine(eng, t1):
        eng.save()


def open_engine(pool, domains, t0: int, *, seed: int = 0,
                trace: Callable[[dict], None] | None = None) -> Engine:
    """`pool`'s scheduler at t0, loaded from the state saved in the model."""
    eng = _engine_class(pool.sched)(pool, domains, t0, seed, trace)
    eng.load()
    return eng


def run_engine(eng: Engine, t1: int) -> bool:
    """Run a loaded engine on to t1.

    True: it is at t1 and may run on; what it knows is written to the model
    only by `eng.save()`. False: the gap was long enough for the shortcut, so
    the model holds the state at t1 and the engine is spent (open another).
    """
    t0 = eng.now
    if t1 < t0:
        raise ValueError("time runs forward only")
    pool = eng.pool
    trace = eng.trace
    window, cycle = _window(eng)
    if t1 - t0 <= window:
        eng.run(t1)
        return True
    # Contended (cycle 0), not traced: the sample may be kept for the next gap.
    inputs = _inputs(eng) if not cycle and trace is None else None
    shares = _kept_shares(eng, inputs)
    if shares is not None:
        eng.run(t0)  # what is due at t0, as at the start of any run
        eng.save()
        for vs in eng.vss:
            _extrapolate(vs.v, shares[vs.key], t1 - t0)
        pool.sched_state["t"] = t1
        pool.sched_state["sample"] = {"at": t1, "inputs": inputs, "shares": shares}
        return False
    eng.run(t0 + window // 2)
    before = {vs.key: _flushed_times(vs, eng.now) for vs in eng.vss}
    eng.run(t0 + window)
    eng.save()
    gap = t1 - t0 - window
    # Nothing contends: extrapolate whole cycles only, and simulate the
    # part of a cycle that remains (below), so the times stay exact.
    rest = gap % cycle if cycle else 0
    gap -= rest
    shares = {}
    for vs in eng.vss:
        v = vs.v
        delta = [v.time[r] - before[vs.key][r] for r in RUNSTATES]
        if sum(delta) <= 0:
            delta[RUNSTATES.index(vs.state)] = 1
        _extrapolate(v, delta, gap)
        shares[vs.key] = delta
    pool.sched_state["t"] = t1 - rest
    if inputs is not None:
        pool.sched_state["sample"] = {"at": t1, "inputs": inputs, "shares": shares}
    if trace is not None:
        trace({"time": t0 + window, "pcpu": None, "vcpu": None, "prev": None,
               "reason": "extrapolated", "sched": pool.sched, "gap": gap,
               "until": t1})
    if rest:
        domains = list({id(vs.dom): vs.dom for vs in eng.vss}.values())
        tail = open_engine(pool, domains, t1 - rest, seed=eng.seed, trace=trace)
        tail.run(t1)
        tail.save()
    return False


def _extrapolate(v, shares: list[int], gap: int) -> None:
    """Add `gap` ns to v's runstate times in the proportions `shares`."""
    for r, add in zip(RUNSTATES, apportion(shares, gap)):
        v.time[r] += add


def _inputs(eng: Engine) -> str:
    """A digest of what a pool's long-run shares depend on besides time:
    the scheduler, its pCPUs and parameters, and each vCPU's eligibility,
    workload, affinities and parameters (the domain's and its own)."""
    import json
    import zlib

    pool = eng.pool
    parts = [pool.sched, sorted(pool.cpus), pool.params]
    for vs in eng.vss:
        v = vs.v
        parts.append([vs.key, vs.eligible, v.workload, vs.hard, vs.soft, v.sched_params,
                      vs.dom.sched_params])
    text = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    # the length and two checksums: a change that keeps all three is
    # vanishingly unlikely (hashlib would load OpenSSL, ~4 ms, for this)
    return f"{len(text)}:{zlib.crc32(text):08x}:{zlib.adler32(text):08x}"


def _kept_shares(eng: Engine, inputs: str | None) -> dict[str, list[int]] | None:
    """The shares sampled by the previous long gap, if the pool was left
    there (nothing ran or changed it since) and its inputs are the same;
    None otherwise (then a window is simulated afresh)."""
    if inputs is None:
        return None
    kept = eng.pool.sched_state.get("sample")
    if not isinstance(kept, dict) or kept.get("at") != eng.now \
            or kept.get("inputs") != inputs or not isinstance(kept.get("shares"), dict):
        return None
    shares = {}
    for vs in eng.vss:
        got = kept["shares"].get(vs.key)
        if not (isinstance(got, list) and len(got) == len(RUNSTATES)
                and all(type(x) is int and x >= 0 for x in got) and sum(got) > 0):
            return None  # damaged: sample afresh
        shares[vs.key] = got
    return shares


def window_ns(eng: Engine) -> int:
    """The window simulated exactly before a long gap is extrapolated (see
    the module docstring): shorter when nothing contends."""
    return _window(eng)[0]


def _window(eng: Engine) -> tuple[int, int]:
    """(window, cycle): cycle is L when nothing contends (1 ns when nothing
    is periodic: every vCPU busy), else 0."""
    window = min(max(4 * eng.longest_cycle(), eng.min_window_ns), WINDOW_MAX_NS)
    if eng.trace is not None or not eng.uncontended():
        return window, 0
    # No contention: the runstates repeat every L = lcm(periods in play), so
    # a window of two or more whole L (the first to settle, the rest sampled)
    # extrapolates whole cycles exactly.
    cycle = 1
    for p in eng.periods():
        if p > 0:
            cycle = math.lcm(cycle, p)
            if 2 * cycle >= window:
                return window, 0
    if cycle == 1:  # nothing periodic: all busy
        return min(window, UNCONTENDED_MIN_NS), 1
    short = 2 * cycle
    while short < UNCONTENDED_MIN_NS:
        short += 2 * cycle
    if short >= window:
        return window, 0
    return short, cycle


def _flushed_times(vs, now: int) -> dict:
    """vs's runstate times as they would read at `now`."""
    t = dict(vs.v.time)
    t[vs.state] += now - vs.since
    return t


def apportion(weights: list[int], total: int) -> list[int]:
    """Split `total` in proportion to `weights` (integers summing to total)."""
    s = sum(weights)
    if s <= 0:
        out = [0] * len(weights)
        if out:
            out[-1] = total  # nothing observed: count it as offline
        return out
    base = [w * total // s for w in weights]
    rem = total - sum(base)
    order = sorted(range(len(weights)), key=lambda i: (-(weights[i] * total % s), i))
    for i in order[:rem]:
        base[i] += 1
    return base
