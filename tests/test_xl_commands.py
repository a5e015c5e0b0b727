"""xl's commands beyond the lifecycle: help's layout, config-update, sharing,
vncviewer, the FLASK commands, set-parameters, devd, qemu-monitor-command.

The expected `xl help` is built from xl_cmdtable.c's order and texts written
out below (the reference's table of names), not from pyxl's own table."""

from __future__ import annotations

import struct

from conftest import XL_COMMAND_NAMES

# xl_cmdtable.c's x86 order (dt-overlay is Arm's).
XL_ORDER = [name for name in XL_COMMAND_NAMES if name != "dt-overlay"]

# Each entry's cmd_desc, as xl_cmdtable.c has it.
XL_DESCRIPTIONS = {
    "create": "Create a domain from config file <filename>",
    "config-update": ("Update a running domain's saved configuration, used when rebuilding "
                      "the domain after reboot.\nWARNING: xl now has better capability to "
                      "manage domain configuration, avoid using this command when possible"),
    "list": "List information about all/some domains",
    "destroy": "Terminate a domain immediately",
    "shutdown": "Issue a shutdown signal to a domain",
    "reboot": "Issue a reboot signal to a domain",
    "pci-attach": "Insert a new pass-through pci device",
    "pci-detach": "Remove a domain's pass-through pci device",
    "pci-list": "List pass-through pci devices for a domain",
    "pci-assignable-add": "Make a device assignable for pci-passthru",
    "pci-assignable-remove": "Remove a device from being assignable",
    "pci-assignable-list": "List all the assignable pci devices",
    "pause": "Pause execution of a domain",
    "unpause": "Unpause a paused domain",
    "console": "Attach to domain's console",
    "vncviewer": "Attach to domain's VNC server.",
    "save": "Save a domain state to restore later",
    "migrate": "Migrate a domain to another host",
    "restore": "Restore a domain from a saved state",
    "migrate-receive": "Restore a domain from a saved state",
    "suspend": "Suspend a domain to RAM",
    "resume": "Resume a domain from RAM",
    "dump-core": "Core dump a domain",
    "cd-insert": "Insert a cdrom into a guest's cd drive",
    "cd-eject": "Eject a cdrom from a guest's cd drive",
    "mem-max": "Set the maximum amount reservation for a domain",
    "mem-set": "Set the current memory usage for a domain",
    "button-press": "Indicate an ACPI button press to the domain",
    "vcpu-list": "List the VCPUs for all/some domains",
    "vcpu-pin": "Set which CPUs a VCPU can use",
    "vcpu-set": "Set the number of active VCPUs allowed for the domain",
    "vm-list": "List guest domains, excluding dom0, stubdoms, etc.",
    "info": "Get information about Xen host",
    "sharing": "Get information about page sharing",
    "sched-credit": "Get/set credit scheduler parameters",
    "sched-credit2": "Get/set credit2 scheduler parameters",
    "sched-rtds": "Get/set rtds scheduler parameters",
    "domid": "Convert a domain name to domain id",
    "domname": "Convert a domain id to domain name",
    "rename": "Rename a domain",
    "trigger": "Send a trigger to a domain",
    "sysrq": "Send a sysrq to a domain",
    "debug-keys": "Send debug keys to Xen",
    "set-parameters": "Set hypervisor parameters",
    "dmesg": "Read and/or clear dmesg buffer",
    "top": "Monitor a host and the domains in real time",
    "network-attach": "Create a new virtual network device",
    "network-list": "List virtual network interfaces for a domain",
    "network-detach": "Destroy a domain's virtual network device",
    "channel-list": "List virtual channel devices for a domain",
    "block-attach": "Create a new virtual block device",
    "block-list": "List virtual block devices for a domain",
    "block-detach": "Destroy a domain's virtual block device",
    "vtpm-attach": "Create a new virtual TPM device",
    "vtpm-list": "List virtual TPM devices for a domain",
    "vtpm-detach": "Destroy a domain's virtual TPM device",
    "vkb-attach": "Create a new virtual keyboard device",
    "vkb-list": "List virtual keyboard devices for a domain",
    "vkb-detach": "Destroy a domain's virtual keyboard device",
    "vdispl-attach": "Create a new virtual display device",
    "vdispl-list": "List virtual display devices for a domain",
    "vdispl-detach": "Destroy a domain's virtual display device",
    "vsnd-attach": "Create a new virtual sound device",
    "vsnd-list": "List virtual sound devices for a domain",
    "vsnd-detach": "Destroy a domain's virtual sound device",
    "uptime": "Print uptime for all/some domains",
    "claims": "List outstanding claim information about all domains",
    "cpupool-create": "Create a new CPU pool",
    "cpupool-list": "List CPU pools on host",
    "cpupool-destroy": "Deactivates a CPU pool",
    "cpupool-rename": "Renames a CPU pool",
    "cpupool-cpu-add": "Adds a CPU to a CPU pool",
    "cpupool-cpu-remove": "Removes a CPU from a CPU pool",
    "cpupool-migrate": "Moves a domain into a CPU pool",
    "cpupool-numa-split": "Splits up the machine into one CPU pool per NUMA node",
    "getenforce": "Returns the current enforcing mode of the Flask Xen security module",
    "setenforce": "Sets the current enforcing mode of the Flask Xen security module",
    "loadpolicy": "Loads a new policy into the Flask Xen security module",
    "remus": "Enable Remus HA for domain",
    "devd": "Daemon that listens for devices and launches backends",
    "psr-hwinfo": "Show hardware information for Platform Shared Resource",
    "psr-cmt-attach": "Attach Cache Monitoring Technology service to a domain",
    "psr-cmt-detach": "Detach Cache Monitoring Technology service from a domain",
    "psr-cmt-show": "Show Cache Monitoring Technology information",
    "psr-cat-set": "Set cache capacity bitmasks(CBM) for a domain",
    "psr-cat-show": "Show Cache Allocation Technology information",
    "psr-mba-set": "Set throttling value (THRTL) for a domain",
    "psr-mba-show": "Show Memory Bandwidth Allocation information",
    "usbctrl-attach": "Create a virtual USB controller for a domain",
    "usbctrl-detach": "Remove the virtual USB controller specified by <DevId> for a domain",
    "usbdev-attach": "Attach a USB device to a domain",
    "usbdev-detach": "Detach a USB device from a domain",
    "usb-list": "List information about all USB controllers and devices for a domain",
    "qemu-monitor-command": "Issue a qemu monitor command to the device model of a domain",
    "dt-overlay": ("Add/Remove a device tree overlay to Xen device tree, attach/detach "
                   "the device to a domain"),
    "xenstore-quota-get": "List global or domain specific Xenstore quotas",
    "xenstore-quota-set": "Set global or domain specific Xenstore quotas",
}

