"""xl's xenstore-quota-get and xenstore-quota-set (xl_xsquota.c), over the
simulated xenstored's quotas."""

from __future__ import annotations

import pytest

HEADER = "Quota name           Quota value\n" + "-" * 32 + "\n"


def _quotas(pyxl, who):
    r = pyxl("xenstore-quota-get", who)
    assert r.code == 0, r.err
    assert r.out.startswith(HEADER)
    return {line[:20].rstrip(): int(line[21:]) for line in r.out[len(HEADER):].splitlines()}


def test_get_lists_every_quota_in_xenstoreds_order(pyxl):
    r = pyxl("xenstore-quota-get", "-g")
    assert r.out.splitlines()[2:5] == ["nodes                    1000",
                                        "watches                   128",
                                        "outstanding                20"]
    assert list(_quotas(pyxl, "-g"))[:5] == ["nodes", "watches", "outstanding", "memory",
                                             "soft-memory"]


def test_set_globally_and_for_one_domain(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg("g1")).code == 0
    r = pyxl("xenstore-quota-set", "-g", "nodes=2000", "watches=0x100")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert _quotas(pyxl, "-g")["nodes"] == 2000 and _quotas(pyxl, "-g")["watches"] == 256
    assert pyxl("xenstore-quota-set", "g1", "nodes=7").code == 0
    assert _quotas(pyxl, "g1")["nodes"] == 7
    assert _quotas(pyxl, "1")["nodes"] == 7 and _quotas(pyxl, "-g")["nodes"] == 2000


@pytest.mark.parametrize("args, err", [
    ((), 'Domain or "-g" must be specified.\n'),
    (("-g", "0"), 'Domain or "-g" must be specified.\n'),
    (("-h",), "-h is an invalid domain identifier (rc=-6)\n"),   # no getopt: -h is a name
    (("nosuch",), "nosuch is an invalid domain identifier (rc=-6)\n"),
    (("42",), "Quota could not be obtained.\n"),
])
def test_get_errors(pyxl, args, err):
    r = pyxl("xenstore-quota-get", *args)
    assert (r.code, r.out, r.err) == (1, "", err)


@pytest.mark.parametrize("args, err", [
    (("-g", "nodes"), 'Quota specification "nodes" lacks "=".\n'),
    (("-g", "nodes="), 'Quota specification "nodes=" uses illegal value "".\n'),
    (("-g", "nodes=-1"), 'Quota specification "nodes=-1" uses illegal value "-1".\n'),
    (("-g", "nodes=4294967296"),
     'Quota specification "nodes=4294967296" uses illegal value "4294967296".\n'),
    (("-g", "nodes=12x"), 'Quota specification "nodes=12x" uses illegal value "12x".\n'),
    (("-g", "watches=5", "bogus=1"), "Quota could not be set.\n"),
    (("-g", "watches=5", "nodes=4294967295"), "Quota could not be set.\n"),  # Q_VAL_DISABLED
    (("42", "nodes=5"), "Quota could not be set.\n"),
])
def test_set_errors_change_nothing(pyxl, args, err):
    before = _quotas(pyxl, "-g")
    r = pyxl("xenstore-quota-set", *args)
    assert (r.code, r.out, r.err) == (1, "", err)
    assert _quotas(pyxl, "-g") == before


def test_set_without_enough_parameters_prints_its_help(pyxl):
    r = pyxl("xenstore-quota-set", "-g")
    assert r.code == 1 and r.err == "Not enough parameters.\n"
    assert r.out.startswith("Usage: xl [-vtTf] xenstore-quota-set <Domain>|-g <quota>=<val>...")
