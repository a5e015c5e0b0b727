"""Split devices through the CLI: a PV guest's vif and vbd walk XenbusState
to Connected over a granted ring and an interdomain event channel,
network-detach walks them to Closed and leaves nothing, destroy likewise;
network-* commands' rows, messages and exit codes as xl's."""

from __future__ import annotations

import json

import pytest

DEVICES = 'vif = ["bridge=xenbr0,mac=00:16:3e:01:02:03"]\ndisk = ["/srv/vm1.img,raw,xvda,rw"]\n'


def _xs(pyxl, path):
    r = pyxl("xenstore-read", path)
    return r.out.strip() if r.code == 0 else None


def _grants(pyxl, dom):
    return json.loads(pyxl("grant-list", "--json", dom).out)


def _ports(pyxl, dom):
    return {p["port"]: p for p in json.loads(pyxl("evtchn-list", "--json", dom).out)["ports"]}


@pytest.fixture
def booted(pyxl, guest_cfg):
    assert pyxl("create", guest_cfg(extra=DEVICES)).code == 0
    pyxl("clock", "advance", "2s")
    return "1"


def test_create_connects_vif_and_vbd(pyxl, booted):
    for kind, devid in (("vif", 0), ("vbd", 51712)):
        front = f"/local/domain/1/device/{kind}/{devid}"
        back = f"/local/domain/0/backend/{kind}/1/{devid}"
        assert _xs(pyxl, f"{front}/state") == "4"
        assert _xs(pyxl, f"{back}/state") == "4"
        assert _xs(pyxl, f"{front}/backend") == back
        port = int(_xs(pyxl, f"{front}/event-channel"))
        p = _ports(pyxl, "1")[port]
        assert p["status"] == "interdomain" and p["remote_domid"] == 0
        assert _ports(pyxl, "0")[p["remote_port"]]["remote_domid"] == 1
        keys = ("tx-ring-ref", "rx-ring-ref") if kind == "vif" else ("ring-ref",)
        grants = {g["ref"]: g for g in _grants(pyxl, "1")["grants"]}
        for key in keys:
            g = grants[int(_xs(pyxl, f"{front}/{key}"))]
            assert g["domid"] == 0 and g["mapped_by"] == 0
    assert _xs(pyxl, "/local/domain/0/backend/vif/1/0/hotplug-status") == "connected"


def test_permissions(pyxl, booted):
    r = pyxl("xenstore-ls", "-fp", "/local/domain/1/device/vif")
    assert '/local/domain/1/device/vif/0 = ""   (n1,r0)\n' in r.out
    assert '/local/domain/1/device/vif/0/mtu = "1500"   (n0,r1)\n' in r.out
    r = pyxl("xenstore-ls", "-fp", "/local/domain/0/backend/vif/1")
    assert '/local/domain/0/backend/vif/1/0 = ""   (n0,r1)\n' in r.out
    assert pyxl("xenstore-read", "/libxl/1/device/vif/0/backend").out == \
        "/local/domain/0/backend/vif/1/0\n"


def test_network_list_rows(pyxl, booted):
    r = pyxl("network-list", "vm1")
    assert r.code == 0
    evt = _xs(pyxl, "/local/domain/1/device/vif/0/event-channel")
    tx = _xs(pyxl, "/local/domain/1/device/vif/0/tx-ring-ref")
    rx = _xs(pyxl, "/local/domain/1/device/vif/0/rx-ring-ref")
    assert r.out == (
        "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path"
        "                       \n"
        f"0   0  00:16:3e:01:02:03{0:6d} {4:5d} {int(evt):6d} {int(tx):5d}/{int(rx):<11d} "
        f"{'/local/domain/0/backend/vif/1/0':<30}\n")


def test_network_detach_leaves_nothing(pyxl, booted):
    port = int(_xs(pyxl, "/local/domain/1/device/vif/0/event-channel"))
    refs = {int(_xs(pyxl, f"/local/domain/1/device/vif/0/{k}"))
            for k in ("tx-ring-ref", "rx-ring-ref")}
    before0 = len(_ports(pyxl, "0"))
    assert pyxl("network-detach", "vm1", "0").code == 0
    assert _xs(pyxl, "/local/domain/1/device/vif/0/state") is None
    assert pyxl("xenstore-ls", "/local/domain/0/backend/vif").code != 0
    assert pyxl("xenstore-ls", "/libxl/1/device/vif").code != 0
    assert port not in _ports(pyxl, "1")
    assert len(_ports(pyxl, "0")) == before0 - 1
    assert not refs & {g["ref"] for g in _grants(pyxl, "1")["grants"]}
    assert _xs(pyxl, "/local/domain/1/device/vbd/51712/state") == "4"


