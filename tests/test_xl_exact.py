"""xl byte for byte: option parsing as getopt_long, libxl's messages and exit
codes, and guest behaviour as xl sees it (issue 13 items 3, 5 and 6)."""

from __future__ import annotations

import importlib

import pytest

from pyxl.cli.base import XlCommand
from pyxl.cli.cmdtable import CMD_TABLE

NUL_OPTION = "option `\0' not supported.\n"


def _xl_commands():
    """Every table entry whose command parses its options with def_getopt."""
    for spec in CMD_TABLE:
        try:
            command = getattr(importlib.import_module(f"pyxl.cli.{spec.module}"),
                              spec.func_name)
        except (ImportError, AttributeError):
            continue          # a command another change has not landed yet
        if isinstance(command, XlCommand):
            yield spec.name


XL_COMMANDS = list(_xl_commands())


# -- getopt_long ---------------------------------------------------------------

def test_every_command_parses_as_getopt_long(pyxl):
    """Unknown long option: optopt is 0, printed with %c (a NUL byte), exit 2;
    `--hel` is an abbreviation of --help; -h before an error wins."""
    assert len(XL_COMMANDS) > 60
    for name in XL_COMMANDS:
        r = pyxl(name, "--no-such-option")
        assert (r.code, r.out, r.err) == (2, "", NUL_OPTION), name
        helped = pyxl(name, "--hel")
        assert (helped.code, helped.err) == (0, ""), name
        assert helped.out.startswith("Usage: xl "), name
        assert pyxl(name, "-h", "--no-such-option").out == helped.out, name


def test_long_option_abbreviation(pyxl):
    full = pyxl("list", "--verbose")
    assert full.code == 0
    assert pyxl("list", "--verb") == full
    assert pyxl("list", "--v") == full


def test_ambiguous_long_option_is_nul(pyxl):
    """--c is --context or --cpupool, --vnc --vncviewer or --vncviewer-autopass."""
    for args in (("list", "--c"), ("create", "--vnc", "x.cfg")):
        r = pyxl(*args)
        assert (r.code, r.out, r.err) == (2, "", NUL_OPTION), args
    assert pyxl("list", "--co").code == 0


def test_missing_argument_names_the_letter(pyxl):
    for args in (("sched-credit", "-d"), ("sched-credit", "--domain"),
                 ("sched-credit", "--dom")):
        r = pyxl(*args)
        assert (r.code, r.out, r.err) == (2, "", "option `d' not supported.\n"), args


def test_argument_to_a_flag_names_the_letter(pyxl):
    r = pyxl("list", "--long=yes")
    assert (r.code, r.out, r.err) == (2, "", "option `l' not supported.\n")


def test_extra_arguments_xl_ignores(pyxl):
    for name in ("dmesg", "vm-list"):
        plain = pyxl(name)
        assert plain.code == 0
        assert pyxl(name, "x", "y") == plain, name


# -- messages and exit codes -------------------------------------------------------

def _lines(*lines: str) -> str:
    return "".join(f"libxl: error: {line}\n" for line in lines)


def test_create_in_a_pool_that_does_not_exist(pyxl, guest_cfg):
    r = pyxl("create", "-q", guest_cfg("vm1", extra='pool = "nopool"\n'))
    assert (r.code, r.err) == (6, _lines(
        "libxl_create.c:1138:libxl__domain_config_setdefault: Illegal pool specified: nopool"))
    assert pyxl("create", "-q", guest_cfg("vm1", extra='pool = "0"\n')).code == 0  # an id
    assert pyxl("domid", "vm1").out == "1\n"          # no domid was given out before


def test_create_with_a_name_in_use_uses_up_a_domid(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg("vm1")).code == 0
    r = pyxl("create", "-q", guest_cfg("vm1"))
    assert (r.code, r.out, r.err) == (3, "", _lines(
        'libxl_domain.c:81:libxl__domain_rename: Domain 2:Domain with name "vm1" already exists.',
        "libxl_create.c:1309:initiate_domain_create: Domain 2:cannot make domain: -6",
        "libxl_domain.c:356:libxl_domain_info: Domain 2:Getting domain info: No such process",
        "libxl_domain.c:1181:libxl__destroy_domid: Domain 2:Non-existant domain",
        "libxl_domain.c:1135:domain_destroy_callback: Domain 2:Unable to destroy guest",
        "libxl_domain.c:1062:domain_destroy_cb: Domain 2:Destruction of domain failed"))
    assert pyxl("create", "-q", guest_cfg("vm2")).code == 0
    assert pyxl("domid", "vm2").out == "3\n"
    assert [line.split()[0] for line in pyxl("list").out.splitlines()[1:]] == \
        ["Domain-0", "vm1", "vm2"]


