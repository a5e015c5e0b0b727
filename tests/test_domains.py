"""xl's core domain commands through the CLI, against a manual clock."""

from __future__ import annotations

import json
import re

import pytest

ROW = re.compile(r"^(?P<name>.{40}) (?P<id>[ \d]{5}) (?P<mem>[ \d]{5}) (?P<vcpus>[ \d]{5}) {5}"
                 r"(?P<state>[-rbpscwSd?]{6})  (?P<time>[ \d.]{8})$")


def rows(pyxl, *args):
    r = pyxl("list", *args)
    assert r.code == 0, r.err
    out = {}
    for line in r.out.splitlines()[1:]:
        m = ROW.match(line)
        assert m, repr(line)
        out[m["name"].rstrip()] = m.groupdict()
    return out


def test_create_boots_a_guest_that_then_idles(pyxl, guest_cfg):
    path = guest_cfg("vm1", memory=512, vcpus=2)
    r = pyxl("create", path)
    assert r.code == 0, r.err
    assert r.err == f"Parsing config from {path}\n"
    assert r.out == ""
    vm = rows(pyxl)["vm1"]
    assert (vm["id"].strip(), vm["mem"].strip(), vm["vcpus"].strip()) == ("1", "512", "2")
    assert vm["state"] == "------"  # just unpaused: runnable, waiting for a pCPU
    pyxl("clock", "advance", "100ms")
    assert rows(pyxl)["vm1"]["state"] == "r-----"  # booting: the kernel is busy
    pyxl("clock", "advance", "10s")
    vm = rows(pyxl)["vm1"]
    assert vm["state"] == "-b----"  # up, idle, blocked
    assert 1.0 < float(vm["time"]) < 3.0  # the boot's CPU time plus a little idle work


def test_create_quiet_and_paused(pyxl, guest_cfg):
    r = pyxl("create", "-q", "-p", guest_cfg("vm1"))
    assert (r.code, r.err) == (0, "")
    assert rows(pyxl)["vm1"]["state"] == "--p---"
    pyxl("clock", "advance", "5s")
    assert rows(pyxl)["vm1"]["time"].strip() == "0.0"  # never ran
    assert pyxl("unpause", "vm1").code == 0
    pyxl("clock", "advance", "100ms")
    assert rows(pyxl)["vm1"]["state"] == "r-----"


