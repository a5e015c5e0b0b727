"""Steady pools: reading a pool's rows at a later time without running its
scheduler gives exactly what running every scheduling event gives."""

from __future__ import annotations

import copy
import json
import sqlite3

import pytest

from pyxl.hv.model import CpuPool, Domain, Vcpu
from pyxl.hv.sched import default_domain_params, default_pool_params, open_engine
from pyxl.hv.steady import evolve, headroom, running_at

S = 10**9


def _host(sched: str, ncpu: int, workloads: list[str]):
    pool = CpuPool(poolid=0, name="Pool-0", sched=sched, cpus=list(range(ncpu)),
                   params=default_pool_params(sched))
    doms = []
    for i, wl in enumerate(workloads):
        d = Domain(domid=i + 1, name=f"vm{i + 1}", uuid=f"u{i}",
                   sched_params=default_domain_params(sched))
        d.vcpus = [Vcpu(domid=d.domid, vcpuid=0, workload=wl)]
        doms.append(d)
    return pool, doms


def _run(pool, doms, t0: int, t1: int, seed: int = 7):
    eng = open_engine(pool, doms, t0, seed=seed)
    eng.run(t1)
    eng.save()
    return eng


MIXES = [
    # more vCPUs than pCPUs, whose short jobs never pile up beyond them
    (4, ["busy"] + ["idle"] * 40 + ["periodic:3ms/50ms"]),
    (2, ["idle"] * 25),
    (8, ["busy"] * 3 + ["periodic:3ms/10ms", "periodic:1ms/7ms"] + ["idle"] * 60),
    (4, ["busy"] * 2 + ["idle"] * 10),
]

@pytest.mark.parametrize("sched", ["credit", "credit2", "rtds"])
@pytest.mark.parametrize("ncpu,workloads", MIXES)
def test_evolving_rows_equals_running_every_event(sched, ncpu, workloads):
    pool, doms = _host(sched, ncpu, workloads)
    _run(pool, doms, 0, 3 * S + 123_457)
    assert pool.sched_state.get("steady") is not None
    t1 = pool.sched_state["t"]
    for t2 in (t1 + 1, t1 + 2_000_001, t1 + 7 * S + 999):
        _assert_evolve_is_exact(pool, doms, t1, t2)


def _assert_evolve_is_exact(pool, doms, t1: int, t2: int) -> None:
    """Every vCPU's row evolved from t1 to t2 equals an exact run's."""
    exact = copy.deepcopy(doms)
    _run(copy.deepcopy(pool), exact, t1, t2)
    for d_exact, d_ours in zip(exact, doms):
        for ve, vo in zip(d_exact.vcpus, d_ours.vcpus):
            v = copy.deepcopy(vo)
            evolve(v, True, t1, t2, seed=7)
            assert (v.runstate, v.time, v.wl_state) == (ve.runstate, ve.time, ve.wl_state), \
                (ve.workload, t2)


def test_a_pool_that_can_pile_up_is_not_steady():
    # 3 busy vCPUs on 2 pCPUs wait for each other
    pool, doms = _host("credit", 2, ["busy"] * 3)
    eng = _run(pool, doms, 0, S)
    assert headroom(eng) is None and "steady" not in pool.sched_state
    # RTDS can hold back a job released as the last one ends, pCPUs idle or not
    pool, doms = _host("rtds", 8, ["periodic:4ms/4ms", "idle"])
    _run(pool, doms, 0, S)
    assert "steady" not in pool.sched_state
    # SEDF's reservations can hold a vCPU back with pCPUs idle: never steady
    pool, doms = _host("sedf", 4, ["idle"])
    _run(pool, doms, 0, S)
    assert "steady" not in pool.sched_state


def test_capped_or_pinned_vcpus_keep_the_scheduler_running():
    pool, doms = _host("credit", 4, ["idle"] * 3)
    doms[0].sched_params["cap"] = 50
    _run(pool, doms, 0, S)
    assert "steady" not in pool.sched_state
    pool, doms = _host("credit", 4, ["idle"] * 3)
    doms[1].vcpus[0].hard_affinity = [0]
    _run(pool, doms, 0, S)
    assert "steady" not in pool.sched_state


def test_running_at_reads_a_row_without_the_model():
    pool, doms = _host("credit", 4, ["idle"] * 6 + ["busy"])
    _run(pool, doms, 0, 2 * S)
    t1 = pool.sched_state["t"]
    for d in doms:
        v = d.vcpus[0]
        later = copy.deepcopy(v)
        evolve(later, True, t1, t1 + 5 * S + 3, seed=7)
        assert running_at(v.runstate, v.time["running"], v.workload, v.wl_state, True,
                          t1, t1 + 5 * S + 3, seed=7, domid=v.domid, vcpuid=0) \
            == (later.runstate, later.time["running"])


def _vcpu_rows(state_dir) -> list:
    conn = sqlite3.connect(state_dir / "localhost" / "state.db")
    try:
        return conn.execute("SELECT domid, vcpuid, data FROM vcpus ORDER BY 1, 2").fetchall()
    finally:
        conn.close()


def _pool_state(state_dir) -> dict:
    conn = sqlite3.connect(state_dir / "localhost" / "state.db")
    try:
        return json.loads(conn.execute("SELECT data FROM cpupools WHERE poolid = 0")
                          .fetchone()[0])["sched_state"]
    finally:
        conn.close()


