"""The simulation core: one clock, one queue of guest events, scheduler engines
kept across steps, and xl's monitor keeping its own state beside the guest's."""

from __future__ import annotations

import json
import sqlite3

import pytest


def _db(state_dir, host="localhost"):
    return sqlite3.connect(state_dir / host / "state.db", isolation_level=None)


def _guest_row(state_dir, domid: int) -> dict:
    conn = _db(state_dir)
    try:
        return json.loads(conn.execute("SELECT guest FROM domains WHERE domid = ?",
                                       (domid,)).fetchone()[0])
    finally:
        conn.close()


def _ok(r):
    assert r.code == 0, r.err
    return r


def _count_calls(monkeypatch, module, name: str) -> list:
    """Record the first argument after `host` of every call to module.name."""
    calls = []
    real = getattr(module, name)

    def counting(*args, **kw):
        calls.append(args[1] if len(args) > 1 else None)
        return real(*args, **kw)

    monkeypatch.setattr(module, name, counting)
    return calls


# --- xl's monitor keeps its own state ---


def test_monitor_state_is_not_in_the_guest_state(pyxl, guest_cfg, state_dir):
    from pyxl.toolstack.session import open_ctx

    _ok(pyxl("create", "-q", guest_cfg(extra='on_crash = "preserve"\n')))
    _ok(pyxl("clock", "advance", "3s"))
    _ok(pyxl("sysrq", "vm1", "c"))
    _ok(pyxl("clock", "advance", "10ms"))
    assert "---sc-" in pyxl("list", "vm1").out
    assert not {"monitored", "monitor_log"} & _guest_row(state_dir, 1).keys()
    with open_ctx(None, write=False) as ctx:
        assert not ctx.host.monitored(1)  # its monitor has exited
        assert ctx.host.monitor_log(1) == [
            "Domain 1 has shut down, reason code 3 0x3",
            "Action for shutdown reason code 3 is preserve",
            "Done. Exiting now"]


def test_old_database_moves_monitor_and_callback_irq_out_of_the_guest(pyxl, write_cfg,
                                                                      state_dir):
    cfg = write_cfg('name = "h"\ntype = "hvm"\nmemory = 256\non_crash = "restart"\n')
    _ok(pyxl("create", "-q", cfg))
    _ok(pyxl("clock", "advance", "5s"))  # PV drivers up: CALLBACK_IRQ set
    conn = _db(state_dir)
    data, guest = conn.execute("SELECT data, guest FROM domains WHERE domid = 1").fetchone()
    data, guest = json.loads(data), json.loads(guest)
    assert data.pop("hvm_params") == {"CALLBACK_IRQ": 1}
    guest.update(monitored=True, monitor_log=["an older line"], callback_irq=1)
    conn.execute("DROP TABLE xl_monitor")
    conn.execute("UPDATE domains SET data = ?, guest = ? WHERE domid = 1",
                 (json.dumps(data), json.dumps(guest)))
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.close()

    _ok(pyxl("list"))  # migrates
    assert not {"monitored", "monitor_log", "callback_irq"} & _guest_row(state_dir, 1).keys()
    conn = _db(state_dir)
    assert conn.execute("SELECT active, log FROM xl_monitor WHERE domid = 1").fetchone() == \
        (1, '["an older line"]')
    conn.close()
    # the PV control path is still there, and the monitor still acts
    _ok(pyxl("sysrq", "h", "c"))
    _ok(pyxl("clock", "advance", "10ms"))
    assert pyxl("domid", "h").out == "2\n"


# --- guests are stepped when they have something to do, and only then ---


def test_idle_guests_are_not_visited(pyxl, guest_cfg, monkeypatch):
    from pyxl.sim import guest as guestos

    for name in ("vm1", "vm2", "vm3"):
        _ok(pyxl("create", "-q", guest_cfg(name)))
    _ok(pyxl("clock", "advance", "5s"))  # booted, drivers up, idle
    steps = _count_calls(monkeypatch, guestos, "step")
    _ok(pyxl("clock", "advance", "20s"))
    assert steps == []
    # a XenStore change wakes the guest whose home it touches, and no other
    _ok(pyxl("xenstore-write", "/local/domain/2/memory/target", str(256 * 1024)))
    _ok(pyxl("clock", "advance", "3s"))
    assert {d.domid for d in steps} == {2}
    assert pyxl("list", "vm2").out.split()[8] == "256"


def test_a_waiting_shutdown_steps_only_through_guest_events(pyxl, guest_cfg, monkeypatch):
    from pyxl.sim import guest as guestos

    _ok(pyxl("create", "-q", guest_cfg("vm1")))
    _ok(pyxl("create", "-q", guest_cfg("vm2")))
    _ok(pyxl("clock", "advance", "5s"))
    steps = _count_calls(monkeypatch, guestos, "step")
    r = pyxl("shutdown", "-w", "vm1")
    assert r.code == 0 and "Domain 1 has been shut down, reason code 0" in r.err
    assert "vm1" not in pyxl("list").out
    assert {d.domid for d in steps} == {1}
    # the request noticed, its watch handled, the poweroff 1.2 s later: a
    # handful of steps, not one per pass of a waiting loop
    assert len(steps) <= 6


