"""The four schedulers against the project's acceptance criteria."""

import copy

import pytest

from pyxl.errors import PyxlError
from pyxl.hv.model import CpuPool, Domain, Vcpu
from pyxl.hv.runstate import RUNSTATES
from pyxl.hv.sched import (
    SCHEDULERS, advance_pool, default_domain_params, default_pool_params,
    default_vcpu_params,
)
from pyxl.toolstack.sched import (
    validate_domain_params, validate_pool_params, validate_vcpu_params,
)

S = 10**9
MS = 10**6


def make(sched, workloads, params=None, ncpu=1, nvcpus=1, pool_params=None):
    doms = []
    params = params or [{}] * len(workloads)
    for i, (wl, p) in enumerate(zip(workloads, params)):
        d = Domain(domid=i + 1, name=f"vm{i + 1}", uuid=f"u{i}", sched_params=dict(p))
        d.vcpus = [Vcpu(domid=d.domid, vcpuid=j, workload=wl) for j in range(nvcpus)]
        doms.append(d)
    pool = CpuPool(poolid=0, name="Pool-0", sched=sched, cpus=list(range(ncpu)),
                   params=dict(pool_params or default_pool_params(sched)))
    return pool, doms


def shares(doms, elapsed, ncpu=1):
    return [100.0 * d.cpu_time / (elapsed * ncpu) for d in doms]


def assert_shares(got, want, tol=2.0):
    for g, w in zip(got, want):
        assert abs(g - w) <= tol, (got, want)


def snapshot(pool, doms):
    return (copy.deepcopy(pool.sched_state),
            [(v.runstate, v.cpu, dict(v.time), copy.deepcopy(v.sched_state),
              copy.deepcopy(v.wl_state)) for d in doms for v in d.vcpus])


# ------------------------------------------------------------------ credit
def test_credit_shares_follow_weights():
    pool, doms = make("credit", ["busy"] * 3, [{"weight": 64}, {"weight": 64}, {"weight": 128}])
    advance_pool(pool, doms, 0, 10 * S)
    assert_shares(shares(doms, 10 * S), [25, 25, 50])


def test_credit_cap_holds_and_the_rest_goes_to_the_other():
    pool, doms = make("credit", ["busy", "busy", "idle"],
                      [{"weight": 64, "cap": 25}, {"weight": 64}, {"weight": 128}])
    advance_pool(pool, doms, 0, 10 * S)
    got = shares(doms, 10 * S)
    assert_shares(got[:2], [25, 75])
    assert got[2] < 1
    # the capped vCPU spends its parked time offline, as Xen pauses it
    assert doms[0].vcpus[0].time["offline"] > 4 * S


def test_credit_trace_reports_priorities_and_accounting():
    pool, doms = make("credit", ["busy", "idle"])
    recs = []
    advance_pool(pool, doms, 0, 500 * MS, trace=recs.append)
    reasons = {r["reason"] for r in recs}
    assert "accounting" in reasons
    assert any(r["reason"].startswith("preempt") or "boost" in r["reason"] for r in recs)
    assert all("pri" in r for r in recs if r["reason"] == "slice end")


# ----------------------------------------------------------------- credit2
def test_credit2_shares_follow_weights():
    pool, doms = make("credit2", ["busy"] * 3, [{"weight": 64}, {"weight": 64}, {"weight": 128}])
    advance_pool(pool, doms, 0, 10 * S)
    assert_shares(shares(doms, 10 * S), [25, 25, 50])


def test_credit2_cap_holds():
    pool, doms = make("credit2", ["busy", "busy", "idle"],
                      [{"weight": 64, "cap": 25}, {"weight": 64}, {"weight": 128}])
    advance_pool(pool, doms, 0, 10 * S)
    assert_shares(shares(doms, 10 * S)[:2], [25, 75])


