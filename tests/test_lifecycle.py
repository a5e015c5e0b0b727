"""shutdown/reboot/trigger and the monitor's on_* actions, through the CLI."""

from __future__ import annotations


def test_shutdown_wait_returns_once_gone(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg()).code == 0
    r = pyxl("shutdown", "-w", "vm1")
    assert r.code == 0
    assert r.err == ("Shutting down domain 1\nWaiting for 1 domains\n"
                     "Domain 1 has been shut down, reason code 0\n")   # then destroyed
    assert "vm1" not in pyxl("list").out
    assert pyxl("xenstore-exists", "/local/domain/1").code == 1


def test_shutdown_preserve_reports_shutdown(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg(extra='on_poweroff = "preserve"\n'))
    r = pyxl("shutdown", "-w", "vm1")
    assert r.err.endswith("Domain 1 has been shut down, reason code 0\n")
    assert "---s--" in pyxl("list", "vm1").out


def test_unmonitored_domain_is_left_shut_down(pyxl, guest_cfg):
    pyxl("create", "-q", "-e", guest_cfg())
    pyxl("shutdown", "-w", "vm1")
    assert "---s--" in pyxl("list", "vm1").out


def test_reboot_restarts_with_new_domid(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg())
    r = pyxl("reboot", "-w", "vm1")
    assert r.code == 0 and "Domain 1 has been shut down, reason code 1" in r.err
    assert pyxl("domid", "vm1").out == "2\n"


def test_rename_restart_keeps_old_domain(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg(extra='on_crash = "rename-restart"\n'))
    pyxl("clock", "advance", "3s")
    pyxl("sysrq", "vm1", "c")
    pyxl("clock", "advance", "10ms")
    out = pyxl("list").out
    assert "vm1-20260101T0000Z" in out and "---sc-" in out
    assert pyxl("domid", "vm1").out == "2\n"


def test_coredump_destroy(pyxl, guest_cfg, state_dir):
    pyxl("create", "-q", guest_cfg(extra='on_crash = "coredump-destroy"\n'))
    pyxl("clock", "advance", "3s")
    pyxl("sysrq", "vm1", "c")
    pyxl("clock", "advance", "10ms")
    pyxl("list")
    assert "vm1" not in pyxl("list").out
    dumps = [p.name for p in (state_dir / "localhost" / "dump").iterdir()]
    assert len(dumps) == 1 and dumps[0].startswith("1-") and dumps[0].endswith(".core")


def test_shutdown_errors(pyxl):
    r = pyxl("shutdown")
    assert r.code == 1 and r.err == "You must specify -a or a domain id.\n\n"
    r = pyxl("shutdown", "7")
    assert r.code == 1 and r.err.endswith("shutdown failed (rc=-3)\n")
    assert "unable to get dominfo: No such process" in r.err


def test_triggers(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg())
    r = pyxl("trigger", "vm1", "bogus")
    assert r.code == 1 and r.err == 'Invalid trigger "bogus"\n'
    r = pyxl("trigger", "vm1", "power")
    assert r.code == 0 and "Send trigger 'power' failed: Invalid argument" in r.err
    r = pyxl("trigger", "vm1", "RESET")
    assert r.code == 0 and "Function not implemented" in r.err
    assert pyxl("trigger", "vm1", "nmi").code == 0
    r = pyxl("button-press", "vm1", "lid")
    assert r.code == 1 and r.err.endswith("lid is an invalid button identifier\n")


def test_restarted_guest_boots_at_once(pyxl, guest_cfg):
    """on_crash=restart: the monitor's new domain starts booting in the same step."""
    pyxl("create", "-q", guest_cfg("vm1", extra='on_crash = "restart"\n'))
    pyxl("clock", "advance", "3s")
    assert pyxl("sysrq", "vm1", "c").code == 0
    pyxl("clock", "advance", "1s")
    line = pyxl("list", "vm1").out.splitlines()[1].split()
    assert line[1] != "1"  # a new domain
    assert line[4] == "r-----"  # its kernel is booting: one vCPU busy
    assert 0.8 <= float(line[5]) <= 1.0
    assert "Linux version" in pyxl("console", "vm1").out


def test_failed_restart_leaves_the_domain_gone_and_the_host_working(pyxl, guest_cfg):
    """The monitor cannot rebuild the guest (its cpupool was renamed): the
    guest stays destroyed, and the command that ran the monitor still succeeds."""
    pyxl("host", "boot", "--cpus", "4")
    assert pyxl("cpupool-cpu-remove", "Pool-0", "3").code == 0
    assert pyxl("cpupool-create", 'name="p1"', 'cpus=["3"]').code == 0
    pyxl("create", "-q", guest_cfg("vm1", extra='pool = "p1"\non_crash = "restart"\n'))
    pyxl("clock", "advance", "3s")
    assert pyxl("cpupool-rename", "p1", "p2").code == 0
    assert pyxl("sysrq", "vm1", "c").code == 0
    r = pyxl("clock", "advance", "1s")
    assert r.code == 0, r.err
    assert [line.split()[0] for line in pyxl("list").out.splitlines()[1:]] == ["Domain-0"]
    assert pyxl("xenstore-ls", "/local/domain").out.startswith("0 = ")
    assert pyxl("xenstore-exists", "/local/domain/2").code == 1
    assert pyxl("create", "-q", guest_cfg("vm2")).code == 0
