"""vkb, vtpm, vdispl and vsnd through the CLI: xl's spec parsing, messages,
exit codes and -N JSON; the nodes libxl writes; each frontend walking to
Connected over its granted rings and event channels; *-list rows byte for
byte; detach and destroy leaving no node, grant or channel behind."""

from __future__ import annotations

import json

import pytest

SND = ("card,short-name=Card,long-name=Long,sample-rates=8000;16000",
       "pcm,name=dev0", "stream,unique-id=s0,type=p",
       "stream,unique-id=s1,type=C,channels-max=2")
ATTACH = {
    "vkb": ("backend-type=linux", "unique-id=kb0", "width=800"),
    "vtpm": ("uuid=AC6F641A-03E6-49B6-AFC5-4B599019C1AB",),
    "vdispl": ("connectors=id0:800x600;id1:1024x768", "be-alloc=1"),
    "vsnd": SND,
}
FRONT = {"vkb": "vkbd", "vtpm": "vtpm", "vdispl": "vdispl", "vsnd": "vsnd"}
RINGS = {"vkb": [("page-gref", "event-channel")], "vtpm": [("ring-ref", "event-channel")],
         "vdispl": [(f"{c}/{s}-ring-ref", f"{c}/{s}-event-channel")
                    for c in (0, 1) for s in ("req", "evt")],
         "vsnd": [(f"0/{s}/{r}ring-ref", f"0/{s}/{r}event-channel")
                  for s in (0, 1) for r in ("", "evt-")]}
UUID = "ac6f641a-03e6-49b6-afc5-4b599019c1ab"


def _xs(pyxl, path):
    r = pyxl("xenstore-read", path)
    return r.out.strip() if r.code == 0 else None


def _grants(pyxl, dom):
    return json.loads(pyxl("grant-list", "--json", dom).out)


def _ports(pyxl, dom):
    return {p["port"]: p for p in json.loads(pyxl("evtchn-list", "--json", dom).out)["ports"]}


@pytest.fixture
def booted(pyxl, guest_cfg):
    assert pyxl("create", guest_cfg()).code == 0
    pyxl("clock", "advance", "2s")
    return "vm1"


def _attach(pyxl, kind):
    r = pyxl(f"{kind}-attach", "vm1", *ATTACH[kind])
    assert (r.code, r.out, r.err) == (0, "", "")
    pyxl("clock", "advance", "1s")


def _num(pyxl, path):
    return int(_xs(pyxl, path))


@pytest.mark.parametrize("kind", sorted(ATTACH))
def test_attach_connects_every_ring(pyxl, booted, kind):
    _attach(pyxl, kind)
    front = f"/local/domain/1/device/{FRONT[kind]}/0"
    back = _xs(pyxl, f"{front}/backend")
    assert _xs(pyxl, f"{front}/state") == "4" and _xs(pyxl, f"{back}/state") == "4"
    assert _xs(pyxl, f"/libxl/1/device/{FRONT[kind]}/0/backend") == back
    grants = {g["ref"]: g for g in _grants(pyxl, "1")["grants"]}
    ports = _ports(pyxl, "1")
    for ref_key, port_key in RINGS[kind]:
        g = grants[_num(pyxl, f"{front}/{ref_key}")]
        assert g["domid"] == 0 and g["mapped_by"] == 0
        p = ports[_num(pyxl, f"{front}/{port_key}")]
        assert p["status"] == "interdomain" and p["remote_domid"] == 0


def test_nodes_libxl_writes(pyxl, booted):
    for kind in ATTACH:
        _attach(pyxl, kind)
    assert _xs(pyxl, "/local/domain/0/backend/vinput/1/0/unique-id") == "kb0"
    assert _xs(pyxl, "/local/domain/0/backend/vinput/1/0/width") == "800"
    assert _xs(pyxl, "/local/domain/0/backend/vtpm/1/0/uuid") == UUID
    assert _xs(pyxl, "/local/domain/0/backend/vtpm/1/0/resume") == "False"
    assert _xs(pyxl, "/local/domain/1/device/vtpm/0/handle") == "0"
    r = pyxl("xenstore-ls", "-fp", "/local/domain/1/device/vdispl/0")
    assert '/local/domain/1/device/vdispl/0/be-alloc = "1"   (n0,r1)\n' in r.out
    assert '/local/domain/1/device/vdispl/0/1/resolution = "1024x768"   (n0,r1)\n' in r.out
    assert _xs(pyxl, "/local/domain/1/device/vdispl/0/0/unique-id") == "id0"
    r = pyxl("xenstore-ls", "-fp", "/local/domain/1/device/vsnd/0")
    assert '/local/domain/1/device/vsnd/0/sample-rates = "8000,16000"   (n1,r0)\n' in r.out
    assert _xs(pyxl, "/local/domain/1/device/vsnd/0/0/name") == "dev0"
    assert _xs(pyxl, "/local/domain/1/device/vsnd/0/0/1/type") == "c"


