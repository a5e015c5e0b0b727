"""Devices from xl.cfg beyond disk= and vif= (vkb=, vtpm=, vdispl=, vsnd=,
usbdev=): parsed as xl parses them, stored in the domain's config as libxl
prints it, attached at create and torn down at destroy. Hot-attach and
detach keep the stored config true; network-attach takes xl.conf's
vif.default.*; max_maptrack_frames bounds what a domain may map."""

from __future__ import annotations

import json

import pytest

DEVICES = """
vif = [ "bridge=xenbr0" ]
disk = [ "/dev/vg/d,raw,xvda,w" ]
vkb = [ "backend-type=linux,unique-id=kb0" ]
vtpm = [ "backend=0,uuid=AC6F641A-03E6-49B6-AFC5-4B599019C1AB" ]
vdispl = [ "connectors=id0:800x600" ]
vsnd = [ [ "card,short-name=C", "pcm,name=p0", "stream,unique-id=s0,type=p" ] ]
usbctrl = [ "type=pv,version=2,ports=4" ]
usbdev = [ "hostbus=1,hostaddr=2" ]
"""
FRONTS = [("vif", 0), ("vbd", 51712), ("vkbd", 0), ("vtpm", 0), ("vdispl", 0), ("vsnd", 0),
          ("vusb", 0)]


def _xs(pyxl, path):
    r = pyxl("xenstore-read", path)
    return r.out.strip() if r.code == 0 else None


def _config(pyxl, dom="vm1"):
    r = pyxl("list", "-l", dom)
    assert r.code == 0, r.err
    return json.loads(r.out)[0]["config"]


def _booted(pyxl, guest_cfg, extra=""):
    r = pyxl("create", guest_cfg(extra=extra))
    assert r.code == 0, r.err
    pyxl("clock", "advance", "2s")


def test_config_devices_connect_and_are_stored(pyxl, guest_cfg):
    _booted(pyxl, guest_cfg, DEVICES)
    for kind, devid in FRONTS:
        front = f"/local/domain/1/device/{kind}/{devid}"
        back = _xs(pyxl, f"{front}/backend")
        assert (_xs(pyxl, f"{front}/state"), _xs(pyxl, f"{back}/state")) == ("4", "4"), kind
    config = _config(pyxl)
    assert list(config)[2:10] == ["disks", "nics", "vkbs", "vtpms", "vdispls", "vsnds",
                                  "usbctrls", "usbdevs"]
    assert config["vkbs"] == [{"devid": 0, "backend_type": "linux", "unique_id": "kb0"}]
    assert config["vtpms"] == [{"backend_domname": "0", "devid": 0,
                                "uuid": "ac6f641a-03e6-49b6-afc5-4b599019c1ab"}]
    assert config["vdispls"] == [{"devid": 0, "connectors": [
        {"unique_id": "id0", "width": 800, "height": 600}]}]
    assert config["vsnds"][0]["pcms"][0]["streams"][0] == {
        "unique_id": "s0", "type": "p", "params": {}}
    assert config["usbdevs"] == [{"ctrl": 0, "port": 1,
                                  "type.hostdev": {"hostbus": 1, "hostaddr": 2}}]
    assert config["nics"][0]["mac"].startswith("00:16:3e:")


def test_destroy_leaves_nothing(pyxl, guest_cfg):
    _booted(pyxl, guest_cfg, DEVICES)
    assert pyxl("destroy", "vm1").code == 0
    for kind in ("vif", "vbd", "vinput", "vtpm", "vdispl", "vsnd", "vusb"):
        assert pyxl("xenstore-ls", f"/local/domain/0/backend/{kind}").out == "", kind
    grants = json.loads(pyxl("grant-list", "--json", "0").out)
    assert not grants.get("maps")
    ports = json.loads(pyxl("evtchn-list", "--json", "0").out)["ports"]
    assert not [p for p in ports if p.get("remote_domid") == 1]


