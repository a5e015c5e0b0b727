"""Vif specs as ``xl -N network-attach 0 ITEM...`` reads and prints them.

The cases are the ones Xen checks xl against (tools/xl/check-xl-vif-parse):
rate= in every unit, with and without a replenishment interval, its
overflows and underflows, trusted/untrusted. Each network-attach argument
is one item, commas and all. xl.conf sets no vif.default.* here, so the
JSON holds only what the items set.
"""

from __future__ import annotations

import pytest

from pyxl.errors import PyxlError
from pyxl.toolstack.devices import NicDefaults, parse_nic_spec
from pyxl.toolstack.libxl_json import nic_json


def rate_json(bytes_per_interval: int, interval_usecs: int) -> str:
    return ("vif: {\n"
            f'    "rate_bytes_per_interval": {bytes_per_interval},\n'
            f'    "rate_interval_usecs": {interval_usecs}\n'
            "}\n\n")


TRUSTED = 'vif: {\n    "trusted": "True"\n}\n\n'
UNTRUSTED = 'vif: {\n    "trusted": "False"\n}\n\n'

GOOD = [
    (rate_json(100000, 50000), ["rate=16000000b/s", "rate=16000000b/s@50ms",
                                "rate=2000000B/s", "rate=2000000B/s@50ms"]),
    (rate_json(100, 50000), ["rate=16Kb/s", "rate=16Kb/s@50ms",
                             "rate=2KB/s", "rate=2KB/s@50ms"]),
    (rate_json(100000, 50000), ["rate=16Mb/s", "rate=16Mb/s@50ms",
                                "rate=2MB/s", "rate=2MB/s@50ms"]),
    (rate_json(50000000, 50000), ["rate=8Gb/s", "rate=8Gb/s@50ms",
                                  "rate=1GB/s", "rate=1GB/s@50ms"]),
    (rate_json(10000000, 1000000), ["rate=80Mb/s@1s", "rate=10MB/s@1s"]),
    (TRUSTED, ["trusted"]),
    (UNTRUSTED, ["untrusted"]),
]
GOOD_CASES = [(item, text) for text, items in GOOD for item in items]


def _rate_err(msg: str, where: str) -> str:
    return f"command line: config parsing error in vif: {msg} in `{where}'"


# item -> the one line xl prints on stderr (exit status 1 for all)
BAD_CASES = [
    ("foo", "unrecognized argument `foo'"),
    ("rate=foo", _rate_err("invalid rate", "foo")),
    ("rate=10MB", _rate_err("invalid rate", "10MB")),
    ("rate=10MB/m", _rate_err("invalid rate", "10MB/m")),
    ("rate=10ZB", _rate_err("invalid rate", "10ZB")),
    ("rate=10ZB/s", _rate_err("invalid rate", "10ZB/s")),
    ("rate=10ZB/m", _rate_err("invalid rate", "10ZB/m")),
    ("rate=4294967296b/s", _rate_err("rate overflow", "4294967296b/s")),
    ("rate=4294967296Kb/s", _rate_err("rate overflow", "4294967296Kb/s")),
    ("rate=4294967296Mb/s", _rate_err("rate overflow", "4294967296Mb/s")),
    ("rate=4294967296Gb/s", _rate_err("rate overflow", "4294967296Gb/s")),
    ("rate=0B/s", _rate_err("rate overflow", "0B/s")),
    ("rate=10Mb/s@foo", _rate_err("invalid replenishment interval", "foo")),
    ("rate=10Mb/s@10h", _rate_err("invalid replenishment interval", "10h")),
    ("rate=10MB/s@foo", _rate_err("invalid replenishment interval", "foo")),
    ("rate=10MB/s@10h", _rate_err("invalid replenishment interval", "10h")),
    ("rate=1B/s@4294967296us", _rate_err("replenishment interval overflow", "4294967296us")),
    ("rate=1B/s@4294968ms", _rate_err("replenishment interval overflow", "4294968ms")),
    ("rate=1B/s@4295s", _rate_err("replenishment interval overflow", "4295s")),
    ("rate=1B/s@0us", _rate_err("replenishment interval overflow", "0us")),
    ("rate=4294967295GB/s@5us", _rate_err("rate overflow", "4294967295GB/s@5us")),
    ("rate=4296MB/s@4294s", _rate_err("rate overflow", "4296MB/s@4294s")),
    ("rate=@", _rate_err("no rate specified", "@")),
]


def dry_run_output(items: list[str], defaults: NicDefaults | None = None) -> str:
    """What network-attach -N prints: ``vif: <json>`` and printf's newline."""
    nic, _ = parse_nic_spec(items, defaults=defaults, strict=True)
    return "vif: " + nic_json(nic) + "\n"