# -------------------------------------------------------------------- sedf
SEDF_RES = [{"period": 100, "slice": 20, "latency": 0, "weight": 0},
            {"period": 10, "slice": 2, "latency": 0, "weight": 0},
            {"period": 10, "slice": 5, "latency": 0, "weight": 0}]


def test_sedf_every_domain_gets_its_slice_in_every_period():
    params = [dict(p, extratime=0) for p in SEDF_RES]
    pool, doms = make("sedf", ["busy"] * 3, params)
    prev = [0, 0, 0]
    for k in range(50):  # 500 ms in 10 ms steps (also exercises resuming)
        advance_pool(pool, doms, k * 10 * MS, (k + 1) * 10 * MS)
        now = [d.cpu_time for d in doms]
        assert now[1] - prev[1] == 2 * MS
        assert now[2] - prev[2] == 5 * MS
        prev[1:] = now[1:]
        if k % 10 == 9:  # the end of one of vm1's 100 ms periods
            assert now[0] - prev[0] == 20 * MS, k
            prev[0] = now[0]


def test_sedf_extratime_shares_spare_time():
    pool, doms = make("sedf", ["busy"] * 3, [dict(p, extratime=0) for p in SEDF_RES])
    advance_pool(pool, doms, 0, 1 * S)
    assert_shares(shares(doms, S), [20, 20, 50], tol=0.5)
    pool, doms = make("sedf", ["busy"] * 3, [dict(p, extratime=1) for p in SEDF_RES])
    advance_pool(pool, doms, 0, 1 * S)
    got = shares(doms, S)
    assert sum(got) > 99.5  # the spare 10% is used
    assert got[0] > 20 and got[1] > 20 and got[2] > 50


# -------------------------------------------------------------------- rtds
def test_rtds_budget_gives_its_share_when_others_are_busy():
    pool, doms = make("rtds", ["busy"] * 3, [
        {"period": 10000, "budget": 4000, "extratime": 0},
        {"period": 10000, "budget": 3000, "extratime": 0},
        {"period": 10000, "budget": 3000, "extratime": 0}])
    advance_pool(pool, doms, 0, 10 * S)
    assert_shares(shares(doms, 10 * S), [40, 30, 30], tol=0.5)


def test_rtds_extratime_takes_more_when_others_are_idle():
    pool, doms = make("rtds", ["busy", "idle", "idle"], [
        {"period": 10000, "budget": 4000, "extratime": 1}, {}, {}])
    advance_pool(pool, doms, 0, 10 * S)
    assert shares(doms, 10 * S)[0] > 95
    pool, doms = make("rtds", ["busy", "idle", "idle"], [
        {"period": 10000, "budget": 4000, "extratime": 0}, {}, {}])
    advance_pool(pool, doms, 0, 10 * S)
    assert_shares(shares(doms, 10 * S)[:1], [40], tol=0.5)


def test_rtds_extratime_spare_split_by_budget():
    pool, doms = make("rtds", ["busy", "busy"], [
        {"period": 10000, "budget": 4000, "extratime": 1},
        {"period": 10000, "budget": 1000, "extratime": 1}])
    advance_pool(pool, doms, 0, 2 * S)
    assert_shares(shares(doms, 2 * S), [80, 20])


