"""xl_parse.c semantics, device specs, create defaults and libxl's JSON."""

import json

import pytest

from pyxl.errors import PyxlError
from pyxl.toolstack.cpumap import CpuRangeError, format_cpumap, parse_cpurange
from pyxl.toolstack.devices import (
    DiskSpecError, parse_disk_spec, parse_nic_spec, parse_vif_rate, vdev_to_devid)
from pyxl.toolstack.domain_config import DomainConfig, HostInfo
from pyxl.toolstack.libxl_json import dryrun_json, list_long_json, render
from pyxl.toolstack.libxlu_cfg import parse_cfg
from pyxl.toolstack.setdefault import domain_config_setdefault as apply_create_defaults
from pyxl.toolstack.xl_conf import GlobalConfig
from pyxl.toolstack.xl_parse import parse_domain_config

UUID = "5c2ee3b5-1b5c-4b8e-9f2c-1a2b3c4d5e6f"


def dom(text, host=None, **kw):
    return parse_domain_config(parse_cfg(text, "t.cfg"), host or HostInfo(), **kw)


def fails(text, host=None):
    with pytest.raises(PyxlError) as info:
        dom(text, host)
    return info.value


# -- parse_domain_config -----------------------------------------------------------

def test_minimal_pv_domain():
    dc, warnings = dom('name = "vm1"\nmemory = 512\nvcpus = 2\nkernel = "/boot/vmlinuz"\n')
    assert (dc.name, dc.type, dc.target_memkb, dc.max_memkb) == ("vm1", "pv", 524288, 524288)
    assert (dc.max_vcpus, dc.avail_vcpus) == (2, [0, 1])
    assert (dc.on_poweroff, dc.on_reboot, dc.on_crash, dc.on_soft_reset) == \
        ("destroy", "restart", "destroy", "soft_reset")
    assert dc.uuid is None and warnings == []


def test_name_is_required():
    e = fails("memory = 128\n")
    assert (e.message, e.exit_code) == ("Domain name must be specified.", 1)


@pytest.mark.parametrize("value, expected", [
    ("hvm", "hvm"), ("pv", "pv"), ("pvh", "pvh"), ("h", "hvm"), ("p", "pv"), ("", "hvm")])
def test_type_accepts_prefixes_like_xl(value, expected):
    assert dom(f'name = "a"\ntype = "{value}"\nkernel = "/k"\n')[0].type == expected


def test_type_errors():
    assert fails('name = "a"\ntype = "xen"\n').message == "Invalid domain type xen."
    assert fails('name = "a"\nbuilder = "linux"\n').message == "Invalid domain type linux."
    assert fails('name = "a"\ntype = "pv"\nbuilder = "hvm"\n').message == \
        'Contradicting "builder" and "type" options specified.'
    assert dom('name = "a"\nbuilder = "generic"\nkernel = "/k"\n')[0].type == "pv"


def test_bad_actions_and_uuid():
    assert fails('name = "a"\non_crash = "explode"\n').message == \
        'Unknown on_crash action "explode" specified'
    assert fails('name = "a"\nuuid = "nope"\n').message == "Failed to parse UUID: nope"
    dc, _ = dom('name = "a"\non_reboot = "rename-restart"\non_crash = "coredump-destroy"\n'
                'kernel = "/k"\n')
    assert (dc.on_reboot, dc.on_crash) == ("restart_rename", "coredump_destroy")


def test_cmdline_root_extra_rules():
    assert dom('name="a"\nroot="/dev/xvda1 ro"\nextra="3"\nkernel="/k"\n')[0].cmdline == \
        "root=/dev/xvda1 ro 3"
    assert dom('name="a"\nroot="/dev/xvda1"\nkernel="/k"\n')[0].cmdline == "root=/dev/xvda1"
    assert dom('name="a"\nextra="quiet"\nkernel="/k"\n')[0].cmdline == "quiet"
    dc, warnings = dom('name="a"\ncmdline="console=hvc0"\nextra="x"\nkernel="/k"\n')
    assert dc.cmdline == "console=hvc0"
    assert warnings == ["Warning: ignoring root= and extra= in favour of cmdline="]


def test_vcpus_and_maxvcpus():
    dc, _ = dom('name="a"\nvcpus=2\nmaxvcpus=4\nkernel="/k"\n')
    assert (dc.max_vcpus, dc.avail_vcpus) == (4, [0, 1])
    assert fails('name="a"\nvcpus=4\nmaxvcpus=2\n').message == "xl: maxvcpus < vcpus"
    assert dom('name="a"\nvcpus=0\nkernel="/k"\n')[0].avail_vcpus == [0]