@pytest.mark.parametrize("line,message", [
    ('vtpm = [ "backend=0,uuid=bad" ]', "Failed to parse vtpm UUID: bad"),
    ('vtpm = [ "foo=1" ]', "Unknown string `foo' in vtpm spec"),
    ('vtpm = [ "uuid=AC6F641A-03E6-49B6-AFC5-4B599019C1AB" ]',
     "vtpm spec missing required backend field!"),
    ('vkb = [ "unique-id=x" ]', "backend-type should be set in vkb spec"),
    ('vkb = [ "backend-type=bogus" ]', 'Unknown backend_type "bogus" in vkb spec'),
    ('vkb = [ "backend-type=linux,foo=1" ]', 'Unknown string "foo=1" in vkb spec'),
    ('vkb = [ "backend-type=linux,feature-multi-touch=1" ]',
     "multi-touch-width, multi-touch-height, multi-touch-num-contacts should be set for "
     "multi touch in vkb spec"),
    ('vdispl = [ "be-alloc=1" ]', "At least one connector should be specified."),
    ('vdispl = [ "bogus=1" ]', 'Unknown string "bogus=1" in vdispl spec'),
    ('vsnd = [ "card" ]', "Failed to get vsnd card list: Invalid argument"),
    ('vsnd = [ [ "speaker" ] ]', "Invalid key: speaker"),
    ('usbdev = [ "hostbus=1,bogus=2" ]', "Unknown string `bogus=2' in usbdev spec"),
])
def test_bad_entries_exit_1_and_change_nothing(pyxl, guest_cfg, line, message):
    path = guest_cfg(extra=line + "\n")
    r = pyxl("create", path)
    assert (r.code, r.err) == (1, f"Parsing config from {path}\n{message}\n")
    assert pyxl("domid", "vm1").code != 0


def test_a_failing_kind_is_named(pyxl, guest_cfg):
    """libxl attaches kind by kind; the one that fails is in its message."""
    r = pyxl("create", guest_cfg(extra='vif = [ "" ]\nvtpm = [ "backend=nosuch" ]\n'))
    assert r.code != 0
    assert r.err.endswith("domcreate_attach_devices: Domain 1:unable to add vtpm devices\n")
    assert pyxl("domid", "vm1").code != 0


HOT = [("network-attach", ("bridge=xenbr0",), "nics", "network-detach", "1"),
       ("block-attach", ("/dev/vg/e,raw,xvdb,w",), "disks", "block-detach", "xvdb"),
       ("vtpm-attach", ("uuid=AC6F641A-03E6-49B6-AFC5-4B599019C1AB",), "vtpms",
        "vtpm-detach", "0"),
       ("vdispl-attach", ("connectors=id0:800x600",), "vdispls", "vdispl-detach", "0"),
       ("vsnd-attach", ("card,short-name=C", "pcm,name=p0", "stream,unique-id=s0,type=p"),
        "vsnds", "vsnd-detach", "0"),
       ("usbctrl-attach", ("type=pv",), "usbctrls", "usbctrl-detach", "0")]


@pytest.mark.parametrize("attach,args,field,detach,which", HOT, ids=[h[0] for h in HOT])
def test_hot_attach_and_detach_keep_the_stored_config(pyxl, guest_cfg, attach, args, field,
                                                      detach, which):
    _booted(pyxl, guest_cfg, 'vif = [ "" ]\n')
    before = len(_config(pyxl).get(field, []))
    assert pyxl(attach, "vm1", *args).code == 0
    assert len(_config(pyxl)[field]) == before + 1
    pyxl("clock", "advance", "1s")
    r = pyxl(detach, "vm1", which)
    assert r.code == 0, r.err
    assert len(_config(pyxl).get(field, [])) == before


def test_hot_attached_nic_is_stored_with_its_mac_and_devid(pyxl, guest_cfg):
    _booted(pyxl, guest_cfg)
    assert pyxl("network-attach", "vm1", "bridge=xenbr1").code == 0
    nic = _config(pyxl)["nics"][0]
    assert nic["devid"] == 0 and nic["bridge"] == "xenbr1"
    assert nic["mac"] == _xs(pyxl, "/local/domain/1/device/vif/0/mac")


def test_usbdev_attach_and_detach_keep_the_stored_config(pyxl, guest_cfg):
    _booted(pyxl, guest_cfg, 'usbctrl = [ "type=pv" ]\n')
    assert pyxl("usbdev-attach", "vm1", "hostbus=1", "hostaddr=2").code == 0
    assert _config(pyxl)["usbdevs"] == [{"ctrl": 0, "port": 1,
                                         "type.hostdev": {"hostbus": 1, "hostaddr": 2}}]
    assert pyxl("usbdev-detach", "vm1", "0", "1").code == 0
    assert "usbdevs" not in _config(pyxl)


def test_vkb_attach_is_not_stored(pyxl, guest_cfg):
    """libxl_device_vkb_add does not touch the domain's stored config."""
    _booted(pyxl, guest_cfg)
    assert pyxl("vkb-attach", "vm1", "backend-type=linux").code == 0
    assert "vkbs" not in _config(pyxl)


def _xl_conf(state_dir, text):
    host = state_dir / "localhost"
    host.mkdir(parents=True, exist_ok=True)
    (host / "xl.conf").write_text(text)