def test_network_detach_by_mac(pyxl, booted):
    assert pyxl("network-detach", "vm1", "00:16:3e:01:02:03").code == 0
    assert pyxl("network-list", "vm1").out.count("\n") == 1


def test_destroy_leaves_nothing(pyxl, booted):
    before = json.loads(pyxl("evtchn-list", "--json", "0").out)["ports"]
    assert pyxl("destroy", "vm1").code == 0
    assert pyxl("xenstore-ls", "/local/domain/0/backend/vif").code != 0
    assert pyxl("xenstore-ls", "/local/domain/0/backend/vbd").code != 0
    after = json.loads(pyxl("evtchn-list", "--json", "0").out)["ports"]
    assert all(p.get("remote_domid") != 1 for p in after)
    assert len(after) < len(before)
    assert _grants(pyxl, "0")["maps"] == []


def test_hot_attach_connects(pyxl, booted):
    assert pyxl("network-attach", "vm1", "bridge=xenbr1").code == 0
    pyxl("clock", "advance", "1s")
    assert _xs(pyxl, "/local/domain/1/device/vif/1/state") == "4"
    assert _xs(pyxl, "/local/domain/0/backend/vif/1/1/bridge") == "xenbr1"


def test_hvm_without_pv_drivers_stays_initialising(pyxl, guest_cfg, write_cfg):
    cfg = write_cfg('name = "h1"\ntype = "hvm"\nmemory = 512\nxen_platform_pci = 0\n'
                    'vif = ["bridge=xenbr0"]\n', "h1.cfg")
    assert pyxl("create", cfg).code == 0
    pyxl("clock", "advance", "10s")
    assert _xs(pyxl, "/local/domain/1/device/vif/0/state") == "1"
    assert _xs(pyxl, "/local/domain/0/backend/vif/1/0/state") == "2"


def test_paused_guest_waits(pyxl, guest_cfg):
    assert pyxl("create", "-p", guest_cfg(extra=DEVICES)).code == 0
    pyxl("clock", "advance", "2s")
    assert _xs(pyxl, "/local/domain/1/device/vif/0/state") == "1"
    assert pyxl("unpause", "vm1").code == 0
    pyxl("clock", "advance", "2s")
    assert _xs(pyxl, "/local/domain/1/device/vif/0/state") == "4"


def test_dry_run(pyxl, booted):
    r = pyxl("-N", "network-attach", "vm1", "bridge=xenbr1")
    assert r.code == 0 and r.out == 'vif: {\n    "bridge": "xenbr1"\n}\n\n'
    assert _xs(pyxl, "/local/domain/1/device/vif/1/state") is None


def test_the_parsers_notes_go_to_stderr(pyxl, booted):
    r = pyxl("-N", "network-attach", "vm1", "netdev=eth0")
    assert r.code == 0 and r.out == 'vif: {\n    "gatewaydev": "eth0"\n}\n\n'
    assert r.err == "the netdev parameter is deprecated, please use gatewaydev instead\n"


@pytest.mark.parametrize("args, message", [
    (("network-detach", "vm1", "7"), "Unknown device 7.\n"),
    (("network-detach", "vm1", "00:16:3e:00:00:01"), "Unknown device 00:16:3e:00:00:01.\n"),
    (("network-attach", "vm1", "backend=nosuch"), "libxl_device_nic_add failed.\n"),
    (("network-attach", "vm1", "foo=bar"), "unrecognized argument `foo=bar'\n"),
    (("network-list", "nosuch"), "nosuch is an invalid domain identifier (rc=-6)\n"),
])
def test_errors(pyxl, booted, args, message):
    before = pyxl("xenstore-ls", "-f", "/").out
    r = pyxl(*args)
    assert (r.code, r.err) == (1, message)
    assert pyxl("xenstore-ls", "-f", "/").out == before


def test_create_with_missing_backend_fails(pyxl, guest_cfg):
    r = pyxl("create", guest_cfg(extra='vif = ["backend=nosuch"]\n'))
    assert r.code != 0
    assert pyxl("list").out.count("\n") == 2
    assert pyxl("xenstore-ls", "/local/domain/0/backend/vif").code != 0


def test_driver_domain_backend(pyxl, guest_cfg):
    assert pyxl("create", guest_cfg("dd")).code == 0
    assert pyxl("create", guest_cfg(extra='vif = ["backend=dd"]\n')).code == 0
    pyxl("clock", "advance", "2s")
    assert _xs(pyxl, "/local/domain/2/device/vif/0/backend") == "/local/domain/1/backend/vif/2/0"
    assert _xs(pyxl, "/local/domain/2/device/vif/0/state") == "4"
    ref = int(_xs(pyxl, "/local/domain/2/device/vif/0/tx-ring-ref"))
    assert {g["ref"]: g for g in _grants(pyxl, "2")["grants"]}[ref]["mapped_by"] == 1