def test_cpus_affinity_string_and_list():
    host = HostInfo(nr_cpus=8)
    dc, _ = dom('name="a"\nvcpus=2\ncpus="0-3,^1"\nkernel="/k"\n', host)
    assert dc.vcpu_hard_affinity == [[0, 2, 3], [0, 2, 3]]
    assert dc.numa_placement is None
    dc, _ = dom('name="a"\nvcpus=2\ncpus=["2", "5-6"]\ncpus_soft="all"\nkernel="/k"\n', host)
    assert dc.vcpu_hard_affinity == [[2], [5, 6]]
    assert dc.vcpu_soft_affinity == [list(range(8))] * 2
    assert dc.numa_placement is False
    assert fails('name="a"\ncpus="1-x"\n').message == "Invalid pcpu range: 1-x."


def test_memory_warning_and_number_errors_are_warnings_only():
    dc, warnings = dom('name="a"\nmemory="lots"\nkernel="/k"\n')
    assert dc.target_memkb is None
    assert warnings == ["t.cfg:2: warning: parameter `memory' is not a valid number"]


def test_sched_and_pool_keys():
    dc, _ = dom('name="a"\ncpu_weight=512\ncap=50\npool="web"\nkernel="/k"\n')
    assert (dc.sched_weight, dc.sched_cap, dc.pool_name) == (512, 50, "web")


def test_workload_key_kept_raw_and_not_in_json():
    dc, _ = dom('name="a"\nworkload=["busy", "idle"]\nkernel="/k"\n')
    assert dc.workload == ["busy", "idle"]
    assert "workload" not in dryrun_json(dc)
    assert dom('name="a"\nworkload="periodic:50"\nkernel="/k"\n')[0].workload == "periodic:50"


def test_unknown_keys_are_kept():
    dc, _ = dom('name="a"\ndhcp="dhcp"\nvnuma_like=[["x"]]\nkernel="/k"\n')
    assert dc.settings["dhcp"] == "dhcp"
    assert dc.lines["vnuma_like"] == 3


def test_global_config_feeds_nics_and_hotplug():
    g = GlobalConfig(vif_default_bridge="br9", vif_default_script="vif-route",
                     run_hotplug_scripts=0)
    dc, _ = dom('name="a"\nvif=["mac=00:16:3e:00:00:01", "bridge=xenbr1"]\nkernel="/k"\n',
                HostInfo(global_cfg=g))
    assert [n.bridge for n in dc.nics] == ["br9", "xenbr1"]
    assert [n.devid for n in dc.nics] == [0, 1]
    assert dc.nics[0].script == "vif-route" and dc.run_hotplug_scripts is False


def test_vif_bad_item_is_a_warning_in_config_files():
    dc, warnings = dom('name="a"\nvif=["type=ioemu, bridge=xenbr0, bogus=1"]\nkernel="/k"\n')
    assert dc.nics[0].nictype == "vif_ioemu" and dc.nics[0].bridge == "xenbr0"
    assert warnings == ["unrecognized argument `bogus=1'"]


def test_disk_error_names_the_config_file():
    e = fails('name="a"\ndisk=["/img,qcow3,xvda"]\nkernel="/k"\n')
    assert e.message == ("t.cfg: config parsing error in disk specification: unknown value "
                         "for format: near `qcow3' in `/img,qcow3,xvda'")


def test_tsc_mode_integer_is_deprecated():
    dc, warnings = dom('name="a"\ntsc_mode=2\nkernel="/k"\n')
    assert dc.tsc_mode == "native"
    assert warnings == ['WARNING: specifying "tsc_mode" as an integer is deprecated. '
                        'Please use the named parameter variant. e.g. tsc_mode="native"']


def test_vnuma_needs_host_nodes():
    text = ('name="a"\nmemory=2048\nvnuma=[["pnode=0","size=1024","vcpus=0"],'
            '["pnode=1","size=1024","vcpus=1"]]\nkernel="/k"\n')
    assert fails(text, HostInfo(nr_nodes=1)).message == "xl: invalid pnode number: 1"
    dc, _ = dom(text, HostInfo(nr_nodes=2))
    assert dc.max_vcpus == 2 and dc.max_memkb == 2048 * 1024
    assert [n["vcpus"] for n in dc.b_info_extra["vnuma_nodes"]] == [[0], [1]]