def test_vkb_list_rows(pyxl, booted):
    _attach(pyxl, "vkb")
    f = "/local/domain/1/device/vkbd/0"
    r = pyxl("vkb-list", "vm1")
    assert r.code == 0
    assert r.out == (
        "Idx BE handle state evt-ch    ref ID         BE-type    BE-path"
        + " " * 23 + "\n"
        f"0   0       0     4 {_num(pyxl, f + '/event-channel'):6d} "
        f"{_num(pyxl, f + '/page-gref'):6d} kb0        linux      "
        "/local/domain/0/backend/vinput/1/0\n")


def test_vtpm_list_rows(pyxl, booted):
    _attach(pyxl, "vtpm")
    f = "/local/domain/1/device/vtpm/0"
    r = pyxl("vtpm-list", "vm1", "nosuch")
    assert r.code == 0 and r.err == "nosuch is an invalid domain identifier\n"
    assert r.out == (
        "Idx BE Uuid                                 handle state evt-ch ring-ref BE-path   \n"
        f"0   0  {UUID}      0     4 {_num(pyxl, f + '/event-channel'):6d} "
        f"{_num(pyxl, f + '/ring-ref'):8d} /local/domain/0/backend/vtpm/1/0\n")


def test_vdispl_list_rows(pyxl, booted):
    _attach(pyxl, "vdispl")
    f = "/local/domain/1/device/vdispl/0"
    n = {k: _num(pyxl, f"{f}/{k}") for k in (
        "0/req-ring-ref", "0/req-event-channel", "0/evt-ring-ref", "0/evt-event-channel",
        "1/req-ring-ref", "1/req-event-channel", "1/evt-ring-ref", "1/evt-event-channel")}
    assert pyxl("vdispl-list", "vm1").out == (
        "DevId: 0, BE: 0, handle: 1, state: 4, be-alloc: 1, "
        "BE-path: /local/domain/0/backend/vdispl/1/0, FE-path: /local/domain/1/device/vdispl/0\n"
        f"\tConnector: 0, id: id0, width: 800, height: 600, req-rref: {n['0/req-ring-ref']}, "
        f"req-evtch: {n['0/req-event-channel']}, evt-rref: {n['0/evt-ring-ref']}, "
        f"evt-evtch: {n['0/evt-event-channel']}\n"
        f"\tConnector: 1, id: id1, width: 1024, height: 768, req-rref: {n['1/req-ring-ref']}, "
        f"req-evtch: {n['1/req-event-channel']}, evt-rref: {n['1/evt-ring-ref']}, "
        f"evt-evtch: {n['1/evt-event-channel']}\n")


def test_vsnd_list_rows(pyxl, booted):
    _attach(pyxl, "vsnd")
    f = "/local/domain/1/device/vsnd/0/0"
    s0 = (_num(pyxl, f"{f}/0/event-channel"), _num(pyxl, f"{f}/0/ring-ref"))
    s1 = (_num(pyxl, f"{f}/1/event-channel"), _num(pyxl, f"{f}/1/ring-ref"))
    assert pyxl("vsnd-list", "vm1").out == (
        "\ndevid: 0, be-domid: 0, handle: 1, state: 4, "
        "be-path: /local/domain/0/backend/vsnd/1/0, fe-path: /local/domain/1/device/vsnd/0\n"
        'short-name: "Card", long-name: "Long", sample-rates: 8000;16000\n'
        '\tpcm: 0, name: "dev0"\n'
        '\t\tstream: 0, unique-id: "s0", type: p\n'
        f"\t\t\tevent-channel: {s0[0]}, ring-ref: {s0[1]}\n"
        '\t\tstream: 1, unique-id: "s1", type: c, channels-max: 2\n'
        f"\t\t\tevent-channel: {s1[0]}, ring-ref: {s1[1]}\n")


