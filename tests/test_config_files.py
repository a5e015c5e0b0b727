"""Whole config files (tests/data) through `pyxl create -n`: xl.cfg's grammar as
real configs use it, and what xl_parse.c makes of it in libxl's JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DEVICE_MODEL, HVMLOADER_KERNEL, TSC_MODE_INTEGER

DATA = Path(__file__).resolve().parent / "data"

# file -> (domain name, warnings after "Parsing config from", {path in the JSON: value})
EXPECTED = {
    "hvm-disks-vifs.cfg": ("store1", DEVICE_MODEL, {
        ("c_info", "type"): "hvm", ("c_info", "hap"): "False",
        ("b_info", "max_memkb"): 1024 * 1024, ("b_info", "target_memkb"): 768 * 1024,
        ("b_info", "type.hvm", "serial"): "pty",
        ("disks",): [
            {"pdev_path": "/srv/xen/store1-root.img", "vdev": "hda", "backend": "phy",
             "format": "raw", "readwrite": 1},
            {"pdev_path": "/srv/xen/store1-data.qcow2", "vdev": "hdb", "format": "qcow2"},
            {"pdev_path": "/srv/iso/installer.iso", "vdev": "hdc", "format": "raw",
             "removable": 1, "is_cdrom": 1},
            {"pdev_path": "", "vdev": "hdd", "format": "empty", "removable": 1, "is_cdrom": 1},
        ],
        ("nics",): [{"devid": 0, "model": "e1000", "mac": "00:16:3e:5a:01:02",
                     "bridge": "br-lan", "script": "vif-bridge", "nictype": "vif_ioemu",
                     "rate_bytes_per_interval": 5000, "rate_interval_usecs": 20000}],
    }),
    "hvm-vnuma.cfg": ("numa1", [], {
        ("b_info", "max_vcpus"): 4, ("b_info", "avail_vcpus"): [0],
        ("b_info", "max_memkb"): 2048 * 1024, ("b_info", "numa_placement"): "False",
        ("b_info", "vnuma_nodes"): [
            {"memkb": 1024 * 1024, "distances": [10, 20], "vcpus": [0, 1]},
            {"memkb": 1024 * 1024, "distances": [20, 10], "pnode": 1, "vcpus": [2, 3]},
        ],
        ("disks", 0, "vdev"): "xvda", ("disks", 0, "pdev_path"): "/dev/vg0/numa1",
    }),
    "hvm-cpuid-pci.cfg": ("passthru1", [], {
        ("b_info", "acpi"): "False", ("b_info", "apic"): "False",
        ("b_info", "nested_hvm"): "True",
        ("pcidevs",): [{"bus": 3}, {"func": 2, "dev": 1, "bus": 4, "permissive": True}],
    }),
    "hvm-spice.cfg": ("desktop1", [], {
        ("b_info", "type.hvm", "vnc"): {"enable": "False"},
        ("b_info", "type.hvm", "sdl"): {"enable": "False"},
        ("b_info", "type.hvm", "spice"): {
            "enable": "True", "port": 5930, "tls_port": 5931, "host": "127.0.0.1",
            "disable_ticketing": "False", "passwd": "s3cret", "agent_mouse": "True",
            "vdagent": "True", "clipboard_sharing": "False"},
    }),
    "pv-pygrub-usb.cfg": ("usb1", [], {
        ("c_info", "type"): "pv", ("b_info", "bootloader"): "/usr/bin/pygrub",
        ("b_info", "max_vcpus"): 6, ("b_info", "avail_vcpus"): [0, 1],
        ("disks", 0, "backend"): "qdisk", ("disks", 0, "format"): "qcow2",
        ("usbctrls",): [{"type": "qusb", "devid": 0, "version": 3, "ports": 8}],
        ("on_poweroff",): "preserve", ("on_crash",): "coredump_restart",
    }),
    "pv-cmdline-escapes.cfg": ("ceph1", [], {
        ("c_info", "type"): "pv",
        ("b_info", "cmdline"): 'root=/dev/xvda1 console=hvc0 msg="hi there"',
        ("b_info", "ramdisk"): "/boot/initrd-guest",
        ("disks", 0, "pdev_path"): r"rbd:rbd/ceph1:mon_host=10.0.0.1\:6789\;10.0.0.2\:6789",
        ("disks", 0, "backend"): "qdisk",
        ("disks", 1): {"pdev_path": "/dev/vg0/ceph1-swap", "vdev": "xvdb", "format": "raw",
                       "readwrite": 1},
        ("nics",): [{"devid": 0}],
    }),
    "pvh-root-extra.cfg": ("example.pvh", [], {
        ("c_info", "type"): "pvh",
        ("b_info", "cmdline"): "root=/dev/xvda1 ro console=hvc0 earlyprintk=xen",
        ("b_info", "vcpu_hard_affinity"): [[0, 1, 2, 3]] * 3,
        ("nics",): [{"devid": 0, "bridge": "xenbr0"},
                    {"devid": 1, "mac": "00:16:3e:00:00:02", "bridge": "xenbr1"}],
        ("on_reboot",): "restart_rename",
    }),
    "xm-hvm.cfg": ("oldhvm", [TSC_MODE_INTEGER, HVMLOADER_KERNEL], {
        ("c_info", "type"): "hvm", ("b_info", "target_memkb"): 256 * 1024,
        ("disks",): [{"pdev_path": "/var/images/old.img", "vdev": "hda", "format": "raw",
                      "readwrite": 1}],
        ("nics", 0, "nictype"): "vif_ioemu", ("nics", 0, "bridge"): "xenbr0",
    }),
    "pv-nbd.cfg": ("nbd1", [], {
        ("c_info", "type"): "pv", ("b_info", "cmdline"): "root=/dev/xvda ro",
        ("disks",): [{"pdev_path": "192.0.2.10 10809", "vdev": "xvda", "format": "raw",
                      "script": "block-nbd", "readwrite": 1}],
    }),
}


def dig(value, path):
    for key in path:
        value = value[key]
    return value


def test_every_data_file_has_expectations():
    assert sorted(p.name for p in DATA.glob("*.cfg")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_file_dry_run(pyxl, name):
    assert pyxl("host", "boot", "--cpus", "8", "--nodes", "2").code == 0
    path = str(DATA / name)
    domain_name, warnings, facts = EXPECTED[name]
    r = pyxl("create", "-n", path)
    assert r.code == 0, r.err
    assert r.err.splitlines() == [f"Parsing config from {path}", *warnings]
    config = json.loads(r.out)
    assert config["c_info"]["name"] == domain_name
    for where, value in facts.items():
        assert dig(config, where) == value, where
    assert pyxl("list").out.count("\n") == 2  # a dry run creates nothing


def test_hvmloader_kernel_is_dropped_for_hvm(pyxl):
    r = pyxl("create", "-n", str(DATA / "xm-hvm.cfg"))
    assert r.code == 0, r.err
    assert "kernel" not in json.loads(r.out)["b_info"]


def test_syntax_error_is_one_line_with_file_and_line(pyxl, write_cfg):
    path = write_cfg('name = "x"\nmemory = = 5\n')
    r = pyxl("create", "-q", path)
    assert r.code == 1
    assert r.err == (f"{path}:2: config parsing error near `=': syntax error, unexpected '=', "
                     "expecting STRING or NUMBER or '['\n")
    assert pyxl("list").out.count("\n") == 2  # nothing was created


def test_python_xm_config_is_refused(pyxl, write_cfg):
    path = write_cfg('import os\nname = "x"\n')
    r = pyxl("create", "-q", path)
    assert r.code == 1 and r.err.startswith(f"{path}:1: ")
    assert r.err.count("\n") == 1


# --- a PV guest needs a kernel or a bootloader (xl_parse.c, parse_config_data) ------


def domain_names(pyxl):
    return [line.split()[0] for line in pyxl("list").out.splitlines()[1:]]


@pytest.mark.parametrize("kind", ["", 'type = "pv"\n', 'builder = "generic"\n'])
@pytest.mark.parametrize("dry_run", [True, False])
def test_pv_without_kernel_or_bootloader_is_refused(pyxl, write_cfg, kind, dry_run):
    path = write_cfg(f'name = "nokernel"\n{kind}memory = 64\nvcpus = 1\n'
                     'disk = [ "/dev/vg/nokernel,raw,xvda,w" ]\nroot = "/dev/xvda1"\n')
    r = pyxl("create", *(["-n"] if dry_run else []), path)
    assert (r.code, r.out) == (1, "")
    assert r.err == f"Parsing config from {path}\nNeither kernel nor bootloader specified\n"
    assert domain_names(pyxl) == ["Domain-0"]
    assert pyxl("xenstore-list", "/local/domain").out == "0\n"


def test_pv_with_a_bootloader_alone_is_accepted(pyxl, write_cfg):
    path = write_cfg('name = "grub"\nmemory = 64\nbootloader = "pygrub"\n')
    r = pyxl("create", "-n", path)
    assert (r.code, r.err) == (0, f"Parsing config from {path}\n")
    b_info = json.loads(r.out)["b_info"]
    assert b_info["bootloader"] == "pygrub" and "kernel" not in b_info
    assert "type.pv" in b_info


def test_hvm_without_kernel_is_not_refused(pyxl, write_cfg):
    path = write_cfg('name = "h"\ntype = "hvm"\nmemory = 64\n')
    r = pyxl("create", "-n", path)
    assert (r.code, r.err) == (0, f"Parsing config from {path}\n")
    assert "kernel" not in json.loads(r.out)["b_info"]
    r = pyxl("create", "-q", path)                      # hvmloader boots it
    assert (r.code, r.err) == (0, "")
    assert domain_names(pyxl) == ["Domain-0", "h"]


def test_pvh_without_kernel_passes_the_pv_check(pyxl, write_cfg):
    # xl_parse.c checks only PV guests; pyxl parses a kernel-less PVH config
    path = write_cfg('name = "ph"\ntype = "pvh"\nmemory = 64\n')
    r = pyxl("create", "-n", path)
    assert (r.code, r.err) == (0, f"Parsing config from {path}\n")
    config = json.loads(r.out)
    assert config["c_info"]["type"] == "pvh" and "kernel" not in config["b_info"]