WARNING = ("WARNING: xl now has better capability to manage domain configuration, "
           "avoid using this command when possible\n")


def _help_line(name: str) -> str:
    line = f" {name:<19} "
    if len(name) > 19:
        line += f"\n {'':<19} "
    return line + XL_DESCRIPTIONS[name] + "\n"


def test_help_lists_xls_commands_in_xls_order_then_pyxls_own(pyxl):
    """xl's part is byte for byte what xl_cmdtable.c gives for the commands
    pyxl has; pyxl's own follow under a heading that bash-completion's
    /^ [^ ]/ filter skips."""
    r = pyxl("help")
    assert r.code == 0
    head = "Usage xl [-vfNtT] <subcommand> [args]\n\nxl full list of subcommands:\n\n"
    xl_part, sep, own = r.out.partition("\npyxl's own subcommands:\n\n")
    assert sep and xl_part.startswith(head)
    listed = [line.split()[0] for line in xl_part.splitlines()[4:]
              if line.startswith(" ") and line[1] != " "]
    assert listed == [name for name in XL_ORDER if name in listed]
    assert xl_part == head + "".join(_help_line(name) for name in listed)
    for name in ("config-update", "vncviewer", "sharing", "set-parameters", "getenforce",
                 "setenforce", "loadpolicy", "devd", "qemu-monitor-command"):
        assert name in listed, name
    own_names = [line.split()[0] for line in own.splitlines()
                 if line.startswith(" ") and line[1] != " "]
    assert "host" in own_names and "sched-sedf" in own_names
    assert not set(own_names) & set(XL_ORDER)


def test_help_texts_of_the_new_commands(pyxl):
    r = pyxl("help", "vncviewer")
    assert r.out == ("Usage: xl [-vtT] vncviewer [options] <Domain>\n"
                     "--autopass               Pass VNC password to viewer via stdin and\n"
                     "                         -autopass\n"
                     "--vncviewer-autopass     (consistency alias for --autopass)\n\n"
                     "Attach to domain's VNC server..\n\n")
    assert pyxl("help", "sharing").out == ("Usage: xl [-vtT] sharing [Domain]\n\n"
                                          "Get information about page sharing.\n\n")
    assert pyxl("help", "devd").out == (
        "Usage: xl [-vtTf] devd [options]\n\n"
        "Daemon that listens for devices and launches backends.\n\n"
        "Options:\n\n"
        "-F                      Run in the foreground.\n"
        "-p, --pidfile [FILE]    Write PID to pidfile when daemonizing.\n")
    assert pyxl("help", "config-update").out.startswith(
        "Usage: xl [-vtTfN] config-update <Domain> <ConfigFile> [options] [vars]\n\n")