def test_rename_checks_only_that_a_name_is_unique(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    assert pyxl("rename", "vm1", " x").code == 0
    assert pyxl("list", "1").out.splitlines()[1].startswith(" x ")
    assert pyxl("rename", "1", "").code == 0
    assert pyxl("domname", "1").out == "\n"
    r = pyxl("rename", "99", "x")
    assert (r.code, r.err) == (1, _lines(
        "libxl_domain.c:356:libxl_domain_info: Domain 99:Getting domain info: No such process")
        + "Can't rename domain '99'.\n")
    assert pyxl("domid", "x").code == 1


def test_vcpu_pin_failures(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("web"))
    r = pyxl("vcpu-pin", "99", "0", "3")
    assert (r.code, r.err) == (1, _lines(
        "libxl_domain.c:356:libxl_domain_info: Domain 99:Getting domain info: No such process")
        + "Could not get domain info\n")
    r = pyxl("vcpu-pin", "web", "0", "9")           # CPU 9 of 8 is dropped: nothing left
    assert (r.code, r.err) == (1, "vcpu hard affinity map is empty\n")
    r = pyxl("vcpu-pin", "99", "all", "-")
    assert (r.code, r.err) == (1, _lines(
        "libxl_domain.c:1671:libxl_list_vcpu: Domain 99:Getting dominfo: No such process")
        + "libxl_list_vcpu failed.\n")
    r = pyxl("vcpu-pin", "web", "all", "-")         # nothing to set: libxl warns per vCPU
    assert (r.code, r.err) == (0, "".join(
        f"libxl: warning: libxl_sched.c:124:libxl_set_vcpuaffinity_all: Domain 1:Failed to "
        f"set affinity for {v}\n" for v in (0, 1)) + "Could not set affinity.\n")


def test_credit2_ratelimit_on_a_credit_pool_is_the_sets_failure(pyxl):
    r = pyxl("sched-credit2", "-s", "-r", "1000")
    assert (r.code, r.out, r.err) == (1, "", _lines(
        "libxl_sched.c:387:libxl_sched_credit2_params_set: Setting Credit2 scheduler "
        "parameters: Invalid argument") + "libxl_sched_credit2_params_set failed.\n")


def test_sched_commands_on_a_missing_domain(pyxl):
    missing = _lines(
        "libxl_dom.c:76:libxl__domain_cpupool: Domain 99:get domaininfo failed: "
        "No such process",
        "libxl_sched.c:901:libxl_domain_sched_params_get: Domain 99:Unknown scheduler")
    for sched in ("sched-credit", "sched-credit2", "sched-rtds"):
        r = pyxl(sched, "-d", "99")
        assert (r.code, r.err) == (1, missing + "libxl_domain_sched_params_get failed.\n")
    r = pyxl("sched-credit2", "-d", "99", "-w", "5")
    assert (r.code, r.err) == (1, _lines(
        "libxl_sched.c:429:sched_credit2_domain_set: Domain 99:Getting domain info: "
        "No such process") + "libxl_domain_sched_params_set failed.\n")
    r = pyxl("sched-rtds", "-d", "99", "-v", "0")
    assert (r.code, r.err) == (1, _lines(
        "libxl_dom.c:76:libxl__domain_cpupool: Domain 99:get domaininfo failed: "
        "No such process",
        "libxl_sched.c:934:libxl_vcpu_sched_params_get: Domain 99:Unknown scheduler")
        + "libxl_vcpu_sched_params_get failed.\n")


def test_destroy_of_a_missing_domain_logs_the_whole_chain(pyxl):
    r = pyxl("destroy", "99")
    assert (r.code, r.err) == (1, _lines(
        "libxl_domain.c:356:libxl_domain_info: Domain 99:Getting domain info: No such process",
        "libxl_domain.c:1181:libxl__destroy_domid: Domain 99:Non-existant domain",
        "libxl_domain.c:1135:domain_destroy_callback: Domain 99:Unable to destroy guest",
        "libxl_domain.c:1062:domain_destroy_cb: Domain 99:Destruction of domain failed")
        + "destroy failed (rc=-21)\n")


def test_unpause_uptime_vcpu_list_of_a_missing_domain(pyxl):
    r = pyxl("unpause", "99")
    assert (r.code, r.err) == (0, _lines(
        "libxl_dom.c:37:libxl__domain_type: Domain 99:unable to get dominfo: No such process"))
    r = pyxl("unpause", "0")
    assert (r.code, r.err) == (0, _lines(
        "libxl_domain.c:686:domain_unpause_done: Unpausing domain: Invalid argument"))
    r = pyxl("uptime", "99")     # errno -1: no strerror
    assert (r.code, r.err) == (0, _lines(
        "libxl_domain.c:2224:libxl_vm_get_start_time: Domain 99:Can't get start time "
        "of domain"))
    r = pyxl("vcpu-list", "99")
    assert (r.code, r.err) == (0, _lines(
        "libxl_domain.c:1671:libxl_list_vcpu: Domain 99:Getting dominfo: No such process"))


def test_cpupool_failures_have_no_strerror(pyxl):
    r = pyxl("cpupool-migrate", "0", "Pool-0")
    assert (r.code, r.err) == (1, _lines(
        "libxl_cpupool.c:437:libxl_cpupool_movedomain: Error moving domain to cpupool"))
    r = pyxl("cpupool-create", 'name="p1"', 'sched="null"')
    assert r.code == 1 and r.err == _lines(
        "libxl_cpupool.c:157:libxl_cpupool_create: Could not create cpupool: the null "
        "scheduler is not simulated") + "error on creating cpupool\n"


def test_mem_max_below_target_appends_strerror(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    r = pyxl("mem-max", "vm1", "10")
    assert (r.code, r.err) == (1, _lines(
        "libxl_mem.c:59:libxl_domain_setmaxmem: Domain 1:memory_static_max must be greater "
        "than or or equal to memory_dynamic_max: Success")
        + "cannot set domid 1 static max memory to : 10\n")


# -- guest behaviour ---------------------------------------------------------------

def _booted(pyxl, guest_cfg, name="vm1", extra=""):
    assert pyxl("create", "-q", guest_cfg(name, extra=extra)).code == 0
    assert pyxl("clock", "advance", "5s").code == 0


@pytest.mark.parametrize("command, verb", [("shutdown", "Shutting down"),
                                           ("reboot", "Rebooting")])
def test_a_paused_guest_cannot_acknowledge(pyxl, guest_cfg, command, verb):
    _booted(pyxl, guest_cfg)
    pyxl("pause", "vm1")
    r = pyxl(command, "vm1")
    assert (r.code, r.err) == (1, f"{verb} domain 1\n" + _lines(
        "libxl_domain.c:852:pvcontrol_cb: guest didn't acknowledge control request: -9")
        + f"{command} failed (rc=-9)\n")
    assert "now:      65s" in pyxl("clock", "show").out     # libxl waited its 60 s
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "--p---"
    pyxl("unpause", "vm1")                 # the request is still there: it acts now
    pyxl("clock", "advance", "10s")
    assert pyxl("list", "vm1").code == 1 if command == "shutdown" else True


def test_domain0_balloon_follows_mem_set(pyxl):
    def mem() -> int:
        return int(pyxl("list", "0").out.splitlines()[1].split()[2])

    free = pyxl("info").out
    assert mem() == 1024
    assert pyxl("mem-set", "0", "800m").code == 0
    assert mem() == 800
    assert pyxl("info").out != free
    assert pyxl("mem-set", "0", "1000m").code == 0
    assert mem() == 1000


def test_list_and_vcpu_list_agree_on_blocked(pyxl, guest_cfg):
    _booted(pyxl, guest_cfg)
    for paused in (False, True):
        if paused:
            pyxl("pause", "vm1")
        state = pyxl("list", "vm1").out.splitlines()[1].split()[4]
        vcpu_states = [line.split()[4] for line in pyxl("vcpu-list", "vm1").out.splitlines()[1:]]
        assert (state[1] == "b") == all(s[1] == "b" for s in vcpu_states), (paused, state)
        assert state == ("--p---" if paused else "-b----")


def test_vcpu_pin_moves_the_vcpu_at_once(pyxl, guest_cfg):
    _booted(pyxl, guest_cfg, extra='workload = "busy"\n')
    assert pyxl("vcpu-pin", "vm1", "0", "5").code == 0
    row = pyxl("vcpu-list", "vm1").out.splitlines()[1].split()
    assert (row[2], row[3]) == ("0", "5")


def test_shutdown_wait_sees_the_shutdown_before_the_monitors_destroy(pyxl, guest_cfg):
    _booted(pyxl, guest_cfg, extra='on_poweroff = "destroy"\n')
    r = pyxl("shutdown", "-w", "vm1")
    assert (r.code, r.err) == (0, "Shutting down domain 1\nWaiting for 1 domains\n"
                                  "Domain 1 has been shut down, reason code 0\n")
    _booted(pyxl, guest_cfg, "vm2", extra='on_poweroff = "destroy"\n')
    r = pyxl("shutdown", "-w", "-w", "vm2")
    assert (r.code, r.err) == (0, "Shutting down domain 2\nWaiting for 1 domains\n"
                                  "Domain 2 has been shut down, reason code 0\n"
                                  "Domain 2 continue waiting for death\n"
                                  "Domain 2 has been destroyed\n")
