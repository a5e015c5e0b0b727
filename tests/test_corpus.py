"""Real configs (shared/corpus): the valid ones parse and dry-run, the others are refused."""

import json
import re
from pathlib import Path

import pytest

from pyxl.errors import PyxlError
from pyxl.toolstack.config import HostInfo, parse_domain_config
from pyxl.toolstack.libxl_json import dryrun_json
from pyxl.toolstack.xlcfg import parse_cfg, parse_global_config

CORPUS = Path("/work/shared/corpus")
CONFIGS = CORPUS / "configs"

pytestmark = pytest.mark.skipif(not CONFIGS.is_dir(), reason="corpus not available")

# vnuma's file pins vnodes to pnodes 0-3: real xl needs a 4-node host for it.
HOST = HostInfo(nr_cpus=8, nr_nodes=4)


def corpus_table():
    rows = {}
    if not CONFIGS.is_dir():
        return rows
    for line in (CORPUS / "README.md").read_text().splitlines():
        m = re.match(r"\| `configs/([^`]+)` \|.*\| ([^|]+) \|$", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    return rows


TABLE = corpus_table()
DOMAIN_VALID = sorted(f for f, v in TABLE.items() if v.startswith("yes") and
                      "cpupool" not in v and "xl.conf" not in v)
REFUSED = sorted(f for f, v in TABLE.items() if not v.startswith("yes"))


def load(name):
    return (CONFIGS / name).read_text()


def test_table_is_complete():
    assert len(DOMAIN_VALID) == 17
    assert REFUSED == ["xen-project_xen_xmexample.hvm.cfg", "xen-project_xen_xmexample.nbd.cfg"]


# Expected facts per file: (type, name, memory MiB, #disks, #nics)
EXPECTED = {
    "libvirt_libvirt_test-disk-positional-parms-full.cfg": ("hvm", "XenGuest2", 394, 3, 1),
    "libvirt_libvirt_test-fullvirt-cpuid.cfg": ("hvm", "XenGuest2", 394, 0, 0),
    "libvirt_libvirt_test-fullvirt-pci.cfg": ("hvm", "XenGuest2", 394, 1, 0),
    "libvirt_libvirt_test-fullvirt-vnuma.cfg": ("hvm", "XenGuest2", 8192, 1, 1),
    "libvirt_libvirt_test-new-disk.cfg": ("hvm", "XenGuest2", 394, 3, 1),
    "libvirt_libvirt_test-paravirt-cmdline.cfg": ("pv", "XenGuest2", 394, 1, 1),
    "libvirt_libvirt_test-paravirt-maxvcpus.cfg": ("pv", "XenGuest1", 512, 1, 1),
    "libvirt_libvirt_test-pvh-type.cfg": ("pvh", "XenGuest2", 394, 0, 0),
    "libvirt_libvirt_test-rbd-multihost-noauth.cfg": ("hvm", "XenGuest2", 394, 2, 1),
    "libvirt_libvirt_test-spice-features.cfg": ("hvm", "XenGuest2", 394, 2, 1),
    "libvirt_libvirt_test-usbctrl.cfg": ("pv", "XenGuest1", 512, 1, 1),
    "libvirt_libvirt_test-vif-rate.cfg": ("hvm", "XenGuest2", 394, 3, 1),
    "xen-project_xen_xlexample.hvm.cfg": ("hvm", "example.hvm", 128, 1, 1),
    "xen-project_xen_xlexample.pvhlinux.cfg": ("pvh", "example.pvhlinux", 512, 1, 1),
    "xen-project_xen_xlexample.pvlinux.cfg": ("pv", "example.pvlinux", 128, 1, 1),
    "xen-project_xen_xmexample.pv-grub.cfg": ("pv", "ExampleDomain", 128, 1, 1),
    "xen-project_xen_xmexample1.cfg": ("pv", "ExampleDomain", 64, 1, 1),
}


@pytest.mark.parametrize("name", DOMAIN_VALID)
def test_valid_domain_config_dry_runs(name):
    dc, _warnings = parse_domain_config(parse_cfg(load(name), name), HOST)
    out = json.loads(dryrun_json(dc))
    dtype, dname, mem, ndisks, nnics = EXPECTED[name]
    assert out["c_info"]["type"] == dtype
    assert out["c_info"]["name"] == dname
    assert out["b_info"]["target_memkb"] == mem * 1024
    assert f"type.{dtype}" in out["b_info"]
    assert len(out.get("disks", [])) == ndisks
    assert len(out.get("nics", [])) == nnics
    for disk in out.get("disks", []):
        assert disk["vdev"] and disk["format"]


def test_corpus_details():
    dc, _ = parse_domain_config(parse_cfg(load("libvirt_libvirt_test-vif-rate.cfg"), "f"), HOST)
    assert (dc.nics[0].rate_bytes_per_interval, dc.nics[0].rate_interval_usecs) == (512000, 50000)
    dc, _ = parse_domain_config(
        parse_cfg(load("libvirt_libvirt_test-rbd-multihost-noauth.cfg"), "f"), HOST)
    assert dc.disks[1].pdev_path.endswith(r"mon1.example.org\:6321\;mon2.example.org\:6322"
                                          r"\;mon3.example.org\:6322")
    dc, _ = parse_domain_config(parse_cfg(load("libvirt_libvirt_test-fullvirt-vnuma.cfg"), "f"),
                                HOST)
    nodes = dc.b_info_extra["vnuma_nodes"]
    assert [n["pnode"] for n in nodes] == [0, 1, 2, 3]
    assert nodes[3]["distances"] == [41, 31, 21, 10]
    dc, _ = parse_domain_config(parse_cfg(load("libvirt_libvirt_test-fullvirt-pci.cfg"), "f"),
                                HOST)
    assert [(p["bus"], p["dev"], p["func"], p.get("permissive", False)) for p in dc.pcidevs] == \
        [(1, 0x1a, 1, False), (2, 0, 0, True)]
    dc, _ = parse_domain_config(parse_cfg(load("xen-project_xen_xmexample1.cfg"), "f"), HOST)
    assert dc.disks[0].pdev_path == "hda1" and dc.disks[0].vdev == "hda1"
    dc, _ = parse_domain_config(parse_cfg(load("libvirt_libvirt_test-usbctrl.cfg"), "f"), HOST)
    assert dc.bootloader == "/usr/bin/pygrub" and dc.on_crash == "preserve"
    assert dc.usbctrls == [{"type": "qusb", "devid": 0, "version": 2, "ports": 6}]


@pytest.mark.parametrize("name, line, fragment", [
    ("xen-project_xen_xmexample.hvm.cfg", 11, 'kernel "hvmloader"'),
    ("xen-project_xen_xmexample.nbd.cfg", 22, "block-nbd"),
])
def test_semantic_issues_are_refused_with_file_and_line(name, line, fragment):
    cfg = parse_cfg(load(name), name)       # the syntax itself is fine
    with pytest.raises(PyxlError) as info:
        parse_domain_config(cfg, HOST)
    message = info.value.message
    assert message.startswith(f"{name}:{line}: ")
    assert fragment in message
    assert "\n" not in message
    assert info.value.exit_code == 1


def test_cpupool_file():
    cfg = parse_cfg(load("xen-project_xen_cpupool.cfg"), "cpupool")
    assert cfg.get_string("name") == "Example-Cpupool"
    assert cfg.get_string("sched") == "credit"
    assert cfg.get_list("cpus") == ["2", "3"]


def test_xl_conf():
    g = parse_global_config(load("xen-project_xen_xl.conf.cfg"), "/etc/xen/xl.conf")
    assert (g.autoballoon, g.output_format, g.domid_policy, g.run_hotplug_scripts) == \
        ("auto", "json", "xen", 1)
    assert g.warnings == []