def test_sharing(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1", memory=512))
    r = pyxl("sharing")
    assert (r.code, r.out) == (0, "Name                                        ID   Mem Shared\n"
                                  "Domain-0                                     0  1024      0\n"
                                  "vm1                                          1   512      0\n")
    assert pyxl("sharing", "vm1").out.splitlines()[1:] == [
        "vm1                                          1   512      0"]
    r = pyxl("sharing", "9")
    assert r.code == 1 and r.err.endswith("Error: Domain '9' does not exist.\n")
    r = pyxl("sharing", "vm1", "Domain-0")
    assert r.code == 1 and r.out.startswith("Usage: xl [-vtT] sharing [Domain]")


def test_flask_on_a_host_without_it(pyxl, tmp_path):
    r = pyxl("getenforce")
    assert (r.code, r.out, r.err) == (255, "Flask XSM Disabled\n", "")
    r = pyxl("setenforce", "1")
    assert (r.code, r.out, r.err) == (255, "", "Flask XSM disabled\n")
    policy = tmp_path / "xenpolicy"
    policy.write_bytes(b"junk")
    r = pyxl("loadpolicy", str(policy))
    assert (r.code, r.err) == (255, "Flask XSM disabled\n")


def test_flask_enforcing_host(pyxl, tmp_path):
    assert pyxl("--host", "f", "host", "boot", "--flask", "enforcing").code == 0
    r = pyxl("--host", "f", "getenforce")
    assert (r.code, r.out) == (1, "Enforcing\n")   # xl returns libxl's value
    assert pyxl("--host", "f", "setenforce", "PERMISSIVE").code == 0
    assert pyxl("--host", "f", "getenforce").out == "Permissive\n"
    assert pyxl("--host", "f", "getenforce").code == 0
    r = pyxl("--host", "f", "setenforce", "maybe")
    assert r.code == 2 and r.out.startswith("Usage: xl [-vtTf] setenforce <1|0|Enforcing")
    r = pyxl("--host", "f", "setenforce")
    assert r.code == 2
    good = tmp_path / "good"
    good.write_bytes(struct.pack("<II", 0xF97CFF8C, 8) + b"XenFlask" + bytes(64))
    r = pyxl("--host", "f", "loadpolicy", str(good))
    assert (r.code, r.out) == (0, "Successfully loaded policy.\n")
    bad = tmp_path / "bad"
    bad.write_bytes(b"not a policy at all")
    r = pyxl("--host", "f", "loadpolicy", str(bad))
    # xl sets errno to -ret, and ret is -1: strerror(EPERM)
    assert (r.code, r.err) == (255, "Unable to load new Flask policy: Operation not permitted\n")
    r = pyxl("--host", "f", "loadpolicy", str(tmp_path / "missing"))
    assert (r.code, r.err) == (255, f"Error occurred opening policy file "
                                    f"'{tmp_path / 'missing'}': No such file or directory\n")
    r = pyxl("--host", "f", "loadpolicy", str(tmp_path))
    assert (r.code, r.err) == (255, "Unable to read new Flask policy file: Is a directory\n")
    assert "flask=enforcing" in pyxl("--host", "f", "dmesg").out


def test_set_parameters(pyxl):
    assert pyxl("set-parameters", "gnttab_max_frames=128").code == 0
    assert pyxl("set-parameters", " gnttab_max_frames=0x40  gnttab_max_maptrack_frames=9").code == 0
    # a boot-only parameter has no hypfs node, like an unknown one
    r = pyxl("set-parameters", "sched_credit_tslice_ms=5")
    assert (r.code, r.err) == (1, "libxl: error: libxl.c:656:libxl_set_parameters: setting "
                                  "parameters: No such file or directory\n"
                                  "cannot set parameters: sched_credit_tslice_ms=5\n")
    r = pyxl("set-parameters", "gnttab_max_frames=lots")
    assert r.code == 1 and ": Invalid argument\n" in r.err
    r = pyxl("set-parameters", "gnttab_max_frames=4294967296")
    assert r.code == 1 and ": Numerical result out of range\n" in r.err
    r = pyxl("set-parameters")
    assert r.code == 2 and r.err == "'xl set-parameters' requires at least 1 argument.\n\n"


def test_devd_returns_at_once(pyxl, tmp_path):
    assert pyxl("devd").code == 0
    assert pyxl("devd", "-F").code == 0
    pidfile = tmp_path / "devd.pid"
    assert pyxl("devd", "--pidfile", str(pidfile)).code == 0
    assert pidfile.read_text().strip().isdigit()
    r = pyxl("devd", "-x")
    assert (r.code, r.err) == (2, "option `x' not supported.\n")


HVM_CFG = 'name = "h1"\ntype = "hvm"\nmemory = 256\nvcpus = 1\n'


def test_qemu_monitor_command(pyxl, guest_cfg, write_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    pyxl("create", "-q", write_cfg(HVM_CFG, "h1.cfg"))
    r = pyxl("qemu-monitor-command", "h1", "info status")
    assert (r.code, r.out) == (0, "VM status: running\r\n\n")
    assert pyxl("qemu-monitor-command", "h1", "info name").out == "h1\r\n\n"
    assert pyxl("qemu-monitor-command", "h1", "info bogus").out == \
        "unknown command: 'info bogus'\r\n\n"
    r = pyxl("qemu-monitor-command", "h1", "info", "status")
    assert (r.code, r.err) == (1, "Invalid arguments.\n")
    r = pyxl("qemu-monitor-command", "vm1", "info status")
    assert (r.code, r.out) == (1, "")
    assert r.err == ("libxl: error: libxl_qmp.c:1387:qmp_ev_lock_aquired: Domain 1:Failed "
                     "to connect to QMP socket /var/run/xen/qmp-libxl-1: "
                     "No such file or directory\n")


def test_vncviewer(pyxl, guest_cfg, write_cfg, monkeypatch):
    monkeypatch.delenv("VNCVIEWER", raising=False)
    pyxl("create", "-q", guest_cfg("vm1"))
    pyxl("create", "-q", write_cfg(HVM_CFG, "h1.cfg"))
    r = pyxl("vncviewer", "h1")
    assert (r.code, r.out) == (255, "")
    assert r.err == ("libxl: cannot execute vncviewer: pyxl simulates no VNC server "
                     "(would run: vncviewer 127.0.0.1:0)\n")
    r = pyxl("vncviewer", "vm1")
    assert (r.code, r.err) == (1, "libxl: error: libxl_console.c:215:libxl_vncviewer_exec: "
                                  "Domain 1:Cannot get vnc-port\n")


def test_config_update(pyxl, guest_cfg):
    cfg = guest_cfg("vm1", memory=256)
    pyxl("create", "-q", cfg)
    r = pyxl("config-update", "vm1", cfg, "memory=512")
    assert (r.code, r.out, r.err) == (0, "", WARNING + "setting dom1 configuration\n")
    r = pyxl("-N", "config-update", "vm1", cfg)
    assert r.code == 0 and r.err == WARNING
    assert r.out.startswith('{\n    "domid": null,\n    "config": {\n')
    r = pyxl("config-update", "vm1", "-h")
    assert (r.code, r.out) == (0, 'command "config_update" not implemented\n')
    r = pyxl("config-update", "vm1")
    assert (r.code, r.err) == (1, WARNING + "Config file not specified\n")
    r = pyxl("config-update", "vm1", "/nonexistent.cfg")
    assert (r.code, r.err) == (253, WARNING + "Failed to read config file: "
                                             "/nonexistent.cfg: No such file or directory\n")
    r = pyxl("config-update", "vm1", cfg, "other.cfg")
    assert r.code == 2 and r.out.startswith("Usage: xl [-vtTfN] create ")
    r = pyxl("config-update")
    assert r.code == 1 and r.err == "xl config-update requires a domain argument\n"
    assert r.out.startswith("Usage: xl [-vtTfN] config-update ")
    r = pyxl("config-update", "vm1", "-x")
    assert (r.code, r.err) == (2, WARNING + "option `x' not supported.\n")


def test_a_reboot_builds_the_domain_from_the_config_update_stored(pyxl, guest_cfg):
    """xl's monitor (reload_domain_config): the config config-update stored,
    with its key=value overrides, builds the domain after a reboot."""
    cfg = guest_cfg("vm1", memory=256)
    assert pyxl("create", "-q", cfg).code == 0
    pyxl("clock", "advance", "5s")
    assert pyxl("config-update", "vm1", cfg, "memory=384").code == 0
    assert pyxl("list", "vm1").out.splitlines()[1].split()[2] == "256"  # not until rebuilt
    assert pyxl("reboot", "vm1").code == 0
    pyxl("clock", "advance", "10s")
    assert pyxl("list", "vm1").out.splitlines()[1].split()[2] == "384"
    assert pyxl("reboot", "vm1").code == 0   # used once: libxl_userdata_unlink
    pyxl("clock", "advance", "10s")
    assert pyxl("list", "vm1").out.splitlines()[1].split()[2] == "384"
