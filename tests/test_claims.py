"""xl claims (xl_info.c main_claims): `list` with the Claimed column."""

from __future__ import annotations



def test_claims_lists_every_domain_with_its_outstanding_claim(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg("g1")).code == 0
    r = pyxl("claims")
    assert r.code == 0 and r.err == ""
    lines = r.out.splitlines()
    assert lines[0] == ("Name                                        ID   Mem VCPUs\tState\tTime(s)"
                        "  Claimed")
    listed = pyxl("list").out.splitlines()
    assert [line[:-6] for line in lines[1:]] == listed[1:]   # list's rows, then " %5lu"
    assert all(line.endswith("     0") for line in lines[1:])


def test_cl_is_claims_as_in_xl_and_extra_arguments_are_ignored(pyxl):
    assert pyxl("cl").out == pyxl("claims", "x", "y").out == pyxl("claims").out


def test_without_claim_mode_it_says_so_and_lists_anyway(pyxl, state_dir):
    pyxl("list")
    (state_dir / "localhost" / "xl.conf").write_text("claim_mode=0\n")
    r = pyxl("claims")
    assert r.code == 0
    assert r.err == "claim_mode not enabled (see man xl.conf).\n"
    assert r.out.startswith("Name")


def test_help_has_an_empty_options_section(pyxl):
    assert pyxl("help", "claims").out == (
        "Usage: xl [-vtT] claims \n\nList outstanding claim information about all domains."
        "\n\nOptions:\n\n\n")
