"""Configs written by others for real xl hosts (../shared/corpus) through `pyxl create -n`.

Each file's verdict is kept here, read from xl's code (xl_parse.c, libxlu), not from
the corpus README. The corpus is not part of this repository: without it these
tests skip. tests/data/ covers the same grammar with configs written for pyxl.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from conftest import CORPUS, DEVICE_MODEL, HVMLOADER_KERNEL, TSC_MODE_INTEGER

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(),
                                reason=f"no shared corpus beside this checkout ({CORPUS})")



@dataclass(frozen=True)
class Domain:
    """A domain config xl accepts: what its dry run must show."""
    type: str
    name: str
    memory_mib: int
    disks: int
    nics: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CpupoolFile:
    """A cpupool config (xlcpupool.cfg), for `xl cpupool-create`."""
    name: str
    sched: str
    cpus: tuple[int, ...]


@dataclass(frozen=True)
class GlobalFile:
    """/etc/xen/xl.conf: as a domain config it has no name."""


VERDICTS = {
    "libvirt_libvirt_test-disk-positional-parms-full.cfg":
        Domain("hvm", "XenGuest2", 394, 3, 1, DEVICE_MODEL),
    "libvirt_libvirt_test-fullvirt-cpuid.cfg": Domain("hvm", "XenGuest2", 394, 0, 0, DEVICE_MODEL),
    "libvirt_libvirt_test-fullvirt-pci.cfg": Domain("hvm", "XenGuest2", 394, 1, 0, DEVICE_MODEL),
    # pnodes 0-3: valid on a host with four NUMA nodes (see the one-node test below)
    "libvirt_libvirt_test-fullvirt-vnuma.cfg":
        Domain("hvm", "XenGuest2", 8192, 1, 1, DEVICE_MODEL),
    "libvirt_libvirt_test-new-disk.cfg": Domain("hvm", "XenGuest2", 394, 3, 1, DEVICE_MODEL),
    "libvirt_libvirt_test-paravirt-cmdline.cfg": Domain("pv", "XenGuest2", 394, 1, 1),
    "libvirt_libvirt_test-paravirt-maxvcpus.cfg": Domain("pv", "XenGuest1", 512, 1, 1),
    "libvirt_libvirt_test-pvh-type.cfg": Domain("pvh", "XenGuest2", 394, 0, 0),
    "libvirt_libvirt_test-rbd-multihost-noauth.cfg":
        Domain("hvm", "XenGuest2", 394, 2, 1, DEVICE_MODEL),
    "libvirt_libvirt_test-spice-features.cfg": Domain("hvm", "XenGuest2", 394, 2, 1, DEVICE_MODEL),
    "libvirt_libvirt_test-usbctrl.cfg": Domain("pv", "XenGuest1", 512, 1, 1),
    "libvirt_libvirt_test-vif-rate.cfg": Domain("hvm", "XenGuest2", 394, 3, 1, DEVICE_MODEL),
    "xen-project_xen_cpupool.cfg": CpupoolFile("Example-Cpupool", "credit", (2, 3)),
    "xen-project_xen_xl.conf.cfg": GlobalFile(),
    "xen-project_xen_xlexample.hvm.cfg": Domain("hvm", "example.hvm", 128, 1, 1),
    "xen-project_xen_xlexample.pvhlinux.cfg": Domain("pvh", "example.pvhlinux", 512, 1, 1),
    "xen-project_xen_xlexample.pvlinux.cfg": Domain("pv", "example.pvlinux", 128, 1, 1),
    # kernel="hvmloader" on HVM is dropped with a warning (xl_parse.c, since Xen 4.5)
    "xen-project_xen_xmexample.hvm.cfg": Domain(
        "hvm", "ExampleHVMDomain", 128, 2, 1, (TSC_MODE_INTEGER, HVMLOADER_KERNEL) + DEVICE_MODEL),
    # nbd: is a deprecated prefix of libxlu's disk lexer: script=block-nbd; a dry run
    # runs no hotplug script
    "xen-project_xen_xmexample.nbd.cfg": Domain("pv", "nbd4", 128, 1, 1),
    "xen-project_xen_xmexample.pv-grub.cfg": Domain("pv", "ExampleDomain", 128, 1, 1),
    "xen-project_xen_xmexample1.cfg": Domain("pv", "ExampleDomain", 64, 1, 1),
}

DOMAINS = sorted(f for f, v in VERDICTS.items() if isinstance(v, Domain))

# A few values per file from the JSON, for what the file exists to exercise.
DETAILS = {
    "libvirt_libvirt_test-disk-positional-parms-full.cfg": {
        ("disks", 0, "backend"): "phy", ("disks", 1, "format"): "qcow2",
        ("disks", 2, "is_cdrom"): 1, ("nics", 0, "model"): "e1000",
        ("nics", 0, "script"): "vif-bridge", ("b_info", "max_memkb"): 579 * 1024},
    "libvirt_libvirt_test-fullvirt-cpuid.cfg": {
        ("b_info", "nested_hvm"): "True", ("b_info", "acpi"): "False",
        ("b_info", "apic"): "False"},
    "libvirt_libvirt_test-fullvirt-pci.cfg": {
        ("pcidevs",): [{"func": 1, "dev": 0x1a, "bus": 1}, {"bus": 2, "permissive": True}]},
    "libvirt_libvirt_test-fullvirt-vnuma.cfg": {
        ("b_info", "max_vcpus"): 8,
        ("b_info", "vnuma_nodes", 0, "vcpus"): [0, 1],
        ("b_info", "vnuma_nodes", 3, "pnode"): 3,
        ("b_info", "vnuma_nodes", 3, "memkb"): 2048 * 1024,
        ("b_info", "vnuma_nodes", 3, "distances"): [41, 31, 21, 10],
        ("disks", 0, "vdev"): "hda", ("disks", 0, "backend"): "phy"},
    "libvirt_libvirt_test-new-disk.cfg": {
        ("c_info", "hap"): "False", ("nics", 0, "nictype"): "vif_ioemu",
        ("disks", 1, "backend"): "qdisk"},
    "libvirt_libvirt_test-paravirt-cmdline.cfg": {
        ("b_info", "cmdline"): "root=/dev/xvda1 console=hvc0",
        ("b_info", "ramdisk"): "/tmp/initrd"},
    "libvirt_libvirt_test-paravirt-maxvcpus.cfg": {
        ("b_info", "max_vcpus"): 8, ("b_info", "avail_vcpus"): [0, 1, 2, 3],
        ("disks", 0, "format"): "qcow2"},
    "libvirt_libvirt_test-pvh-type.cfg": {("b_info", "kernel"): "/tmp/vmlinuz"},
    "libvirt_libvirt_test-rbd-multihost-noauth.cfg": {
        ("disks", 1, "pdev_path"): r"rbd:pool/image:auth_supported=none:mon_host="
                                   r"mon1.example.org\:6321\;mon2.example.org\:6322"
                                   r"\;mon3.example.org\:6322"},
    "libvirt_libvirt_test-spice-features.cfg": {
        ("b_info", "type.hvm", "spice", "enable"): "True",
        ("b_info", "type.hvm", "spice", "port"): 590,
        ("b_info", "type.hvm", "spice", "tls_port"): 500,
        ("b_info", "type.hvm", "spice", "vdagent"): "True"},
    "libvirt_libvirt_test-usbctrl.cfg": {
        ("b_info", "bootloader"): "/usr/bin/pygrub", ("on_crash",): "preserve",
        ("usbctrls",): [{"type": "qusb", "devid": 0, "version": 2, "ports": 6}]},
    "libvirt_libvirt_test-vif-rate.cfg": {
        ("nics", 0, "rate_bytes_per_interval"): 512000,
        ("nics", 0, "rate_interval_usecs"): 50000, ("disks", 2, "is_cdrom"): 1},
    "xen-project_xen_xlexample.hvm.cfg": {("nics", 0, "devid"): 0},
    "xen-project_xen_xlexample.pvhlinux.cfg": {("b_info", "cmdline"): "root=/dev/xvda1"},
    "xen-project_xen_xlexample.pvlinux.cfg": {("b_info", "cmdline"): "root=/dev/xvda1"},
    "xen-project_xen_xmexample.hvm.cfg": {
        ("disks", 0, "pdev_path"): "/var/images/min-el3-i386.img",
        ("disks", 1, "vdev"): "hdc", ("disks", 1, "is_cdrom"): 1,
        ("disks", 1, "format"): "empty", ("nics", 0, "bridge"): "xenbr0",
        ("nics", 0, "nictype"): "vif_ioemu"},
    "xen-project_xen_xmexample.nbd.cfg": {
        ("disks", 0, "pdev_path"): "134.100.233.115 20004",
        ("disks", 0, "script"): "block-nbd", ("disks", 0, "vdev"): "hda1",
        ("b_info", "cmdline"): "root=/dev/hda1 ro 3"},
    "xen-project_xen_xmexample.pv-grub.cfg": {
        ("b_info", "kernel"): "pv-grub.gz", ("b_info", "cmdline"): "(hd0,0)/boot/grub/menu.lst"},
    "xen-project_xen_xmexample1.cfg": {
        ("disks", 0, "pdev_path"): "hda1", ("disks", 0, "vdev"): "hda1",
        ("b_info", "cmdline"): "root=/dev/hda1 ro 4"},
}


def dig(value, path):
    for key in path:
        value = value[key]
    return value


@pytest.fixture
def numa_host(pyxl):
    r = pyxl("host", "boot", "--cpus", "8", "--nodes", "4")
    assert r.code == 0, r.err


def test_every_corpus_file_has_a_verdict():
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(VERDICTS)


@pytest.mark.parametrize("name", DOMAINS)
def test_domain_config_dry_runs(pyxl, numa_host, name):
    path = str(CORPUS / name)
    want = VERDICTS[name]
    r = pyxl("create", "-n", path)
    assert r.code == 0, r.err
    assert r.err.splitlines() == [f"Parsing config from {path}", *want.warnings]
    assert r.out.startswith('{\n    "c_info": {\n')
    config = json.loads(r.out)
    assert config["c_info"]["type"] == want.type
    assert config["c_info"]["name"] == want.name
    assert config["b_info"]["target_memkb"] == want.memory_mib * 1024
    assert f"type.{want.type}" in config["b_info"]
    assert len(config.get("disks", [])) == want.disks
    assert len(config.get("nics", [])) == want.nics
    for path_in_json, value in DETAILS[name].items():
        assert dig(config, path_in_json) == value, path_in_json
    assert pyxl("-N", "create", path).out == r.out  # the global -N does the same


def test_vnuma_on_a_one_node_host_names_the_first_bad_pnode(pyxl):
    path = str(CORPUS / "libvirt_libvirt_test-fullvirt-vnuma.cfg")
    assert pyxl("info", "nr_nodes").out == "1\n"
    r = pyxl("create", "-q", "-n", path)
    assert (r.code, r.out, r.err) == (1, "", "xl: invalid pnode number: 1\n")


def test_xl_conf_is_not_a_domain_config(pyxl):
    path = str(CORPUS / "xen-project_xen_xl.conf.cfg")
    r = pyxl("create", "-n", path)
    assert (r.code, r.out) == (1, "")
    assert r.err == f"Parsing config from {path}\nDomain name must be specified.\n"


def test_xl_conf_reads_as_global_config():
    from pyxl.toolstack.xl_conf import parse_global_config

    g = parse_global_config((CORPUS / "xen-project_xen_xl.conf.cfg").read_text(),
                            "/etc/xen/xl.conf")
    assert (g.autoballoon, g.output_format, g.domid_policy, g.run_hotplug_scripts) == \
        ("auto", "json", "xen", 1)
    assert g.warnings == []


def test_cpupool_file_dry_runs_with_cpupool_create(pyxl):
    name = "xen-project_xen_cpupool.cfg"
    want = VERDICTS[name]
    for cpu in want.cpus:
        assert pyxl("cpupool-cpu-remove", "Pool-0", str(cpu)).code == 0
    path = str(CORPUS / name)
    r = pyxl("cpupool-create", "-n", path)
    assert r.code == 0, r.err
    assert r.out == (f'Using config file "{path}"\ncpupool name:   {want.name}\n'
                     f"scheduler:      {want.sched}\nnumber of cpus: {len(want.cpus)}\n")
    assert "Example-Cpupool" not in pyxl("cpupool-list").out  # a dry run


def test_cpupool_file_is_not_a_domain_config(pyxl):
    path = str(CORPUS / "xen-project_xen_cpupool.cfg")
    r = pyxl("create", "-q", "-n", path)
    assert (r.code, r.out, r.err) == (1, "", "Neither kernel nor bootloader specified\n")