# --------------------------------------------------------- all schedulers
@pytest.mark.parametrize("sched", SCHEDULERS)
def test_hard_affinity_is_respected(sched):
    pool, doms = make(sched, ["busy"] * 8, ncpu=8, nvcpus=2)
    doms[0].vcpus[0].hard_affinity = [2]
    recs = []
    advance_pool(pool, doms, 0, 1 * S, trace=recs.append)
    ran_on = {r["pcpu"] for r in recs if r["vcpu"] == "d1v0" and r["pcpu"] is not None}
    assert ran_on == {2}
    assert doms[0].vcpus[0].cpu == 2
    assert doms[0].vcpus[0].cpu_time > 0.3 * S


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_work_conserving(sched):
    pool, doms = make(sched, ["busy"] * 3, ncpu=2)
    advance_pool(pool, doms, 0, 1 * S)
    busy = sum(d.cpu_time for d in doms)
    assert busy >= 0.99 * 2 * S


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_idle_vcpus_are_mostly_blocked_and_times_sum(sched):
    pool, doms = make(sched, ["idle", "idle", "busy"], ncpu=2, nvcpus=2)
    advance_pool(pool, doms, 0, 3 * S)
    for d in doms:
        for v in d.vcpus:
            assert sum(v.time.values()) == 3 * S
            assert set(v.time) == set(RUNSTATES)
    for v in doms[0].vcpus:
        assert v.time["blocked"] > 0.95 * 3 * S
        assert 0 < v.time["running"] < 0.01 * 3 * S


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_deterministic(sched):
    runs = []
    for _ in range(2):
        pool, doms = make(sched, ["busy", "bursty", "periodic:3ms/10ms", "idle"], ncpu=2)
        recs = []
        advance_pool(pool, doms, 0, 700 * MS, seed=42, trace=recs.append)
        advance_pool(pool, doms, 700 * MS, 30 * S, seed=42, trace=recs.append)
        runs.append((snapshot(pool, doms), recs))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_split_interval_matches_one_interval(sched):
    def run(cuts):
        pool, doms = make(sched, ["busy", "bursty", "periodic:3ms/10ms", "idle"],
                          ncpu=2, nvcpus=2)
        for a, b in zip(cuts, cuts[1:]):
            advance_pool(pool, doms, a, b, seed=3)
        return [dict(v.time) for d in doms for v in d.vcpus]
    # Within the explicit window a saved state resumes exactly where it
    # stopped, so cutting the interval changes nothing at all.
    whole = run([0, 1500 * MS])
    assert run([0, 333 * MS, 700 * MS, 1500 * MS]) == whole
    assert run([0, 1 * MS, 2 * MS, 1499 * MS, 1500 * MS]) == whole


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_long_gap_is_cheap_and_consistent(sched):
    pool, doms = make(sched, ["busy", "busy", "idle"], ncpu=1)
    recs = []
    day = 86400 * S
    advance_pool(pool, doms, 0, day, trace=recs.append)
    assert recs[-1]["reason"] == "extrapolated"
    for d in doms:
        assert sum(d.vcpus[0].time.values()) == day
    got = shares(doms, day)
    assert_shares(got[:2], [50, 50], tol=3)
    assert got[2] < 1
    # and it carries on from there
    advance_pool(pool, doms, day, day + S)
    assert sum(doms[0].vcpus[0].time.values()) == day + S


@pytest.mark.parametrize("sched", SCHEDULERS)
def test_paused_domain_is_offline_and_others_take_over(sched):
    pool, doms = make(sched, ["busy", "busy"])
    advance_pool(pool, doms, 0, 500 * MS)
    doms[0].pause_count = 1
    before = dict(doms[0].vcpus[0].time)
    advance_pool(pool, doms, 500 * MS, 1 * S)
    v = doms[0].vcpus[0]
    assert v.runstate == "offline"
    assert v.time["offline"] - before["offline"] == 500 * MS
    assert v.time["running"] == before["running"]
    doms[0].pause_count = 0
    advance_pool(pool, doms, 1 * S, 2 * S)
    assert v.time["running"] > before["running"]


def test_workload_change_takes_effect():
    pool, doms = make("credit", ["idle", "busy"])
    advance_pool(pool, doms, 0, 1 * S)
    doms[0].vcpus[0].workload = "busy"
    t0 = doms[0].cpu_time
    advance_pool(pool, doms, 1 * S, 3 * S)
    assert doms[0].cpu_time - t0 > 0.8 * S