def test_console_shows_the_boot_as_it_happens(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    early = pyxl("console", "vm1").out
    pyxl("clock", "advance", "5s")
    later = pyxl("console", "vm1").out
    assert later.startswith(early)
    assert "Linux version" in later
    assert later.endswith("vm1 login: \n")
    assert "vm1 login" not in early
    r = pyxl("console", "-t", "bogus", "vm1")
    assert (r.code, r.err) == (1, "console type supported are: pv, serial, vuart\n")
    assert pyxl("console", "-t", "serial", "vm1").err == "Unable to attach console\n"


def test_domids_increase_and_are_not_reused(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("a"))
    pyxl("create", "-q", guest_cfg("b"))
    assert pyxl("destroy", "a").code == 0
    pyxl("create", "-q", guest_cfg("c"))
    assert {n: v["id"].strip() for n, v in rows(pyxl).items()} == \
        {"Domain-0": "0", "b": "2", "c": "3"}


def test_key_value_overrides_and_dev_null(pyxl, guest_cfg):
    r = pyxl("create", "-q", "/dev/null", 'name="cli"', 'type="pv"', 'kernel="/k"', "memory=256")
    assert r.code == 0, r.err
    assert rows(pyxl)["cli"]["mem"].strip() == "256"
    r = pyxl("create", "-q", guest_cfg("vm1"), "memory=384", 'name="vm2"; vcpus=3')
    assert r.code == 0, r.err
    vm2 = rows(pyxl)["vm2"]
    assert (vm2["mem"].strip(), vm2["vcpus"].strip()) == ("384", "3")


def test_create_errors_and_exit_codes(pyxl, guest_cfg, tmp_path):
    r = pyxl("create")
    assert (r.code, r.err) == (6, "Config file not specified and none in save file\n")
    r = pyxl("create", str(tmp_path / "missing.cfg"))
    assert r.code == 3
    assert r.err == f"Failed to read config file: {tmp_path / 'missing.cfg'}: No such file or directory\n"
    path = guest_cfg("vm1")
    r = pyxl("create", path, path)
    assert r.code == 2 and r.out.startswith("Usage: xl [-vtTfN] create")
    assert pyxl("create", "-q", path).code == 0
    r = pyxl("create", "-q", path)
    assert r.code == 3
    assert 'Domain with name "vm1" already exists.' in r.err
    assert len(rows(pyxl)) == 2


def test_failed_create_leaves_no_domain_and_no_xenstore_nodes(pyxl, guest_cfg, state_dir):
    import sqlite3

    pyxl("list")
    db = state_dir / "localhost" / "state.db"

    def snapshot():
        with sqlite3.connect(db) as c:
            tables = [t for (t,) in c.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'xs_%'")]
            return {t: c.execute(f"SELECT * FROM {t}").fetchall() for t in tables}

    before = snapshot()
    r = pyxl("create", guest_cfg("huge", memory=64 * 1024))
    assert r.code == 3
    assert "cannot (re-)build domain" in r.err
    assert list(rows(pyxl)) == ["Domain-0"]
    assert snapshot() == before
    assert pyxl("create", "-q", guest_cfg("fits", memory=512)).code == 0
    assert rows(pyxl)["fits"]["id"].strip() == "1"


def test_destroy(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    r = pyxl("destroy", "0")
    assert r.code == 1
    assert r.err == ("Not destroying domain 0; use -f to force.\n"
                     "This can only be done when using a disaggregated hardware domain "
                     "and toolstack.\n\n")
    r = pyxl("destroy", "nosuch")
    assert (r.code, r.err) == (1, "nosuch is an invalid domain identifier (rc=-6)\n")
    r = pyxl("destroy", "42")
    assert r.code == 1 and r.err.endswith("destroy failed (rc=-21)\n")
    assert pyxl("destroy", "vm1").code == 0
    assert list(rows(pyxl)) == ["Domain-0"]
    assert pyxl("domid", "vm1").code == 1


def test_pause_unpause(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    pyxl("clock", "advance", "5s")
    assert pyxl("pause", "vm1").code == 0
    assert rows(pyxl)["vm1"]["state"] == "--p---"
    t = rows(pyxl)["vm1"]["time"]
    pyxl("clock", "advance", "5s")
    assert rows(pyxl)["vm1"]["time"] == t
    assert pyxl("unpause", "1").code == 0
    assert rows(pyxl)["vm1"]["state"][2] == "-"
    pyxl("clock", "advance", "1s")
    assert rows(pyxl)["vm1"]["state"] == "-b----"
    r = pyxl("unpause", "vm1")  # not paused: libxl complains, xl still exits 0
    assert r.code == 0 and "Unpausing domain: Invalid argument" in r.err
    r = pyxl("pause", "77")
    assert r.code == 0 and "Domain 77:Pausing domain: No such process" in r.err


def test_rename_domid_domname(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    pyxl("create", "-q", guest_cfg("vm2"))
    assert pyxl("rename", "vm1", "web").code == 0
    assert pyxl("domid", "web").out == "1\n"
    assert pyxl("domname", "1").out == "web\n"
    assert pyxl("domname", "2abc").out == "vm2\n"  # strtol, like xl
    r = pyxl("rename", "web", "vm2")
    assert r.code == 1 and r.err.endswith("Can't rename domain 'web'.\n")
    r = pyxl("domid", "nope")
    assert (r.code, r.err) == (
        1, "Can't get domid of domain name 'nope', maybe this domain does not exist.\n")
    r = pyxl("domname", "abc")
    assert (r.code, r.err) == (1, "Invalid domain id.\n\n")
    r = pyxl("domname", "9")
    assert r.err == "Can't get domain name of domain id '9', maybe this domain does not exist.\n"
    xs = pyxl("xenstore-read", "/local/domain/1/name")
    if xs.code == 0:  # the XenStore tools may not be wired yet
        assert xs.out == "web\n"


def test_list_options(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    out = pyxl("list", "-v").out.splitlines()
    assert out[0].endswith("Time(s)   UUID                            Reason-Code\tSecurity Label")
    assert re.search(r"\d [0-9a-f-]{36}        -                -$", out[2])
    assert out[1].endswith(" 00000000-0000-0000-0000-000000000000        -                -")
    c = pyxl("list", "-c").out.splitlines()
    assert c[0].endswith("Time(s)         Cpupool") and c[1].endswith("          Pool-0")
    one = pyxl("list", "vm1").out.splitlines()
    assert len(one) == 2 and one[1].startswith("vm1 ")
    r = pyxl("list", "9")
    assert r.code == 1 and r.err.endswith("Error: Domain '9' does not exist.\n")
    r = pyxl("list", "vm1", "Domain-0")
    assert r.code == 1 and r.out.startswith("Usage: xl [-vtT] list")
    assert pyxl("list", "vm1", "-v").code == 0  # options after arguments, like getopt


def test_list_long_is_json_array_in_yajl_layout(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1", memory=512, vcpus=2))
    r = pyxl("list", "-l")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    # xen-init-dom0 stores a stub config for Domain-0, so it is listed too
    assert [e["domid"] for e in data] == [0, 1]
    vm = [e for e in data if e["domid"] == 1][0]
    assert vm["config"]["c_info"]["name"] == "vm1"
    assert vm["config"]["b_info"]["max_memkb"] == 512 * 1024
    assert '\n    {\n        "domid": 1,\n' in r.out  # 4-space indent, "key": value
    one = json.loads(pyxl("list", "-l", "vm1").out)
    assert len(one) == 1 and one[0]["domid"] == 1


def test_vm_list_includes_dom0(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    lines = pyxl("vm-list").out.splitlines()
    assert lines[0] == "UUID                                  ID    name"
    assert lines[1] == "00000000-0000-0000-0000-000000000000  0    Domain-0" + " " * 22
    assert re.match(r"^[0-9a-f-]{36}  1    vm1 {27}$", lines[2])


def test_vcpu_list(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1", vcpus=2, extra="maxvcpus = 3\n"))
    pyxl("clock", "advance", "5s")
    lines = pyxl("vcpu-list", "vm1").out.splitlines()
    assert lines[0] == ("Name                                ID  VCPU   CPU State   Time(s) "
                        "Affinity (Hard / Soft)")
    assert len(lines) == 4
    assert re.match(r"^vm1 {34}1 {5}0 {4}\d   -b- +\d+\.\d  all / all$", lines[1])
    assert lines[3].startswith("vm1" + " " * 29 + "     1     2    -   --p ")
    r = pyxl("vcpu-list", "ghost")
    assert r.code == 1 and r.err == "ghost is an invalid domain identifier (rc=-6)\n"


def test_uptime(pyxl, guest_cfg):
    pyxl("clock", "advance", "90061s")  # 1 day, 1:01:01
    pyxl("create", "-q", guest_cfg("vm1"))
    pyxl("clock", "advance", "65s")
    lines = pyxl("uptime").out.splitlines()
    assert lines[0] == "Name" + " " * 32 + "ID Uptime"
    assert lines[1] == "Domain-0                             0 1 day,  1:02:06"
    assert lines[2] == "vm1                                  1  0:01:05"
    short = pyxl("uptime", "-s", "vm1").out
    assert short == " 01:02:06 up  0:01, vm1 (1)\n"


@pytest.mark.parametrize("name", ["pv-guest.cfg", "hvm-guest.cfg", "pvh-guest.cfg"])
def test_example_configs_create(pyxl, name):
    from conftest import REPO

    r = pyxl("create", "-q", str(REPO / "configs" / name))
    assert r.code == 0, r.err


def test_create_debug_prints_config_to_stderr_and_creates(pyxl, guest_cfg):
    r = pyxl("create", "-q", "-d", guest_cfg("vm1"))
    assert r.code == 0 and r.out == ""
    assert json.loads(r.err)["c_info"]["name"] == "vm1"
    assert "vm1" in rows(pyxl)


def test_create_dry_run_creates_nothing(pyxl, guest_cfg):
    r = pyxl("create", "-n", guest_cfg("vm1"))
    assert r.code == 0 and json.loads(r.out)["b_info"]["max_memkb"] == 512 * 1024
    assert list(rows(pyxl)) == ["Domain-0"]


def test_create_console_shows_the_console(pyxl, guest_cfg):
    r = pyxl("create", "-q", "-c", guest_cfg("vm1"))
    assert r.code == 0
    assert r.out.startswith("[    0.000000] Linux version")


def test_create_foreground_waits_for_death(guest_cfg):
    import subprocess
    import sys
    import time

    from conftest import spawn

    path = guest_cfg("fg")
    p = subprocess.Popen([sys.executable, "-m", "pyxl", "create", "-q", "-F", path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        if spawn("domid", "fg").returncode == 0:
            break
        time.sleep(0.1)
    time.sleep(0.3)
    assert p.poll() is None  # still monitoring
    assert spawn("destroy", "fg").returncode == 0
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0
    assert re.match(r"^Waiting for domain fg \(domid 1\) to die \[pid \d+\]\n"
                    r"Domain 1 has been destroyed\.\n$", err), err


def test_global_verbose_and_timestamps(pyxl):
    r = pyxl("-T", "pause", "55")
    assert r.code == 0
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+ \[\d+\] libxl: error: "
                    r"libxl_domain\.c:\d+:libxl_domain_pause: Domain 55:Pausing domain: "
                    r"No such process\n$", r.err), r.err
    assert pyxl("-vvv", "-f", "-t", "list").code == 0


def test_list_context_and_numa_columns(pyxl):
    z = pyxl("list", "-Z").out.splitlines()
    assert z[0].endswith("Time(s)   Security Label")
    assert z[1].endswith("       0.0                -")
    n = pyxl("list", "-n").out.splitlines()
    assert n[0].endswith("Time(s) NODE Affinity") and n[1].endswith(" all")


def test_info_numa(pyxl):
    pyxl("host", "boot", "--cpus", "4", "--nodes", "2", "--memory", "4096")
    out = pyxl("info", "-n").out
    assert ("cpu_topology           :\ncpu:    core    socket     node\n"
            "  0:       0        0        0\n  1:       0        0        0\n"
            "  2:       0        1        1\n  3:       0        1        1\n") in out
    assert "numa_info              :\nnode:    memsize    memfree    distances\n" in out
    assert "   0:      2048       1536      10,20\n   1:      2048       1536      20,10\n" in out
    assert pyxl("info", "-n", "nr_cpus").out == out  # the filter is ignored with -n


def test_bad_scheduler_parameters_fail_the_build(pyxl, guest_cfg):
    r = pyxl("create", "-q", guest_cfg("vm1"), "cpu_weight=0")
    assert r.code == 3
    assert r.err == ("libxl: error: libxl_sched.c:236:sched_credit_domain_set: Domain 1:Cpu "
                     "weight out of range, valid values are within range from 1 to 65535\n")
    assert list(rows(pyxl)) == ["Domain-0"]


def test_trace_shows_the_hypercalls_a_command_makes(pyxl, guest_cfg):
    r = pyxl("--trace", "create", "-q", guest_cfg("vm1", vcpus=2))
    assert r.code == 0
    ops = [line.split("(")[0] for line in r.err.splitlines()]
    # the xenstore and console channels are allocated before the image is built,
    # and xenstored and xenconsoled bind them and map the rings after
    assert ops == ["xen: XEN_DOMCTL_createdomain", "xen: XEN_DOMCTL_max_vcpus",
                   "xen: XEN_DOMCTL_SCHEDOP_putinfo", "xen: XEN_DOMCTL_max_mem",
                   "xen: EVTCHNOP_alloc_unbound", "xen: EVTCHNOP_alloc_unbound",
                   "xen: XENMEM_populate_physmap",
                   "xen: MMUEXT_PIN_L4_TABLE",
                   "xen: EVTCHNOP_bind_interdomain", "xen: GNTTABOP_map_grant_ref",
                   "xen: EVTCHNOP_bind_interdomain", "xen: GNTTABOP_map_grant_ref",
                   "xen: XEN_DOMCTL_unpausedomain"]
    assert "xen: XEN_DOMCTL_SCHEDOP_putinfo(domid=1, sched=credit, weight=256, cap=0)" in r.err
    destroyed = pyxl("--trace", "destroy", "vm1").err.splitlines()
    assert destroyed[0] == "xen: XEN_DOMCTL_destroydomain(domid=1)"
    assert [line.split("(")[0] for line in destroyed[1:]] == ["xen: EVTCHNOP_close"] * 2