def test_lists_of_a_guest_without_devices(pyxl, booted):
    assert pyxl("vkb-list", "vm1").out.count("\n") == 1
    assert pyxl("vtpm-list", "vm1").out.count("\n") == 1
    assert pyxl("vdispl-list", "vm1").out == ""
    assert pyxl("vsnd-list", "vm1").out == ""


@pytest.mark.parametrize("kind", sorted(ATTACH))
def test_detach_leaves_nothing(pyxl, booted, kind):
    _attach(pyxl, kind)
    front = f"/local/domain/1/device/{FRONT[kind]}/0"
    back = _xs(pyxl, f"{front}/backend")
    refs = {_num(pyxl, f"{front}/{r}") for r, _ in RINGS[kind]}
    ports = {_num(pyxl, f"{front}/{p}") for _, p in RINGS[kind]}
    before0 = len(_ports(pyxl, "0"))
    which = UUID if kind == "vtpm" else "0"
    r = pyxl(f"{kind}-detach", "vm1", which)
    assert (r.code, r.out, r.err) == (0, "", "")
    assert _xs(pyxl, f"{front}/state") is None and _xs(pyxl, f"{back}/state") is None
    assert pyxl("xenstore-ls", f"/libxl/1/device/{FRONT[kind]}").code != 0
    assert not ports & set(_ports(pyxl, "1"))
    assert len(_ports(pyxl, "0")) == before0 - len(ports)
    assert not refs & {g["ref"] for g in _grants(pyxl, "1")["grants"]}
    assert not refs & {m["ref"] for m in _grants(pyxl, "0")["maps"] if m["domid"] == 1}


def test_destroy_leaves_nothing(pyxl, booted):
    for kind in ATTACH:
        _attach(pyxl, kind)
    assert pyxl("destroy", "vm1").code == 0
    for bkind in ("vinput", "vtpm", "vdispl", "vsnd"):
        assert pyxl("xenstore-ls", f"/local/domain/0/backend/{bkind}").code != 0
    assert all(p.get("remote_domid") != 1 for p in _ports(pyxl, "0").values())
    assert _grants(pyxl, "0")["maps"] == []


def test_detach_of_a_device_that_does_not_exist(pyxl, booted):
    for kind in ("vkb", "vdispl", "vsnd"):
        r = pyxl(f"{kind}-detach", "vm1", "3")
        assert (r.code, r.err) == (253, "Error: Device 3 not connected.\n")
    r = pyxl("vtpm-detach", "vm1", "3")
    assert (r.code, r.err) == (1, "Unknown device 3.\n")
    r = pyxl("vtpm-detach", "vm1", UUID)
    assert (r.code, r.err) == (1, f"Unknown device {UUID}.\n")


BAD = [
    ("vkb", ("unique-id=x",), 253, "backend-type should be set\n"),
    ("vkb", ("backend-type=usb",), 255, 'Unknown backend_type "usb" in vkb spec\n'),
    ("vkb", ("colour=red",), 255, 'Unknown string "colour=red" in vkb spec\n'),
    ("vkb", ("backend-type=qemu", "feature-multi-touch=1"), 253,
     "multi-touch-width, multi-touch-height, multi-touch-num-contacts should be set\n"),
    ("vtpm", ("uuid=nope",), 1, "Invalid uuid specified (nope)\n"),
    ("vtpm", ("colour=red",), 1, "unrecognized argument `colour=red'\n"),
    ("vdispl", ("be-alloc=1",), 253, "At least one connector should be specified.\n"),
    ("vdispl", ("colour=red",), 1, 'Unknown string "colour=red" in vdispl spec\n'),
    ("vdispl", ("connectors=id0:800",), 1, "Can't parse connector resolution\n"),
    ("vsnd", ("speaker,name=x",), 255, "Invalid key: speaker\n"),
    ("vsnd", ("pcm,colour=red",), 255, "Invalid parameter: colour=red\n"),
    ("vsnd", ("card,sample-formats=s16_le;mp3",), 1, "Invalid pcm format: mp3\n"),
    ("vsnd", ("stream,type=x",), 255, "Invalid stream type: x\n"),
]


