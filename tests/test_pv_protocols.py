"""The guest side of the PV protocols, driven through the CLI with a manual clock."""

from __future__ import annotations


def _boot(pyxl, cfg):
    assert pyxl("create", "-q", cfg).code == 0
    assert pyxl("clock", "advance", "3s").code == 0


def test_drivers_write_features(pyxl, guest_cfg):
    _boot(pyxl, guest_cfg())
    for key in ("poweroff", "reboot", "suspend"):
        assert pyxl("xenstore-read", f"/local/domain/1/control/feature-{key}").out == "1\n"


def test_balloon_moves_toward_target_over_time(pyxl, guest_cfg):
    _boot(pyxl, guest_cfg(memory=1024))
    assert pyxl("mem-set", "vm1", "512").code == 0
    assert pyxl("xenstore-read", "/local/domain/1/memory/target").out == "524288\n"
    assert " 1024 " in pyxl("list", "vm1").out
    pyxl("clock", "advance", "500ms")
    mid = int(pyxl("list", "vm1").out.splitlines()[1].split()[2])
    assert 512 < mid < 1024
    pyxl("clock", "advance", "5s")
    assert pyxl("list", "vm1").out.splitlines()[1].split()[2] == "512"


def test_mem_set_errors(pyxl, guest_cfg):
    _boot(pyxl, guest_cfg())
    r = pyxl("mem-set", "vm1", "4096")
    assert r.code == 1 and r.err.endswith("cannot set domid 1 dynamic max memory to : 4096\n")
    assert "memory_dynamic_max must be less than or equal to memory_static_max" in r.err
    assert pyxl("mem-set", "vm1", "12xy").err == "invalid memory size: 12xy\n"
    r = pyxl("mem-max", "vm1", "256")
    assert "or or equal" in r.err and r.code == 1
    assert pyxl("mem-max", "vm1", "2g").code == 0
    assert pyxl("xenstore-read", "/local/domain/1/memory/static-max").out == "2097152\n"
    r = pyxl("mem-set", "99", "100")
    assert r.code == 1 and "unable to find domain info for domain 99" in r.err


def test_dom0_memory_nodes_written_lazily(pyxl):
    assert pyxl("xenstore-exists", "/local/domain/0/memory/target").code == 1
    assert pyxl("mem-set", "0", "900").code == 0
    assert pyxl("xenstore-read", "/local/domain/0/memory/target").out == "921600\n"
    assert pyxl("xenstore-read", "/local/domain/0/memory/static-max").out == "1048576\n"


def test_vcpu_set_hotplug(pyxl, guest_cfg):
    _boot(pyxl, guest_cfg(vcpus=2, extra="maxvcpus = 4\n"))
    assert pyxl("vcpu-set", "vm1", "4").code == 0
    pyxl("clock", "advance", "100ms")
    assert pyxl("list", "vm1").out.splitlines()[1].split()[3] == "4"
    assert pyxl("vcpu-set", "vm1", "1").code == 0
    pyxl("clock", "advance", "100ms")
    assert pyxl("list", "vm1").out.splitlines()[1].split()[3] == "1"
    r = pyxl("vcpu-set", "vm1", "abc")
    assert r.code == 1 and r.err == "Error: Invalid argument.\n"


def test_sysrq_crash_preserved(pyxl, guest_cfg):
    _boot(pyxl, guest_cfg(extra='on_crash = "preserve"\n'))
    assert pyxl("sysrq", "vm1", "c").code == 0
    pyxl("clock", "advance", "100ms")
    assert "---sc-" in pyxl("list", "vm1").out
    console = pyxl("console", "vm1").out
    assert "Kernel panic - not syncing: sysrq triggered crash" in console
    assert pyxl("xenstore-read", "/local/domain/1/control/sysrq").out == "\n"
    r = pyxl("sysrq", "vm1", "cc")
    assert r.code == 1 and r.err == "Invalid sysrq.\n\n"


def test_unknown_shutdown_request_is_ignored(pyxl, guest_cfg):
    _boot(pyxl, guest_cfg())
    pyxl("xenstore-write", "/local/domain/1/control/shutdown", "dance")
    pyxl("clock", "advance", "2s")
    assert pyxl("xenstore-read", "/local/domain/1/control/shutdown").out == "dance\n"
    assert "Ignoring shutdown request: dance" in pyxl("console", "vm1").out
    assert "r-----" in pyxl("list", "vm1").out or "-b----" in pyxl("list", "vm1").out


def test_hvm_without_pv_drivers_ignores_xenstore(pyxl, write_cfg):
    cfg = write_cfg('name = "h"\ntype = "hvm"\nmemory = 256\nxen_platform_pci = 0\n')
    assert pyxl("create", "-q", cfg).code == 0
    pyxl("clock", "advance", "6s")
    assert pyxl("xenstore-read", "/local/domain/1/control/feature-poweroff").out == "\n"
    r = pyxl("shutdown", "h")
    assert r.code == 1 and r.err == (
        "Shutting down domain 1\n"
        "PV control interface not available: external graceful shutdown not possible.\n"
        'Use "-F" to fallback to ACPI power event.\nshutdown failed (rc=-10)\n')
    r = pyxl("shutdown", "-F", "-w", "h")
    assert r.code == 0 and r.err.endswith("Domain 1 has been shut down, reason code 0\n")
