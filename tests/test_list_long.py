"""`xl list -l`: what libxl_retrieve_domain_configuration gives back.

Domain-0 has xen-init-dom0's stub config; a guest's is the config as xl
gave it to libxl (what `create -n` prints), with only what
libxl__update_domain_configuration merges back (uuid, video_memkb,
arch_x86.msr_relaxed, each vif's devid/nictype/mac) and what retrieval reads
from the running domain (name, vCPUs, memory, scheduler)."""

from __future__ import annotations

import json

GUEST = """name = "vm1"
type = "pv"
kernel = "/boot/vmlinuz"
memory = 512
vcpus = 2
vif = ["bridge=xenbr0"]
disk = ["/tmp/d.img,raw,xvda,rw"]
"""

DOM0 = """    {
        "domid": 0,
        "config": {
            "c_info": {
                "type": "pv",
                "name": "Domain-0"
            },
            "b_info": {
                "max_memkb": 1048576,
                "target_memkb": 1048576,
                "sched_params": {
                    "sched": "credit",
                    "weight": 256,
                    "cap": 0
                },
                "type.pv": {

                },
                "arch_arm": {
                    "arm_sci": {

                    }
                },
                "arch_x86": {

                },
                "xenstore_quota": {

                }
            },
            "on_reboot": "restart",
            "on_soft_reset": "soft_reset"
        }
    }"""


def _entry(out: str, domid: int) -> dict:
    return [e for e in json.loads(out) if e["domid"] == domid][0]["config"]


def test_domain0_has_xen_init_dom0s_stub(pyxl):
    r = pyxl("list", "-l")
    assert (r.code, r.out) == (0, "[\n" + DOM0 + "\n]\n\n")
    assert pyxl("list", "-l", "0").out == r.out


def test_a_guest_is_its_config_before_libxls_defaults(pyxl, write_cfg):
    cfg = write_cfg(GUEST)
    dry = json.loads(pyxl("create", "-n", cfg).out)
    pyxl("create", "-q", cfg)
    got = _entry(pyxl("list", "-l").out, 1)
    assert got["c_info"] == {"type": "pv", "name": "vm1", "uuid": dry["c_info"]["uuid"],
                             "run_hotplug_scripts": "True"}
    assert got["b_info"]["arch_x86"] == {"msr_relaxed": "False"}
    assert got["b_info"]["video_memkb"] == 0
    assert got["b_info"]["sched_params"] == {"sched": "credit", "weight": 256, "cap": 0}
    for key in ("numa_placement", "blkdev_start", "event_channels", "device_model_version",
                "max_grant_version", "shadow_memkb"):
        assert key not in got["b_info"], key      # setdefault's, not stored
    assert got["disks"] == dry["disks"]           # no update_config for disks
    nic = got["nics"][0]
    assert list(nic) == ["devid", "mac", "bridge", "nictype"]
    assert (nic["devid"], nic["bridge"], nic["nictype"]) == (0, "xenbr0", "vif")
    assert nic["mac"].startswith("00:16:3e:")
    rest = {k: v for k, v in got.items() if k not in ("c_info", "b_info", "nics")}
    assert rest == {k: v for k, v in dry.items() if k not in ("c_info", "b_info", "nics")}


def test_memory_changes_show(pyxl, write_cfg):
    pyxl("create", "-q", write_cfg(GUEST))
    pyxl("mem-max", "vm1", "1024")
    pyxl("mem-set", "vm1", "300")
    b_info = _entry(pyxl("list", "-l", "vm1").out, 1)["b_info"]
    assert (b_info["target_memkb"], b_info["max_memkb"]) == (300 * 1024, 1024 * 1024)


def test_an_hvm_guest_gets_its_pirq_and_msr_relaxed(pyxl, write_cfg):
    pyxl("create", "-q", write_cfg('name = "h1"\ntype = "hvm"\nmemory = 256\n', "h1.cfg"))
    got = _entry(pyxl("list", "-l", "h1").out, 1)
    assert got["c_info"]["type"] == "hvm"
    assert got["b_info"]["arch_x86"] == {"msr_relaxed": "False"}
    assert got["b_info"]["type.hvm"]["pirq"] == "False"


def test_a_detached_vif_leaves_and_a_config_update_stays_out(pyxl, write_cfg):
    cfg = write_cfg(GUEST)
    pyxl("create", "-q", cfg)
    assert pyxl("network-detach", "vm1", "0").code == 0
    assert _entry(pyxl("list", "-l", "vm1").out, 1).get("nics") is None
    before = pyxl("list", "-l", "vm1").out
    assert pyxl("config-update", "vm1", cfg, "memory=128").code == 0
    assert pyxl("list", "-l", "vm1").out == before   # the "xl" userdata is xl's own