@pytest.mark.parametrize("kind,spec,code,message", BAD)
def test_bad_specs_change_nothing(pyxl, booted, kind, spec, code, message):
    before = pyxl("xenstore-ls", "-f", "/").out
    r = pyxl(f"{kind}-attach", "vm1", *spec)
    assert (r.code, r.out, r.err) == (code, "", message)
    assert pyxl("xenstore-ls", "-f", "/").out == before


def test_unknown_guest_or_backend(pyxl, booted):
    r = pyxl("vtpm-attach", "nosuch")
    assert (r.code, r.err) == (1, "nosuch is an invalid domain identifier\n")
    r = pyxl("vkb-attach", "nosuch", "backend-type=qemu")
    assert r.code == 1 and r.err.startswith("nosuch is an invalid domain identifier")
    before = pyxl("xenstore-ls", "-f", "/").out
    for kind, spec, code in (("vtpm", "backend=nosuch", 1), ("vkb", "backend=nosuch", 253),
                             ("vdispl", "backend=nosuch", 253), ("vsnd", "card,backend=7", 253)):
        extra = ("backend-type=qemu",) if kind == "vkb" else (
            ("connectors=a:1x1",) if kind == "vdispl" else ())
        r = pyxl(f"{kind}-attach", "vm1", spec, *extra)
        assert (r.code, r.err) == (code, f"libxl_device_{kind}_add failed.\n")
    assert pyxl("xenstore-ls", "-f", "/").out == before


def test_bad_resolution_is_reported_and_the_parse_goes_on(pyxl, booted):
    r = pyxl("-N", "vdispl-attach", "vm1", "connectors=a:abc;b:3x4")
    assert r.code == 0 and r.err == "Can't parse connector resolution\n"
    assert r.out == ('vdispl: {\n    "connectors": [\n        {\n            "unique_id": "a"\n'
                     '        },\n        {\n\n        }\n    ]\n}\n\n')


def test_dry_run_json(pyxl, booted):
    r = pyxl("-N", "vkb-attach", "vm1", "backend-type=QEMU", "multi-touch-width=10",
             "unique-id=k")
    assert (r.code, r.out) == (0, 'vkb: {\n    "backend_type": "qemu",\n    "unique_id": "k",\n'
                                  '    "feature_multi_touch": true,\n'
                                  '    "multi_touch_width": 10\n}\n\n')
    r = pyxl("-N", "vtpm-attach", "vm1", f"uuid={UUID.upper()}", "backend=0")
    assert r.out == f'vtpm: {{\n    "backend_domname": "0",\n    "uuid": "{UUID}"\n}}\n\n'
    r = pyxl("-N", "vdispl-attach", "vm1", "connectors=a:1x2", "be-alloc=1")
    assert r.out == ('vdispl: {\n    "be_alloc": true,\n    "connectors": [\n        {\n'
                     '            "unique_id": "a",\n            "width": 1,\n'
                     '            "height": 2\n        }\n    ]\n}\n\n')
    r = pyxl("-N", "vsnd-attach", "vm1", "card,short-name=c,sample-formats=S16_LE",
             "stream,type=P")
    assert r.out == ('vsnd: {\n    "short_name": "c",\n    "params": {\n'
                     '        "sample_formats": [\n            "s16_le"\n        ]\n    },\n'
                     '    "pcms": [\n        {\n            "params": {\n\n            },\n'
                     '            "streams": [\n                {\n'
                     '                    "type": "p",\n                    "params": {\n\n'
                     '                    }\n                }\n            ]\n        }\n'
                     '    ]\n}\n\n')
    assert pyxl("xenstore-ls", "/local/domain/1/device/vkbd").code != 0


def test_second_device_gets_the_next_devid(pyxl, booted):
    _attach(pyxl, "vtpm")
    assert pyxl("vtpm-attach", "vm1").code == 0
    pyxl("clock", "advance", "1s")
    assert _xs(pyxl, "/local/domain/1/device/vtpm/1/state") == "4"
    assert pyxl("vtpm-detach", "vm1", "1").code == 0
    assert _xs(pyxl, "/local/domain/1/device/vtpm/0/state") == "4"