# -------------------------------------------------------------- parameters
def test_defaults():
    assert default_domain_params("credit") == {"weight": 256, "cap": 0}
    assert default_pool_params("credit") == {"tslice_ms": 30, "ratelimit_us": 1000,
                                              "migration_delay_us": 0}
    assert default_pool_params("credit2") == {"ratelimit_us": 1000}
    assert default_vcpu_params("rtds") == {"period": 10000, "budget": 4000, "extratime": 1}
    assert default_domain_params("sedf")["period"] == 100


@pytest.mark.parametrize("changes,msg", [
    ({"weight": 0}, "Cpu weight out of range, valid values are within range from 1 to 65535"),
    ({"weight": 65536}, "Cpu weight out of range, valid values are within range from 1 to 65535"),
    ({"cap": 201}, "Cpu cap out of range, valid range is from 0 to 200 for specified number of vcpus"),
])
def test_credit_domain_validation(changes, msg):
    for sched in ("credit", "credit2"):
        with pytest.raises(PyxlError) as e:
            validate_domain_params(sched, {}, changes, nr_vcpus=2)
        assert e.value.message == msg
    assert validate_domain_params("credit", {}, {"weight": 512, "cap": 200}, 2) == \
        {"weight": 512, "cap": 200}


@pytest.mark.parametrize("changes,msg", [
    ({"tslice_ms": 0}, "Time slice out of range, valid range is from 1 to 1000"),
    ({"ratelimit_us": 50}, "Ratelimit out of range, valid range is from 100 to 500000"),
    ({"tslice_ms": 1, "ratelimit_us": 2000}, "Ratelimit cannot be greater than timeslice"),
    ({"migration_delay_us": 100001}, "vcpu migration delay should be >= 0 and <= 100000us"),
])
def test_credit_pool_validation(changes, msg):
    with pytest.raises(PyxlError) as e:
        validate_pool_params("credit", default_pool_params("credit"), changes)
    assert e.value.message == msg
    assert validate_pool_params("credit", {}, {"ratelimit_us": 0})["ratelimit_us"] == 0


def test_rtds_validation():
    with pytest.raises(PyxlError, match=r"^Invalid VCPU period of 0 \(it should be >= 1\)$"):
        validate_vcpu_params("rtds", {}, {"period": 0}, 0, 1)
    with pytest.raises(PyxlError, match=r"^VCPU budget must be smaller than or equal to "
                                        r"period, but 200 > 100$"):
        validate_vcpu_params("rtds", {}, {"period": 100, "budget": 200}, 0, 1)
    with pytest.raises(PyxlError, match=r"^Invalid VCPU 4: valid range is \[0, 1\]$"):
        validate_vcpu_params("rtds", {}, {"period": 100}, 4, 1)
    with pytest.raises(PyxlError, match="per-VCPU parameter setting not supported"):
        validate_vcpu_params("credit", {}, {}, 0, 0)


def test_sedf_validation():
    ok = validate_domain_params("sedf", {}, {"period": 10, "slice": 2, "extratime": 0}, 1)
    assert ok["weight"] == 0 and ok["slice"] == 2
    for bad in ({"period": 0, "weight": 0}, {"period": 10, "slice": 20},
                {"period": 20000, "slice": 1}, {"extratime": 0}):
        with pytest.raises(PyxlError, match="^setting domain sched sedf: Invalid argument$"):
            validate_domain_params("sedf", {}, bad, 1)


def test_sedf_weight_driven_domains_share_by_weight():
    pool, doms = make("sedf", ["busy", "busy"], [
        {"period": 100, "slice": 0, "latency": 0, "extratime": 0, "weight": 1},
        {"period": 100, "slice": 0, "latency": 0, "extratime": 0, "weight": 3}])
    # slice = weight x (100 ms - 5 ms) / 4; the first period starts one slice
    # after the first wake (as in sched_sedf.c), so measure over 10 s
    advance_pool(pool, doms, 0, 10 * S)
    assert_shares(shares(doms, 10 * S), [23.75, 71.25], tol=0.5)