# --- the schedulers' engines live across the steps of a command ---


def _scenario(pyxl, write_cfg):
    _ok(pyxl("host", "boot", "--cpus", "2", "--clock", "manual"))
    for name, wl in (("a", "busy"), ("b", "periodic:3ms/10ms,bursty"), ("c", "idle")):
        _ok(pyxl("create", "-q", write_cfg(f'name = "{name}"\ntype = "pv"\nkernel = "/k"\n'
                                           f'memory = 128\nvcpus = 2\nworkload = "{wl}"\n',
                                           f"{name}.cfg")))
    _ok(pyxl("clock", "advance", "700ms"))
    _ok(pyxl("mem-set", "b", "64"))
    _ok(pyxl("clock", "advance", "3s"))
    _ok(pyxl("sysrq", "c", "c"))
    _ok(pyxl("clock", "advance", "2s"))
    return [_ok(pyxl(*argv)).out for argv in
            (("list",), ("vcpu-list",), ("top", "-b", "-i", "2", "-d", "1"))]


def test_engines_are_loaded_once_per_change_not_per_step(pyxl, guest_cfg, monkeypatch):
    from pyxl.hv import sched
    from pyxl.hv.hypervisor import Hypervisor

    _ok(pyxl("create", "-q", guest_cfg("vm1", memory=1024)))
    _ok(pyxl("create", "-q", guest_cfg("vm2", memory=1024)))
    _ok(pyxl("clock", "advance", "5s"))
    _ok(pyxl("mem-set", "vm1", "256"))  # 24 steps of the balloon driver, 100 ms apart
    opened = _count_calls(monkeypatch, sched, "open_engine")
    steps = _count_calls(monkeypatch, Hypervisor, "advance")
    _ok(pyxl("clock", "advance", "3s"))
    assert pyxl("list", "vm1").out.split()[8] == "256"
    # a balloon step changes nothing the scheduler reads: one load for them all
    # (none at all while the pool is steady: its rows are read as they stand)
    assert len(steps) > 20 and len(opened) <= 1


def test_kept_engines_give_what_reloaded_ones_give(pyxl, write_cfg, monkeypatch, tmp_path):
    """An engine kept across steps ends where one saved and loaded again at
    every step ends: `list`, `vcpu-list` and `top -b` are the same bytes."""
    from pyxl.hv.hypervisor import Hypervisor

    kept = _scenario(pyxl, write_cfg)
    real = Hypervisor.advance

    def reloading(self, t_ns):
        real(self, t_ns)
        self.sched_reload()

    monkeypatch.setattr(Hypervisor, "advance", reloading)
    monkeypatch.setenv("PYXL_STATE_DIR", str(tmp_path / "other"))
    assert _scenario(pyxl, write_cfg) == kept


def test_two_runs_show_the_same_bytes(pyxl, write_cfg, monkeypatch, tmp_path):
    first = _scenario(pyxl, write_cfg)
    monkeypatch.setenv("PYXL_STATE_DIR", str(tmp_path / "again"))
    assert _scenario(pyxl, write_cfg) == first


@pytest.mark.parametrize("sched", ["credit", "credit2", "rtds", "sedf"])
def test_one_advance_is_many_small_ones(sched):
    """Kept engines (the hypervisor's) and one engine per interval agree."""
    from pyxl.hv.hypervisor import Hypervisor, PhysInfo
    from pyxl.hv.model import CpuPool, Domain, Vcpu
    from pyxl.hv.sched import advance_pool, default_pool_params

    def make():
        doms = {}
        for i, wl in enumerate(("busy", "bursty", "periodic:3ms/10ms", "idle")):
            d = Domain(domid=i + 1, name=f"vm{i + 1}", uuid=f"u{i}")
            d.vcpus = [Vcpu(domid=d.domid, vcpuid=j, workload=wl) for j in range(2)]
            doms[d.domid] = d
        pool = CpuPool(poolid=0, name="Pool-0", sched=sched, cpus=[0, 1],
                       params=default_pool_params(sched))
        return pool, doms

    pool, doms = make()
    now = [0]
    phys = PhysInfo(nr_cpus=2, threads_per_core=1, cores_per_socket=2, nr_nodes=1,
                    cpu_khz=1, total_kb=1 << 20)
    hv = Hypervisor(phys, doms, {0: pool}, clock=lambda: now[0], domid_rover=4, seed=3)
    for t in range(7_000_000, 1_500_000_000, 7_000_000):
        hv.advance(t)
        now[0] = t
    hv.sched_sync()
    pool2, doms2 = make()
    advance_pool(pool2, list(doms2.values()), 0, now[0], seed=3)
    times = [dict(v.time) for d in doms.values() for v in d.vcpus]
    assert times == [dict(v.time) for d in doms2.values() for v in d.vcpus]
