"""The simulated host: boot options, reset, destroy, the clock, and dom0."""

from __future__ import annotations

import json

LIST_HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"


def test_first_command_boots_a_default_host(pyxl, state_dir):
    r = pyxl("list")
    assert r.code == 0, r.err
    assert r.out == LIST_HEADER + (
        "Domain-0                                     0  1024     8     r-----       0.0\n")
    assert (state_dir / "localhost" / "state.db").is_file()


def test_boot_options_show_in_info(pyxl):
    r = pyxl("host", "boot", "lab", "--cpus", "4", "--memory", "8192", "--dom0-mem", "2048",
             "--sched", "credit2", "--clock", "manual")
    assert r.code == 0, r.err
    info = pyxl("--host", "lab", "info").out
    assert "nr_cpus                : 4\n" in info
    assert "cores_per_socket       : 2\n" in info
    assert "threads_per_core       : 2\n" in info
    assert "total_memory           : 8192\n" in info
    assert "free_memory            : 6144\n" in info
    assert "xen_scheduler          : credit2\n" in info
    assert "dom0_mem=2048M" in info
    assert pyxl("--host", "lab", "list").out.splitlines()[1].split()[2:4] == ["2048", "4"]


def test_info_filter_prints_values_of_matching_keys(pyxl):
    assert pyxl("info", "free_memory").out == "15360\n"
    assert pyxl("info", "xen_ma").out == "4\n"
    assert pyxl("info", "nonexistent").out == ""
    full = pyxl("info").out.splitlines()
    keys = [line.split(":")[0].rstrip() for line in full]
    assert keys[:4] == ["host", "release", "version", "machine"]
    assert keys[-1] == "xend_config_format"
    assert all(len(line.split(":")[0]) == 23 for line in full)


def test_pyxl_host_env_selects_host(pyxl, monkeypatch):
    pyxl("host", "boot", "other", "--cpus", "2")
    monkeypatch.setenv("PYXL_HOST", "other")
    assert pyxl("info", "nr_cpus").out == "2\n"


def test_boot_twice_is_refused(pyxl):
    assert pyxl("host", "boot", "h1").code == 0
    r = pyxl("host", "boot", "h1")
    assert r.code == 1 and "already booted" in r.err


def test_bad_boot_options_are_refused_and_boot_nothing(pyxl, state_dir):
    r = pyxl("host", "boot", "h2", "--cpus", "0")
    assert r.code == 1 and r.err.count("\n") == 1
    assert not (state_dir / "h2").exists()
    assert pyxl("host", "boot", "h3", "--sched", "fifo").code == 2


def test_host_list_reset_destroy(pyxl, guest_cfg):
    pyxl("host", "boot", "a", "--cpus", "2", "--clock", "manual")
    pyxl("host", "boot", "b")
    rows = json.loads(pyxl("host", "list", "--json").out)
    assert [(r["name"], r["cpus"], r["domains"]) for r in rows] == [("a", 2, 1), ("b", 8, 1)]
    assert pyxl("--host", "a", "create", "-q", guest_cfg()).code == 0
    pyxl("--host", "a", "clock", "advance", "5s")
    assert pyxl("--host", "a", "list").out.count("\n") == 3
    assert pyxl("--host", "a", "host", "reset").code == 0
    assert pyxl("--host", "a", "list").out.count("\n") == 2
    assert pyxl("--host", "a", "info", "nr_cpus").out == "2\n"  # same boot options
    assert json.loads(pyxl("--host", "a", "clock", "show", "--json").out)["now_ns"] == 0
    assert pyxl("host", "destroy", "a").code == 0
    assert [r["name"] for r in json.loads(pyxl("host", "list", "--json").out)] == ["b"]
    r = pyxl("host", "destroy", "a")
    assert r.code == 1 and r.err == "host 'a' does not exist\n"


def test_manual_clock_moves_only_when_advanced(pyxl):
    pyxl("list")
    assert json.loads(pyxl("clock", "show", "--json").out)["now_ns"] == 0
    assert pyxl("clock", "advance", "250ms").code == 0
    assert pyxl("clock", "advance", "2m").code == 0
    show = json.loads(pyxl("clock", "show", "--json").out)
    assert show["now_ns"] == 120_250_000_000
    assert show["mode"] == "manual"
    assert show["calendar"] == "2026-01-01T00:02:00Z"
    r = pyxl("clock", "advance", "soon")
    assert r.code == 1 and "invalid duration" in r.err


def test_dom0_time_grows_with_the_clock(pyxl):
    def dom0_time():
        return float(pyxl("list").out.splitlines()[1].split()[-1])

    t0 = dom0_time()
    pyxl("clock", "advance", "60s")
    t1 = dom0_time()
    assert t1 > t0
    pyxl("clock", "advance", "60s")
    assert dom0_time() > t1


def test_realtime_clock_follows_the_wall_clock(pyxl, monkeypatch):
    import time

    monkeypatch.setenv("PYXL_CLOCK", "realtime")
    pyxl("list")
    first = json.loads(pyxl("clock", "show", "--json").out)["now_ns"]
    time.sleep(0.05)
    second = json.loads(pyxl("clock", "show", "--json").out)["now_ns"]
    assert second - first >= 50_000_000
    assert json.loads(pyxl("clock", "show", "--json").out)["mode"] == "realtime"


def test_dmesg_shows_and_clears_xen_boot_log(pyxl):
    r = pyxl("dmesg")
    assert r.code == 0
    assert "(XEN) Using scheduler: SMP Credit Scheduler (credit)\n" in r.out
    assert "(XEN) Command line: placeholder dom0_mem=1024M,max:1024M" in r.out
    assert pyxl("dmesg", "-c").out == r.out
    assert pyxl("dmesg").out == ""