# -- devices -------------------------------------------------------------------

def test_disk_positional_and_prefixes():
    d = parse_disk_spec("phy:/dev/vg/lv,xvda,w")
    assert (d.pdev_path, d.vdev, d.format, d.readwrite, d.backend) == \
        ("/dev/vg/lv", "xvda", "raw", 1, "unknown")
    d = parse_disk_spec(",hdc:cdrom,r")
    assert (d.pdev_path, d.vdev, d.format, d.is_cdrom, d.removable, d.readwrite) == \
        ("", "hdc", "empty", 1, 1, 0)
    d = parse_disk_spec("nbd:134.100.233.115 20004,hda1,w")
    assert (d.pdev_path, d.vdev, d.script) == ("134.100.233.115 20004", "hda1", "block-nbd")
    d = parse_disk_spec("format=qcow2,vdev=xvdb,access=ro,backendtype=qdisk,target=/a,b")
    assert (d.format, d.vdev, d.readwrite, d.backend, d.pdev_path) == \
        ("qcow2", "xvdb", 0, "qdisk", "/a,b")


@pytest.mark.parametrize("spec, message", [
    ("foo:/x,xvda", "unknown deprecated disk prefix: near `foo:'"),
    ("/a,raw,xvda,w,extra", "too many positional parameters: near `extra'"),
    ("vdev=xvda", "no target specified (and device not removable)"),
    ("/x", "no vdev specified"),
    ("format=raw,foo=bar", "unknown parameter: near `foo=b'"),
])
def test_disk_errors(spec, message):
    with pytest.raises(DiskSpecError) as info:
        parse_disk_spec(spec, "SRC")
    assert info.value.message == \
        f"SRC: config parsing error in disk specification: {message} in `{spec}'"


def test_vdev_numbers():
    assert [vdev_to_devid(v) for v in ("xvda", "xvdb", "hda", "hdc", "sda", "xvdq")] == \
        [51712, 51728, 768, 5632, 2048, (1 << 28) | (16 << 8)]


def test_nic_spec_and_rate():
    nic, msgs = parse_nic_spec("mac=00:16:3E:66:92:9C,bridge=xenbr1,rate=10MB/s,model=e1000")
    assert (nic.mac, nic.bridge, nic.model) == ("00:16:3e:66:92:9c", "xenbr1", "e1000")
    assert (nic.rate_bytes_per_interval, nic.rate_interval_usecs) == (500000, 50000)
    assert parse_vif_rate("10Mb/s@20ms", "F") == (25000, 20000)
    with pytest.raises(PyxlError) as info:
        parse_nic_spec("type=bogus", strict=True)
    assert info.value.message == "Invalid parameter `type'."
    with pytest.raises(PyxlError) as info:
        parse_vif_rate("fast", "F")
    assert info.value.message == "F: config parsing error in vif: invalid rate in `fast'"


def test_cpurange():
    assert parse_cpurange("0-3,^2,6", 8) == {0, 1, 3, 6}
    assert parse_cpurange("all,^0", 4) == {1, 2, 3}
    assert parse_cpurange("node:1", 8, {0: {0, 1}, 1: {2, 3}}) == {2, 3}
    with pytest.raises(CpuRangeError) as info:
        parse_cpurange("^all", 4)
    assert info.value.message == 'Can\'t combine "^" and "all".'
    with pytest.raises(CpuRangeError):
        parse_cpurange("3-1", 4)
    assert format_cpumap({0, 1, 2, 3, 6}, 8) == "0-3,6"
    assert format_cpumap(set(range(8)), 8) == "all"
    assert format_cpumap(set(), 8) == "none"


# -- JSON ----------------------------------------------------------------------

def test_yajl_rendering_rules():
    assert render({}) == "{\n\n}\n"
    assert render({"a": [], "b": {"c": 1}}) == \
        '{\n    "a": [\n\n    ],\n    "b": {\n        "c": 1\n    }\n}\n'
    assert render(["q\"\\\n\x01/é"]) == '[\n    "q\\"\\\\\\n\\u0001/é"\n]\n'


