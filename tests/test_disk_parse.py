"""Disk specs as ``xl -N block-attach 0 SPEC...`` reads and prints them.

The cases are the ones Xen checks xl against (tools/xl/check-xl-disk-parse):
each group is one libxl_device_disk JSON text and the argument lists that
must all produce it, byte for byte. Several arguments describe one disk.
Xen's CD image lives under /root; here under /srv (a path is only copied
through, and the suite names no home directory).
"""

from __future__ import annotations

import pytest

from pyxl.toolstack.devices import DiskSpecError, parse_disk_spec
from pyxl.toolstack.libxl_json import disk_json

VOLUME_RW = """disk: {
    "pdev_path": "/dev/vg/guest-volume",
    "vdev": "hda",
    "format": "raw",
    "readwrite": 1
}

"""

ISO_CDROM = """disk: {
    "pdev_path": "/srv/image.iso",
    "vdev": "hdc",
    "format": "raw",
    "removable": 1,
    "is_cdrom": 1
}

"""

PHY_BACKEND = """disk: {
    "pdev_path": "/dev/vg/guest-volume",
    "vdev": "xvdb",
    "backend": "phy",
    "format": "raw",
    "readwrite": 1
}

"""

EMPTY_CDROM_BLANK_TARGET = """disk: {
    "pdev_path": "",
    "vdev": "hdc",
    "format": "empty",
    "removable": 1,
    "is_cdrom": 1
}

"""

EMPTY_CDROM_NO_TARGET = """disk: {
    "vdev": "hdc",
    "format": "empty",
    "removable": 1,
    "is_cdrom": 1
}

"""

ISCSI_IQN = "iqn.2001-05.com.equallogic:0-8a0906-23fe93404-c82797962054a96d-examplehost"

ISCSI = """disk: {
    "pdev_path": "%s",
    "vdev": "xvda",
    "format": "raw",
    "script": "block-iscsi",
    "readwrite": 1
}

""" % ISCSI_IQN

DRBD = """disk: {
    "pdev_path": "app01",
    "vdev": "hda",
    "format": "raw",
    "script": "block-drbd",
    "readwrite": 1
}

"""

DISCARD = """disk: {
    "pdev_path": "/some/disk/image.raw",
    "vdev": "hda",
    "format": "raw",
    "readwrite": 1,
    "discard_enable": "True"
}

"""

CDROM_NO_DISCARD = """disk: {
    "pdev_path": "/some/disk/image.iso",
    "vdev": "hda",
    "format": "raw",
    "removable": 1,
    "is_cdrom": 1,
    "discard_enable": "False"
}

"""

TRUSTED = """disk: {
    "pdev_path": "/some/disk/image.raw",
    "vdev": "hda",
    "format": "raw",
    "readwrite": 1,
    "trusted": "True"
}

"""

UNTRUSTED = TRUSTED.replace('"True"', '"False"')

GOOD = [
    (VOLUME_RW, [
        ["/dev/vg/guest-volume,,hda"],
        ["/dev/vg/guest-volume,raw,hda,rw"],
        ["format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume"],
        ["format=raw", "vdev=hda", "access=rw", "target=/dev/vg/guest-volume"],
        ["raw:/dev/vg/guest-volume,hda,w"],
    ]),
    (ISO_CDROM, [
        ["/srv/image.iso,,hdc,cdrom"],
        ["/srv/image.iso,,hdc,,cdrom"],
        ["/srv/image.iso,raw,hdc,devtype=cdrom"],
        ["format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/srv/image.iso"],
        ["format=raw", "vdev=hdc", "access=ro", "devtype=cdrom", "target=/srv/image.iso"],
        ["raw:/srv/image.iso,hdc:cdrom,ro"],
    ]),
    (PHY_BACKEND, [
        ["backendtype=phy,vdev=xvdb,access=w,target=/dev/vg/guest-volume"],
    ]),
    (EMPTY_CDROM_BLANK_TARGET, [
        ["devtype=cdrom,,,hdc"],
        [",,hdc:cdrom,r"],
        [",hdc:cdrom,r"],
        ["vdev=hdc,access=r,devtype=cdrom,target="],
        [",empty,hdc:cdrom,r"],
    ]),
    (EMPTY_CDROM_NO_TARGET, [
        ["vdev=hdc,access=r,devtype=cdrom,format=empty"],
        ["vdev=hdc,access=r,devtype=cdrom"],
    ]),
    (ISCSI, [
        [f"iscsi:{ISCSI_IQN},xvda,w"],
        [f"vdev=xvda,access=w,script=block-iscsi,target={ISCSI_IQN}"],
    ]),
    (DRBD, [
        ["drbd:app01,hda,w"],
    ]),
    (DISCARD, [
        ["discard", "vdev=hda", "target=/some/disk/image.raw"],
    ]),
    (CDROM_NO_DISCARD, [
        ["cdrom", "no-discard", "vdev=hda", "target=/some/disk/image.iso"],
    ]),
    (TRUSTED, [
        ["trusted", "vdev=hda", "target=/some/disk/image.raw"],
    ]),
    (UNTRUSTED, [
        ["untrusted", "vdev=hda", "target=/some/disk/image.raw"],
    ]),
]

GOOD_CASES = [(args, text) for text, arglists in GOOD for args in arglists]


def dry_run_output(args: list[str]) -> str:
    """What block-attach -N prints: ``disk: <json>`` and printf's newline."""
    return "disk: " + disk_json(parse_disk_spec(args)) + "\n"


@pytest.mark.parametrize("args,expected", GOOD_CASES, ids=[" ".join(a) for a, _ in GOOD_CASES])
def test_disk_spec_json(args, expected):
    assert dry_run_output(args) == expected


def test_disk_spec_case_count():
    """Every good case Xen's disk check lists is here (it lists one twice)."""
    assert len(GOOD_CASES) == 26


def test_disk_spec_without_vdev_is_refused():
    with pytest.raises(DiskSpecError) as e:
        parse_disk_spec(["foo"])
    assert e.value.lines == [
        "command line: config parsing error in disk specification: "
        "no vdev specified in `foo'"]
    assert e.value.exit_code == 1


def test_disk_spec_error_names_last_spec():
    """With several arguments, the final checks quote the last one."""
    with pytest.raises(DiskSpecError) as e:
        parse_disk_spec(["target=/x", "access=r"])
    assert e.value.message.endswith("no vdev specified in `access=r'")


# --------------------------------------------------------------------------
# through the CLI (block-attach's dry run)

CLI_CASES = [GOOD_CASES[0], GOOD_CASES[8], GOOD_CASES[16], GOOD_CASES[19], GOOD_CASES[24]]


def _block_attach_missing(pyxl) -> bool:
    r = pyxl("-N", "block-attach", "0", "phy:/dev/x,xvda,w")
    return "not implemented" in r.err


@pytest.mark.parametrize("args,expected", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_block_attach_dry_run(pyxl, args, expected):
    if _block_attach_missing(pyxl):
        pytest.skip("pyxl has no block-attach command yet")
    r = pyxl("-N", "block-attach", "0", *args)
    assert (r.code, r.out) == (0, expected)


def test_block_attach_dry_run_bad_spec(pyxl):
    if _block_attach_missing(pyxl):
        pytest.skip("pyxl has no block-attach command yet")
    r = pyxl("-N", "block-attach", "0", "foo")
    assert (r.code, r.out) == (1, "")
    assert r.err == ("command line: config parsing error in disk specification: "
                     "no vdev specified in `foo'\n")