@pytest.mark.parametrize("item,expected", GOOD_CASES, ids=[i for i, _ in GOOD_CASES])
def test_vif_item_json(item, expected):
    assert dry_run_output([item]) == expected


@pytest.mark.parametrize("item,message", BAD_CASES, ids=[i for i, _ in BAD_CASES])
def test_vif_item_refused(item, message):
    with pytest.raises(PyxlError) as e:
        parse_nic_spec([item], strict=True)
    assert (e.value.exit_code, e.value.message) == (1, message)


def test_vif_case_count():
    """Every distinct case Xen's vif check lists is here (it lists one twice)."""
    assert (len(GOOD_CASES), len(BAD_CASES)) == (20, 23)


def test_vif_rate_numbers_are_c_literals():
    """strtoull base 0: a leading 0 makes the rate and the interval octal."""
    assert dry_run_output(["rate=010KB/s@010ms"]) == rate_json(64, 8000)
    with pytest.raises(PyxlError) as e:
        parse_nic_spec(["rate=1B/s@08ms"], strict=True)
    assert e.value.message == _rate_err("replenishment interval overflow", "08ms")


def test_network_attach_item_keeps_its_commas():
    """Each argument is one item: a comma does not start another."""
    text = dry_run_output(["bridge=br0,mac=00:16:3e:00:00:01"])
    assert text == 'vif: {\n    "bridge": "br0,mac=00:16:3e:00:00:01"\n}\n\n'


def test_vif_items_accumulate():
    text = dry_run_output(["bridge=br0", "rate=2KB/s", "trusted"])
    assert text == ('vif: {\n    "bridge": "br0",\n    "rate_bytes_per_interval": 100,\n'
                    '    "rate_interval_usecs": 50000,\n    "trusted": "True"\n}\n\n')


def test_vif_mac_octet_is_32_bit():
    """xl keeps strtoul's value in an unsigned int: 0x100000000 is octet 0."""
    text = dry_run_output(["mac=100000000:1:2:3:4:5"])
    assert text == 'vif: {\n    "mac": "00:01:02:03:04:05"\n}\n\n'


def test_vif_bad_mac_in_config_keeps_parsed_octets():
    """In a vif= entry a bad octet is reported and parsing goes on; the
    octets before it are already stored."""
    nic, messages = parse_nic_spec("mac=00:16:3e:zz, bridge=br0")
    assert (nic.mac, nic.bridge) == ("00:16:3e:00:00:00", "br0")
    assert messages == ["Invalid parameter `mac'."]


def test_vif_notes_come_before_the_fatal_item():
    """network-attach prints each item's note as it goes, then stops."""
    with pytest.raises(PyxlError) as e:
        parse_nic_spec(["netdev=eth0", "rate=@"], strict=True)
    assert e.value.message == (
        "the netdev parameter is deprecated, please use gatewaydev instead\n"
        + _rate_err("no rate specified", "@"))


def test_vif_defaults_from_xl_conf():
    """vif.default.* seed the nic before the items; an item overrides them."""
    defaults = NicDefaults(script="vif-route", bridge="xenbr0")
    text = dry_run_output(["bridge=br1"], defaults)
    assert text == 'vif: {\n    "bridge": "br1",\n    "script": "vif-route"\n}\n\n'


# --------------------------------------------------------------------------
# through the CLI (network-attach's dry run)

CLI_GOOD = [GOOD_CASES[0], GOOD_CASES[5], GOOD_CASES[16], GOOD_CASES[18]]
CLI_BAD = [BAD_CASES[0], BAD_CASES[7], BAD_CASES[22]]


def _network_attach_missing(pyxl) -> bool:
    r = pyxl("-N", "network-attach", "0", "trusted")
    return "not implemented" in r.err


@pytest.mark.parametrize("item,expected", CLI_GOOD, ids=[i for i, _ in CLI_GOOD])
def test_network_attach_dry_run(pyxl, item, expected):
    if _network_attach_missing(pyxl):
        pytest.skip("pyxl has no network-attach command yet")
    r = pyxl("-N", "network-attach", "0", item)
    assert (r.code, r.out) == (0, expected)


@pytest.mark.parametrize("item,message", CLI_BAD, ids=[i for i, _ in CLI_BAD])
def test_network_attach_dry_run_refused(pyxl, item, message):
    if _network_attach_missing(pyxl):
        pytest.skip("pyxl has no network-attach command yet")
    r = pyxl("-N", "network-attach", "0", item)
    assert (r.code, r.out, r.err) == (1, "", message + "\n")
