"""`list`, `domid` and `xenstore-read` answer from the stored rows when nothing
needs simulating first (pyxl/sim/view.py), and say exactly what the full
path (the hypervisor's model, built for the command) says, in every state.

Each comparison runs the command twice: as it runs, and with the light path
taken away (`peek_libxl` yielding None, as it does when the catch-up has
work), and checks that the light path did answer the first time.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest

LIST_FORMS = (["list"], ["list", "-v"], ["list", "-c"], ["list", "-n"], ["list", "-Z"],
              ["list", "-v", "-c", "-n"], ["list", "Domain-0"], ["list", "vm1"], ["list", "2"])


@contextmanager
def _no_peek(*_args, **_kw):
    yield None


@pytest.fixture
def full(pyxl, monkeypatch):
    """Run a command down its full path only."""
    def run(*args):
        with monkeypatch.context() as m:
            m.setattr("pyxl.toolstack.peek_libxl", _no_peek)
            return pyxl(*args)
    return run


@pytest.fixture
def light(monkeypatch):
    """What the light path answered, call by call (None: it declined)."""
    from pyxl.toolstack.libxl import LibxlPeek

    answers: list = []
    real_list, real_read = LibxlPeek.list_domain, LibxlPeek.xs_read

    def list_domain(self, *args):
        answers.append(real_list(self, *args))
        return answers[-1]

    def xs_read(self, path):
        answers.append(path)
        return real_read(self, path)

    monkeypatch.setattr(LibxlPeek, "list_domain", list_domain)
    monkeypatch.setattr(LibxlPeek, "xs_read", xs_read)
    return answers


def same(pyxl, full, light, *args, taken=True):
    """The command's output both ways; the light path answered (or declined)."""
    light.clear()
    quick = pyxl(*args)
    assert bool(light and light[-1] is not None) is taken, (args, light)
    slow = full(*args)
    assert (quick.code, quick.out, quick.err) == (slow.code, slow.out, slow.err), args
    return quick


def ok(pyxl, *args):
    r = pyxl(*args)
    assert r.code == 0, (args, r.err)
    return r


def db(state_dir) -> sqlite3.Connection:
    return sqlite3.connect(state_dir / "localhost" / "state.db")


def sql(state_dir, statement: str, *args) -> None:
    conn = db(state_dir)
    with conn:
        conn.execute(statement, args)
    conn.close()


@pytest.fixture
def host(pyxl, write_cfg):
    """8 pCPUs; guests that keep their state when they shut down."""
    ok(pyxl, "host", "boot", "--cpus", "8")
    keep = 'on_poweroff = "preserve"\non_crash = "preserve"\n'

    def create(name: str, *extra: str, vcpus: int = 2):
        cfg = write_cfg(f'name = "{name}"\ntype = "pv"\nkernel = "/k"\nmemory = 64\n'
                        f'vcpus = {vcpus}\n' + keep, f"{name}.cfg")
        ok(pyxl, "create", "-q", *extra, cfg)
    return create


def test_list_matches_the_full_path_as_guests_live(pyxl, full, light, host):
    def check(forms=LIST_FORMS):
        for form in forms:
            same(pyxl, full, light, *form)

    same(pyxl, full, light, "list", taken=False)  # no scheduler has run: rows as of when?
    ok(pyxl, "clock", "advance", "1ms")
    check(LIST_FORMS[:-2])  # Domain-0 alone
    host("vm1")
    host("vm2", vcpus=3)
    host("vm3", "-p")
    check()  # booting, paused from birth
    ok(pyxl, "clock", "advance", "5s")
    check()  # booted and idle
    ok(pyxl, "workload", "vm1", "busy")
    ok(pyxl, "workload", "vm2", "periodic:3ms/10ms")
    ok(pyxl, "clock", "advance", "2s")
    check()
    ok(pyxl, "pause", "vm1")
    ok(pyxl, "vcpu-set", "vm2", "1")
    ok(pyxl, "clock", "advance", "1500ms")
    check()  # paused while running; offline vCPUs keep their past CPU time
    ok(pyxl, "unpause", "vm1")
    ok(pyxl, "clock", "advance", "3s")
    check()


def test_list_matches_after_shutdowns_and_crashes(pyxl, full, light, host):
    host("vm1")
    host("vm2")
    ok(pyxl, "clock", "advance", "5s")
    ok(pyxl, "shutdown", "-w", "vm1")
    ok(pyxl, "sysrq", "vm2", "c")
    ok(pyxl, "clock", "advance", "1s")
    assert [line.split()[4] for line in ok(pyxl, "list").out.splitlines()[2:]] == \
        ["---s--", "---sc-"]
    for form in LIST_FORMS:
        same(pyxl, full, light, *form)