def test_network_attach_takes_xl_conf_vif_defaults(pyxl, guest_cfg, state_dir):
    _booted(pyxl, guest_cfg)
    _xl_conf(state_dir, 'vif.default.bridge = "br9"\nvif.default.script = "vif-route"\n'
                        'vif.default.gatewaydev = "eth1"\n')
    r = pyxl("-N", "network-attach", "vm1", "mac=00:16:3e:00:00:01")
    assert r.out == ('vif: {\n    "mac": "00:16:3e:00:00:01",\n    "bridge": "br9",\n'
                     '    "script": "vif-route",\n    "gatewaydev": "eth1"\n}\n\n')
    assert pyxl("network-attach", "vm1", "bridge=br1").code == 0
    back = "/local/domain/0/backend/vif/1/0"
    assert (_xs(pyxl, f"{back}/bridge"), _xs(pyxl, f"{back}/script")) == (
        "br1", "/etc/xen/scripts/vif-route")


def test_max_maptrack_frames_bounds_what_a_backend_maps(pyxl, write_cfg):
    """A driver domain with no maptrack frames cannot map its frontend's
    rings (GNTST_no_space): the vif stays Initialised, the grant unmapped."""
    pyxl("create", write_cfg('name="dd"\nmemory=256\nkernel="/k"\ndriver_domain=1\n'
                             "max_maptrack_frames=0\n", "dd.cfg"))
    pyxl("clock", "advance", "2s")
    pyxl("create", write_cfg('name="vm1"\nmemory=256\nkernel="/k"\nvif=["backend=dd"]\n',
                             "vm1.cfg"))
    pyxl("clock", "advance", "2s")
    assert _xs(pyxl, "/local/domain/2/device/vif/0/state") == "3"
    assert _xs(pyxl, "/local/domain/1/backend/vif/2/0/state") == "2"
    assert not json.loads(pyxl("grant-list", "--json", "dd").out).get("maps")
    pyxl("debug-keys", "g")
    assert "0 maptrack frames (0 max)" in pyxl("dmesg").out


def test_xl_conf_max_maptrack_frames_is_the_default(pyxl, guest_cfg, state_dir):
    _xl_conf(state_dir, "max_maptrack_frames = 2\n")
    _booted(pyxl, guest_cfg)
    assert _config(pyxl)["b_info"]["max_maptrack_frames"] == 2
    pyxl("debug-keys", "g")
    assert "maptrack frames (2 max)" in pyxl("dmesg").out


def test_max_event_channels_is_stored_and_enough_ports_connect(pyxl, guest_cfg):
    """Ports 1 and 2 are xenstore's and the console's; port 3 the disk's."""
    _booted(pyxl, guest_cfg, 'max_event_channels = 3\ndisk = [ "/dev/vg/d,raw,xvda,w" ]\n')
    assert _config(pyxl)["b_info"]["event_channels"] == 3
    assert _xs(pyxl, "/local/domain/1/device/vbd/51712/event-channel") == "3"
    assert _xs(pyxl, "/local/domain/1/device/vbd/51712/state") == "4"


def test_a_frontend_out_of_ports_fails_as_linux_does(pyxl, guest_cfg):
    """Three ports: xenstore's, the console's, the vif's. The disk's driver
    finds none, gives back the ring it granted, and reports it as
    xenbus_dev_fatal does; the host carries on."""
    _booted(pyxl, guest_cfg, 'max_event_channels = 3\nvif = [ "bridge=xenbr0" ]\n'
                             'disk = [ "/dev/vg/d,raw,xvda,w" ]\n')
    front = "/local/domain/1/device/vbd/51712"
    assert _xs(pyxl, "/local/domain/1/device/vif/0/state") == "4"
    assert _xs(pyxl, f"{front}/state") == "5"
    assert _xs(pyxl, "/local/domain/1/error/device/vbd/51712/error") == \
        "28 allocating event channel"
    assert _xs(pyxl, f"{front}/ring-ref") is None
    grants = pyxl("grant-list", "vm1", "--json")
    assert grants.code == 0, grants.err
    # console, xenstore, the vif's two rings: the disk's ring was given back
    assert len(json.loads(grants.out)["grants"]) == 4
    assert pyxl("list").code == 0
    assert pyxl("block-detach", "vm1", "xvda").code == 0
    assert _xs(pyxl, front) is None
    assert pyxl("destroy", "vm1").code == 0
    assert "vm1" not in pyxl("list").out


def test_no_ports_for_xenstore_and_console_is_ignored_as_libxl_does(pyxl, guest_cfg):
    """libxl__build_pre does not check its two allocations: the second one
    fails and leaves -1 as the console's port, which xenconsoled cannot bind."""
    _booted(pyxl, guest_cfg, "max_event_channels = 1\n")
    assert _xs(pyxl, "/local/domain/1/store/port") == "1"
    assert _xs(pyxl, "/local/domain/1/console/port") == "4294967295"
    assert pyxl("destroy", "vm1").code == 0