DRYRUN = """{
    "c_info": {
        "type": "pv",
        "name": "vm1",
        "uuid": "5c2ee3b5-1b5c-4b8e-9f2c-1a2b3c4d5e6f",
        "run_hotplug_scripts": "True"
    },
    "b_info": {
        "max_vcpus": 2,
        "avail_vcpus": [
            0,
            1
        ],
        "max_memkb": 524288,
        "target_memkb": 262144,
        "sched_params": {

        },
        "claim_mode": "True",
        "kernel": "/boot/vmlinuz",
        "cmdline": "root=/dev/xvda1 ro",
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
    "disks": [
        {
            "pdev_path": "/dev/vg/vm1",
            "vdev": "xvda",
            "format": "raw",
            "readwrite": 1
        }
    ],
    "nics": [
        {
            "devid": 0,
            "bridge": "xenbr0"
        }
    ],
    "on_reboot": "restart",
    "on_soft_reset": "soft_reset"
}
"""


def test_dryrun_json_exact_bytes():
    dc, _ = dom('name = "vm1"\nmemory = 256\nmaxmem = 512\nvcpus = 2\nkernel = "/boot/vmlinuz"\n'
                'root = "/dev/xvda1 ro"\ndisk = [ "/dev/vg/vm1,raw,xvda,rw" ]\n'
                'vif = [ "bridge=xenbr0" ]\nworkload = "busy"\n', uuid_factory=lambda: UUID)
    assert dryrun_json(dc) == DRYRUN
    assert json.loads(dryrun_json(dc))["c_info"]["name"] == "vm1"


def test_dryrun_json_hvm_union_and_actions():
    dc, _ = dom('name="h"\ntype="hvm"\nvnc=0\nsdl=0\nserial="pty"\non_crash="preserve"\n')
    out = json.loads(dryrun_json(dc))
    hvm = out["b_info"]["type.hvm"]
    assert hvm["vnc"] == {"enable": "False"} and hvm["serial"] == "pty"
    assert hvm["vga"] == {} and hvm["rdm"] == {}
    assert out["on_crash"] == "preserve" and "on_poweroff" not in out


def test_round_trip_json_dict():
    dc, _ = dom('name="a"\nvcpus=2\ncpus="0-1"\ndisk=["/x,raw,xvda,w"]\nvif=["mac=00:16:3e:01:02:03"]\n'
                'workload=["busy"]\nkernel="/k"\n')
    again = DomainConfig.from_json_dict(json.loads(json.dumps(dc.to_json_dict())))
    assert vars(again) == vars(dc)   # field by field (a config is no value to compare)
    assert dryrun_json(again) == dryrun_json(dc)


def test_create_defaults():
    dc, _ = dom('name="a"\nkernel="/k"\n')
    full = apply_create_defaults(dc, HostInfo(sched="credit"))
    assert (full.max_memkb, full.target_memkb, full.max_vcpus, full.avail_vcpus) == \
        (32768, 32768, 1, [0])
    assert (full.event_channels, full.blkdev_start, full.numa_placement) == (1023, "xvda", True)
    assert dc.max_memkb is None        # the input is not changed
    hvm, _ = dom('name="h"\ntype="hvm"\nmemory=256\n')
    hvm = apply_create_defaults(hvm, HostInfo())
    assert hvm.hap is True and hvm.type_info["vga"]["kind"] == "cirrus"
    assert hvm.video_memkb == 8192 and hvm.type_info["bios"] == "seabios"
    assert hvm.timer_mode == "no_delay_for_missed_ticks"


def test_list_long_json_shape():
    dc, _ = dom('name="a"\nmemory=512\nvcpus=2\nvif=[""]\nkernel="/k"\n')
    full = apply_create_defaults(dc, HostInfo(sched="credit"))
    out = list_long_json([(3, full, {"uuid": UUID, "target_memkb": 500000,
                                      "avail_vcpus": 1, "sched": "credit", "weight": 256,
                                      "cap": 0, "nic_macs": ["00:16:3e:aa:bb:cc"]})])
    assert out.endswith("]\n\n")
    data = json.loads(out)
    assert data[0]["domid"] == 3
    conf = data[0]["config"]
    assert conf["c_info"]["uuid"] == UUID and conf["c_info"]["pool_name"] == "Pool-0"
    assert conf["b_info"]["target_memkb"] == 500000
    assert conf["b_info"]["avail_vcpus"] == [0]
    assert conf["b_info"]["sched_params"] == {"sched": "credit", "weight": 256, "cap": 0}
    assert conf["nics"][0]["mac"] == "00:16:3e:aa:bb:cc"
    assert list_long_json([]) == "[\n\n]\n\n"
