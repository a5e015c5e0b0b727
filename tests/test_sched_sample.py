"""A long gap right after a long gap reuses the sample the first one took
(pyxl/hv/sched/__init__.py, "A gap after a gap"), and only then: anything
that ran the scheduler or changed what it decides on samples afresh."""

from __future__ import annotations

import pytest

from pyxl.hv.model import CpuPool, Domain, Vcpu
from pyxl.hv.runstate import RUNNING, RUNSTATES
from pyxl.hv.sched import SCHEDULERS, advance_pool, apportion, default_pool_params

S = 10**9


def contended(sched: str):
    """Three busy domains on two pCPUs (something always waits)."""
    doms = []
    for i in range(3):
        d = Domain(domid=i + 1, name=f"vm{i + 1}", uuid=f"u{i}", sched_params={})
        d.vcpus = [Vcpu(domid=d.domid, vcpuid=0, workload="busy")]
        doms.append(d)
    pool = CpuPool(poolid=0, name="Pool-0", sched=sched, cpus=[0, 1],
                   params=dict(default_pool_params(sched)))
    return pool, doms


def times(doms) -> list[list[int]]:
    return [[d.vcpus[0].time[r] for r in RUNSTATES] for d in doms]


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_a_gap_after_a_gap_is_extrapolated_from_the_kept_sample(sched):
    pool, doms = contended(sched)
    advance_pool(pool, doms, 0, 30 * S)
    kept = pool.sched_state["sample"]
    assert kept["at"] == 30 * S and len(kept["shares"]) == 3
    before = times(doms)
    advance_pool(pool, doms, 30 * S, 90 * S)
    gained = [[b - a for a, b in zip(x, y)] for x, y in zip(before, times(doms))]
    assert gained == [apportion(kept["shares"][f"d{d.domid}v0"], 60 * S) for d in doms]
    assert pool.sched_state["t"] == 90 * S
    assert pool.sched_state["sample"] == dict(kept, at=90 * S)


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_a_shorter_advance_in_between_drops_the_sample(sched):
    pool, doms = contended(sched)
    advance_pool(pool, doms, 0, 30 * S)
    assert pool.sched_state["sample"]["at"] == 30 * S
    advance_pool(pool, doms, 30 * S, 30 * S + 10**6)   # simulated, event by event
    assert "sample" not in pool.sched_state


def test_new_weights_are_sampled_afresh():
    pool, doms = contended("credit2")
    advance_pool(pool, doms, 0, 30 * S)
    kept = pool.sched_state["sample"]
    doms[0].sched_params["weight"] = 1024   # 4x the others'
    before = [d.vcpus[0].time[RUNNING] for d in doms]
    advance_pool(pool, doms, 30 * S, 90 * S)
    ran = [d.vcpus[0].time[RUNNING] - b for d, b in zip(doms, before)]
    assert pool.sched_state["sample"]["inputs"] != kept["inputs"]
    # 2 pCPUs for 60 s: the heavy vCPU gets a whole pCPU (weight 4 of 6, capped
    # by running on one pCPU at a time), the two others share the second
    assert ran[0] > 0.95 * 60 * S and max(ran[1:]) < 0.55 * 60 * S


def test_a_traced_gap_keeps_no_sample():
    pool, doms = contended("credit")
    advance_pool(pool, doms, 0, 30 * S, trace=lambda rec: None)
    assert "sample" not in pool.sched_state
    advance_pool(pool, doms, 30 * S, 60 * S)
    assert "sample" in pool.sched_state


def test_a_damaged_sample_is_ignored():
    pool, doms = contended("rtds")
    advance_pool(pool, doms, 0, 30 * S)
    pool.sched_state["sample"]["shares"]["d1v0"] = [1, -5, 0, 0]
    advance_pool(pool, doms, 30 * S, 90 * S)   # samples afresh
    assert pool.sched_state["sample"]["shares"]["d1v0"] != [1, -5, 0, 0]
    assert sum(map(sum, times(doms))) == 3 * 90 * S


def test_through_the_cli_a_new_weight_between_two_gaps_counts(pyxl, write_cfg):
    assert pyxl("host", "boot", "h", "--cpus", "2", "--sched", "credit2",
                "--memory", "4096").code == 0
    for name in ("a", "b", "c"):
        cfg = write_cfg(f'name="{name}"\ntype="pv"\nkernel="/k"\nmemory=64\n'
                        'workload="busy"\n', f"{name}.cfg")
        assert pyxl("--host", "h", "create", "-q", cfg).code == 0
    assert pyxl("--host", "h", "clock", "advance", "30s").code == 0
    assert pyxl("--host", "h", "sched-credit2", "-d", "a", "-w", "1024").code == 0

    def cpu_time(name: str) -> float:
        return float(pyxl("--host", "h", "vcpu-list", name).out.splitlines()[1].split()[5])

    before = {n: cpu_time(n) for n in "abc"}
    assert pyxl("--host", "h", "clock", "advance", "60s").code == 0
    ran = {n: cpu_time(n) - before[n] for n in "abc"}
    assert ran["a"] > 55 and ran["b"] < 35 and ran["c"] < 35