@pytest.mark.parametrize("reason", range(6))
def test_each_shutdown_reason_and_dying(pyxl, full, light, host, state_dir, reason):
    # every reason Xen has (its letter or Reason-Code), and a dying domain,
    # which no command leaves behind but a host may hold mid-destroy
    host("vm1")
    ok(pyxl, "clock", "advance", "3s")
    sql(state_dir, "UPDATE domains SET data = json_set(data, '$.shutdown', json('true'), "
        "'$.shutdown_reason', ?) WHERE name = 'vm1'", reason)
    same(pyxl, full, light, "list", "-v")
    sql(state_dir, "UPDATE domains SET data = json_set(data, '$.dying', json('true')) "
        "WHERE name = 'vm1'")
    assert same(pyxl, full, light, "list").out.splitlines()[2].split()[4].endswith("d")


def test_list_matches_with_a_second_cpupool(pyxl, full, light, host):
    ok(pyxl, "cpupool-cpu-remove", "Pool-0", "6,7")
    ok(pyxl, "cpupool-create", 'name="batch"', 'sched="credit2"', 'cpus="6-7"')
    host("vm1")
    host("vm2", vcpus=1)
    ok(pyxl, "cpupool-migrate", "vm2", "batch")
    ok(pyxl, "workload", "vm2", "busy")
    ok(pyxl, "clock", "advance", "4s")
    assert ok(pyxl, "list", "-c", "vm2").out.splitlines()[1].endswith("           batch")
    for form in LIST_FORMS:
        same(pyxl, full, light, *form)


def test_a_pool_that_must_run_first_takes_the_full_path(pyxl, full, light, host, state_dir):
    host("vm1")
    ok(pyxl, "clock", "advance", "2s")
    # a pool neither steady nor saved at now: only its scheduler can say what its vCPUs did
    sql(state_dir, "UPDATE cpupools SET data = json_remove(json_set(data, '$.sched_state.t', "
        "json_extract(data, '$.sched_state.t') - 1), '$.sched_state.steady')")
    same(pyxl, full, light, "list", taken=False)


def test_list_errors_are_unchanged(pyxl, full, light, host):
    host("vm1")
    r = same(pyxl, full, light, "list", "nosuch", taken=False)
    assert (r.code, r.out, r.err) == (1, "", "nosuch is an invalid domain identifier (rc=-6)\n")
    r = same(pyxl, full, light, "list", "77", taken=False)
    assert r.code == 1 and r.err.endswith("Error: Domain '77' does not exist.\n")
    r = same(pyxl, full, light, "list", "vm1", "vm2", taken=False)
    assert r.code == 1 and r.out.startswith("Usage: xl")


def test_list_long_is_left_to_the_full_path(pyxl, full, light, host):
    host("vm1")
    same(pyxl, full, light, "list", "-l", taken=False)


def test_a_damaged_row_is_reported_as_the_full_path_does(pyxl, full, light, host, state_dir):
    host("vm1")
    sql(state_dir, """UPDATE vcpus SET data = '{"x": 1}' WHERE domid = 1""")
    r = same(pyxl, full, light, "list", taken=False)
    assert r.code == 1 and "is unreadable (" in r.err


def test_domid_and_xenstore_read(pyxl, full, light, host):
    host("vm1")
    ok(pyxl, "clock", "advance", "3s")
    for args in (["domid", "vm1"], ["domid", "Domain-0"], ["domid", "nosuch"]):
        same(pyxl, full, light, *args, taken=False)  # domid's own peek (name_to_domid)
    assert same(pyxl, full, light, "xenstore-read", "/local/domain/1/name").out == "vm1\n"
    for args in (["xenstore-read", "-p", "/local/domain/1/memory/target"],
                 ["xenstore-read", "-R", "/local/domain/1/name"], ["xenstore-read", "name"]):
        assert same(pyxl, full, light, *args).code == 0
    r = same(pyxl, full, light, "xenstore-read", "/local/domain/1/nosuch")
    assert (r.code, r.err) == (1, "xenstore-read: couldn't read path /local/domain/1/nosuch\n")
    # several keys (one transaction) and a domU's view stay on the full path
    same(pyxl, full, light, "xenstore-read", "/local/domain/1/name", "/local/domain/0/name",
         taken=False)
    same(pyxl, full, light, "--as-domid", "1", "xenstore-read", "/local/domain/0/name",
         taken=False)


def test_a_quiet_realtime_host_matches_the_full_path(pyxl, full, light, host, monkeypatch):
    # the realtime clock stopped at chosen moments, so both paths see one now
    import time

    wall = [time.time()]
    monkeypatch.setattr(time, "time", lambda: wall[0])
    monkeypatch.setenv("PYXL_CLOCK", "realtime")
    ok(pyxl, "host", "boot", "rt", "--cpus", "4")
    monkeypatch.setenv("PYXL_HOST", "rt")
    host("vm1")
    ok(pyxl, "workload", "vm1", "periodic:2ms/7ms")
    wall[0] += 5
    ok(pyxl, "list")  # the guests boot: the catch-up has work, and commits it
    for gap in (0.001, 2.5, 30):
        wall[0] += gap
        for form in LIST_FORMS[:-1]:
            same(pyxl, full, light, *form)
        same(pyxl, full, light, "xenstore-read", "/local/domain/1/name")
