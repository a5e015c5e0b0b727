"""vbds through the CLI: block-attach/-list/-detach and cd-insert/cd-eject,
with xl's rows, messages and exit codes."""

from __future__ import annotations

import json

import pytest

DISK = 'disk = ["/srv/vm1.img,raw,xvda,rw"]\n'


def _xs(pyxl, path):
    r = pyxl("xenstore-read", path)
    return r.out.strip() if r.code == 0 else None


@pytest.fixture
def booted(pyxl, guest_cfg):
    assert pyxl("create", guest_cfg(extra=DISK)).code == 0
    pyxl("clock", "advance", "2s")


def test_block_list_rows(pyxl, booted):
    evt = int(_xs(pyxl, "/local/domain/1/device/vbd/51712/event-channel"))
    ref = int(_xs(pyxl, "/local/domain/1/device/vbd/51712/ring-ref"))
    r = pyxl("block-list", "vm1")
    assert r.code == 0
    assert r.out == ("Vdev  BE  handle state evt-ch ring-ref BE-path"
                     "                       \n"
                     f"51712 0   1      4     {evt:<6d} {ref:<8d} "
                     f"{'/local/domain/0/backend/vbd/1/51712':<30}\n")


def test_block_attach_and_detach(pyxl, booted):
    assert pyxl("block-attach", "vm1", "/srv/b.img,raw,xvdb,rw").code == 0
    pyxl("clock", "advance", "1s")
    assert _xs(pyxl, "/local/domain/1/device/vbd/51728/state") == "4"
    assert _xs(pyxl, "/local/domain/0/backend/vbd/1/51728/params") == "/srv/b.img"
    ref = int(_xs(pyxl, "/local/domain/1/device/vbd/51728/ring-ref"))
    assert pyxl("block-detach", "vm1", "xvdb").code == 0
    assert _xs(pyxl, "/local/domain/1/device/vbd/51728/state") is None
    assert _xs(pyxl, "/local/domain/0/backend/vbd/1/51728/state") is None
    grants = json.loads(pyxl("grant-list", "--json", "vm1").out)["grants"]
    assert ref not in {g["ref"] for g in grants}
    assert pyxl("block-detach", "-f", "vm1", "51712").code == 0
    assert pyxl("block-list", "vm1").out.count("\n") == 1


def test_block_attach_dry_run(pyxl, booted):
    r = pyxl("-N", "block-attach", "vm1", "/srv/b.img,raw,xvdb,rw")
    assert r.code == 0
    assert r.out.startswith("disk: {\n") and r.out.endswith("}\n\n")
    assert _xs(pyxl, "/local/domain/1/device/vbd/51728/state") is None


@pytest.mark.parametrize("args, message", [
    (("block-detach", "vm1", "xvdc"), "Error: Device xvdc not connected.\n"),
    (("block-attach", "nosuch", "/srv/b.img,raw,xvdb,rw"),
     "nosuch is an invalid domain identifier\n"),
    (("block-attach", "77", "/srv/b.img,raw,xvdb,rw"), "libxl_device_disk_add failed.\n"),
    (("block-attach", "vm1", "/srv/b.img,raw,xvda,rw"), "libxl_device_disk_add failed.\n"),
    (("cd-insert", "vm1", "hdc", "/nonexistent.iso"), "Cannot stat file: /nonexistent.iso\n"),
])
def test_errors(pyxl, booted, args, message):
    before = pyxl("xenstore-ls", "-f", "/").out
    r = pyxl(*args)
    assert (r.code, r.err) == (1, message)
    assert pyxl("xenstore-ls", "-f", "/").out == before


def test_block_list_invalid_domain_continues(pyxl, booted):
    r = pyxl("block-list", "nosuch", "vm1")
    assert r.code == 0
    assert r.err == "nosuch is an invalid domain identifier\n"
    assert r.out.count("\n") == 2


def test_cd_insert_needs_hvm(pyxl, booted, tmp_path):
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"")
    r = pyxl("cd-insert", "vm1", "hdc", str(iso))
    assert r.code == 1
    assert r.err.endswith("Domain 1:cdrom-insert requires an HVM domain\n")


def test_cd_insert_and_eject_hvm(pyxl, write_cfg, tmp_path):
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"")
    cfg = write_cfg('name = "h1"\ntype = "hvm"\nmemory = 512\n'
                    'disk = ["/srv/h1.img,raw,hda,rw", ",raw,hdc,cdrom"]\n', "h1.cfg")
    assert pyxl("create", cfg).code == 0
    assert pyxl("cd-insert", "h1", "hdc", str(iso)).code == 0
    assert _xs(pyxl, "/local/domain/0/backend/qdisk/1/5632/params") == f"raw:{iso}"
    assert pyxl("cd-eject", "h1", "hdc").code == 0
    assert _xs(pyxl, "/local/domain/0/backend/qdisk/1/5632/params") == ""
    r = pyxl("cd-eject", "h1", "hdd")
    assert r.code == 1 and r.err.endswith("Virtual device not found\n")


def test_channel_list_header(pyxl, booted):
    r = pyxl("channel-list", "vm1")
    assert (r.code, r.out) == (0, "Idx BE state evt-ch ring-ref connection" + " " * 31 + "\n")