def test_an_idle_host_keeps_its_rows_while_time_passes(pyxl, guest_cfg, state_dir):
    for name in ("vm1", "vm2"):
        assert pyxl("create", "-q", guest_cfg(name)).code == 0
    assert pyxl("clock", "advance", "10s").code == 0  # booted, idle
    assert _pool_state(state_dir).get("steady") is not None
    rows = _vcpu_rows(state_dir)
    before = pyxl("vcpu-list").out
    assert pyxl("clock", "advance", "1h").code == 0
    assert _vcpu_rows(state_dir) == rows  # nothing rewritten
    after = pyxl("vcpu-list").out
    assert after != before  # yet the times moved on: 2 ms a second each
    # a pause settles that domain alone; the others' rows stand
    assert pyxl("pause", "vm1").code == 0
    changed = {r[0] for r, s in zip(_vcpu_rows(state_dir), rows) if r != s}
    assert changed == {1}


def test_unpausing_beyond_the_room_left_settles_the_pool(pyxl, write_cfg, state_dir):
    for i in range(3):
        assert pyxl("create", "-q", write_cfg(
            f'name="b{i}"\ntype="pv"\nkernel="/k"\nmemory=64\nvcpus=2\n'
            f'workload="busy"\n', f"b{i}.cfg")).code == 0
    assert pyxl("clock", "advance", "10s").code == 0
    state = _pool_state(state_dir)
    # 6 busy vCPUs and Domain-0's idle ones on 8 pCPUs: no room for 2 more busy
    assert pyxl("create", "-q", write_cfg(
        'name="b3"\ntype="pv"\nkernel="/k"\nmemory=64\nvcpus=2\nworkload="busy"\n',
        "b3.cfg")).code == 0
    assert pyxl("clock", "advance", "10s").code == 0
    assert state.get("steady") is not None
    assert _pool_state(state_dir).get("steady") is None
    out = pyxl("list").out.splitlines()[1:]
    times = {line.split()[0]: float(line.split()[-1]) for line in out}
    # 8 busy vCPUs and Domain-0 share 8 pCPUs: nobody gets more than its time
    assert times["b0"] <= 40.1 and times["b3"] > 1.0


def test_random_mixes_that_look_steady_are_exact():
    """Many random mixes (seeded): wherever the pool calls itself steady,
    evolving its rows matches the exact run, to the nanosecond."""
    import random

    rnd = random.Random(5)
    steady = 0
    for _ in range(60):
        sched = rnd.choice(["rtds", "credit", "credit2"])
        workloads = []
        for _ in range(rnd.randint(1, 30)):
            k = rnd.random()
            if k < 0.1:
                workloads.append("busy")
            elif k < 0.6:
                workloads.append("idle")
            else:
                period = rnd.choice([3, 4, 7, 10, 20, 50]) * 1000
                workloads.append(f"periodic:{rnd.randint(1, period)}us/{period}us")
        pool, doms = _host(sched, rnd.choice([2, 4, 8]), workloads)
        _run(pool, doms, 0, 2 * S + rnd.randint(0, 50_000_000))
        if pool.sched_state.get("steady") is None:
            continue
        steady += 1
        t1 = pool.sched_state["t"]
        _assert_evolve_is_exact(pool, doms, t1, t1 + rnd.randint(1, 5 * S))
    assert steady >= 10


def test_running_at_in_closed_form_matches_the_general_path():
    from pyxl.hv import steady

    pool, doms = _host("credit", 8, ["busy", "periodic:4ms/4ms", "periodic:1ms/7ms"]
                       + ["idle"] * 20)
    _run(pool, doms, 0, 2 * S + 4_321)
    t1 = pool.sched_state["t"]
    for d in doms:
        v = d.vcpus[0]
        for dt in (1, 999_999, 2_000_000, 7_000_000, 3 * S + 5):
            quick = steady._running_quick(v.runstate, v.time["running"], v.workload,
                                          v.wl_state, t1, t1 + dt)
            later = copy.deepcopy(v)
            evolve(later, True, t1, t1 + dt, seed=7)
            assert quick == (later.runstate, later.time["running"])


def test_a_new_workload_on_a_blocked_vcpu_runs_at_once(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg("vm2", vcpus=2)).code == 0
    assert pyxl("clock", "advance", "5s").code == 0
    assert pyxl("workload", "vm2", "busy").code == 0
    assert pyxl("clock", "advance", "1s").code == 0
    line = pyxl("list", "vm2").out.splitlines()[1].split()
    assert line[4] == "r-----" and float(line[5]) >= 2.0  # both vCPUs ran the second


def test_a_steady_pool_gives_room_once_and_takes_it_back(pyxl, write_cfg, state_dir):
    def busy(name):
        return write_cfg(f'name="{name}"\ntype="pv"\nkernel="/k"\nmemory=64\nvcpus=2\n'
                         'workload="busy"\n', f"{name}.cfg")

    assert pyxl("clock", "advance", "1s").code == 0
    room = _pool_state(state_dir)["steady"]  # 8 pCPUs, Domain-0's idle vCPUs
    assert room >= 4
    # a loop of create and destroy never runs the pool out of room
    for i in range(room):
        assert pyxl("create", "-q", busy(f"b{i}")).code == 0
        assert pyxl("destroy", f"b{i}").code == 0
    assert _pool_state(state_dir)["steady"] == room
    # booting (a busy vCPU, then the config's workload on each) takes the room once
    assert pyxl("create", "-q", busy("kept")).code == 0
    assert pyxl("clock", "advance", "5s").code == 0
    assert _pool_state(state_dir)["steady"] == room - 2
    assert pyxl("pause", "kept").code == 0
    assert _pool_state(state_dir)["steady"] == room
