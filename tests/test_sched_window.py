"""The long-gap window when nothing contends (issue 9): shorter, and exact.

When every vCPU that may want a pCPU finds one free at once, the runstates
repeat with the periods in play, so a window of whole cycles extrapolates
exactly: the times reached must be those of simulating every event.
"""

import pytest

from pyxl.hv.model import CpuPool, Domain, Vcpu
from pyxl.hv.sched import (
    SCHEDULERS, UNCONTENDED_MIN_NS, advance_pool, default_pool_params, open_engine,
    window_ns,
)
import pyxl.hv.sched as sched_pkg

S = 10**9
MS = 10**6


def make(sched, workloads, ncpu, params=None, hard=None):
    doms = []
    for i, wl in enumerate(workloads):
        d = Domain(domid=i + 1, name=f"vm{i + 1}", uuid=f"u{i}",
                   sched_params=dict((params or {}).get(i, {})))
        v = Vcpu(domid=d.domid, vcpuid=0, workload=wl)
        if hard and i in hard:
            v.hard_affinity = hard[i]
        d.vcpus = [v]
        doms.append(d)
    pool = CpuPool(poolid=0, name="Pool-0", sched=sched, cpus=list(range(ncpu)),
                   params=dict(default_pool_params(sched)))
    return pool, doms


def window_of(sched, *args, **kw):
    pool, doms = make(sched, *args, **kw)
    return window_ns(open_engine(pool, doms, 0))


def usual_window(sched, *args, **kw):
    pool, doms = make(sched, *args, **kw)
    eng = open_engine(pool, doms, 0)
    eng.uncontended = lambda: False
    return window_ns(eng)


MIXED = ["busy", "idle", "periodic:5ms/20ms", "busy", "periodic:3ms/10ms", "idle"]


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_uncontended_window_is_shorter(sched):
    assert window_of(sched, ["busy"] * 4, ncpu=4) == UNCONTENDED_MIN_NS
    # idle vCPUs repeat every second: one second to settle, one sampled
    assert window_of(sched, MIXED, ncpu=8) == 2 * S
    assert usual_window(sched, MIXED, ncpu=8) >= 4 * S


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_contention_keeps_the_usual_window(sched):
    # more vCPUs than pCPUs
    assert window_of(sched, MIXED, ncpu=4) == usual_window(sched, MIXED, ncpu=4)
    # random lengths never repeat
    wl = ["busy", "bursty"]
    assert window_of(sched, wl, ncpu=4) == usual_window(sched, wl, ncpu=4)


def test_caps_pins_and_reservations_count_as_contention():
    assert window_of("credit", ["busy"] * 2, ncpu=4, params={0: {"cap": 50}}) \
        == usual_window("credit", ["busy"] * 2, ncpu=4)
    assert window_of("credit2", ["busy"] * 2, ncpu=4, params={0: {"cap": 50}}) \
        == usual_window("credit2", ["busy"] * 2, ncpu=4)
    assert window_of("credit", ["busy"] * 2, ncpu=4, hard={0: [1], 1: [1]}) \
        == usual_window("credit", ["busy"] * 2, ncpu=4)
    pool, doms = make("rtds", ["busy"] * 2, ncpu=4)
    doms[0].vcpus[0].sched_params = {"period": 10000, "budget": 4000, "extratime": 0}
    eng = open_engine(pool, doms, 0)
    assert not eng.uncontended()


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_uncontended_shortcut_equals_full_simulation(sched, monkeypatch):
    # gaps that are not whole cycles: whole cycles are extrapolated, the rest
    # simulated, so the times are those of simulating every event
    wl = ["busy", "idle", "periodic:3ms/10ms", "periodic:4ms/25ms"]
    cuts = [0, 2812 * MS, 30812 * MS, 90 * S + 7 * MS]

    def run():
        pool, doms = make(sched, wl, ncpu=4)
        for a, b in zip(cuts, cuts[1:]):
            advance_pool(pool, doms, a, b, seed=7)
        return [dict(v.time) for d in doms for v in d.vcpus]
    short = run()
    assert all(sum(t.values()) == cuts[-1] for t in short)
    assert short[0]["running"] == cuts[-1]  # busy
    monkeypatch.setattr(sched_pkg, "_window", lambda eng: (10**30, 0))
    assert run() == short
