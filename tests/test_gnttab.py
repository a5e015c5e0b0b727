"""Grant tables, v1: the guest's entries, GNTTABOP_* with their GNTST_* results,
max_grant_frames, the rings every domain grants at build, and the commands
that show them (grant-list, debug-keys g)."""

from __future__ import annotations

import json

import pytest

from pyxl.hv import gnttab as gt
from pyxl.hv.errors import HypercallError
from test_evtchn import make_hv

SELF = gt.DOMID_SELF
RO = gt.GNTMAP_host_map | gt.GNTMAP_readonly
RW = gt.GNTMAP_host_map


def granted(hv, domid=1, to=0, frame=0x1234, readonly=False) -> int:
    return gt.grant_access(hv.domains[domid], to, frame, readonly=readonly)


def flags(hv, domid, ref) -> int:
    return hv.domains[domid].gnttab["refs"][str(ref)][0]


def test_grant_access_takes_refs_past_the_reserved_ones():
    hv = make_hv()
    assert granted(hv) == 8 and granted(hv) == 9
    assert flags(hv, 1, 8) == gt.GTF_permit_access
    assert gt.grant_access(hv.domains[1], 0, 5, readonly=True) == 10
    assert flags(hv, 1, 10) == gt.GTF_permit_access | gt.GTF_readonly


def test_map_sets_reading_and_writing_and_unmap_clears_them():
    hv = make_hv()
    ref = granted(hv)
    status, h1 = hv.gnttab_op_map_grant_ref(0, 1, ref, RW)
    assert (status, h1) == (gt.GNTST_okay, 0)
    assert flags(hv, 1, ref) == gt.GTF_permit_access | gt.GTF_reading | gt.GTF_writing
    status, h2 = hv.gnttab_op_map_grant_ref(0, 1, ref, RO)
    assert (status, h2) == (gt.GNTST_okay, 1)
    assert hv.domains[1].gnttab["act"][str(ref)] == [0, 0x101]
    assert hv.gnttab_op_unmap_grant_ref(0, h1) == gt.GNTST_okay
    assert flags(hv, 1, ref) == gt.GTF_permit_access | gt.GTF_reading
    assert hv.gnttab_op_unmap_grant_ref(0, h2) == gt.GNTST_okay
    assert flags(hv, 1, ref) == gt.GTF_permit_access
    assert "act" not in hv.domains[1].gnttab and hv.domains[0].gnttab == {}
    assert hv.gnttab_op_unmap_grant_ref(0, h2) == gt.GNTST_bad_handle


def test_map_results():
    hv = make_hv()
    ref = granted(hv, to=2)
    ro = granted(hv, to=0, readonly=True)
    assert hv.gnttab_op_map_grant_ref(0, 1, ref, RW) == (gt.GNTST_general_error, None)
    assert hv.gnttab_op_map_grant_ref(0, 1, ro, RW) == (gt.GNTST_general_error, None)
    assert hv.gnttab_op_map_grant_ref(0, 1, 600, RW) == (gt.GNTST_bad_gntref, None)
    assert hv.gnttab_op_map_grant_ref(0, 1, ref, 0) == (gt.GNTST_bad_gntref, None)
    assert hv.gnttab_op_map_grant_ref(0, 9, ref, RW) == (gt.GNTST_bad_domain, None)
    assert hv.domains[1].gnttab.get("act") is None  # nothing changed
    assert hv.domains[0].gnttab == {}
    assert hv.gnttab_op_map_grant_ref(0, 1, ro, RO)[0] == gt.GNTST_okay
    assert hv.gnttab_op_map_grant_ref(2, 1, ref, RW)[0] == gt.GNTST_okay
    assert flags(hv, 1, ro) & gt.GTF_writing == 0


def test_a_pinned_grant_cannot_be_mapped_by_another_nor_too_often():
    hv = make_hv()
    ref = granted(hv, to=0)
    assert hv.gnttab_op_map_grant_ref(0, 1, ref, RW)[0] == gt.GNTST_okay
    # re-grant the entry to domain 2 while Domain-0 holds it: still Domain-0's
    hv.domains[1].gnttab["refs"][str(ref)][1] = 2
    assert hv.gnttab_op_map_grant_ref(2, 1, ref, RW) == (gt.GNTST_general_error, None)
    hv.domains[1].gnttab["refs"][str(ref)][1] = 0
    for _ in range(127):
        assert hv.gnttab_op_map_grant_ref(0, 1, ref, RW)[0] == gt.GNTST_okay
    assert hv.gnttab_op_map_grant_ref(0, 1, ref, RW) == (gt.GNTST_general_error, None)
    assert hv.gnttab_op_map_grant_ref(0, 1, ref, RO)[0] == gt.GNTST_okay  # other counter


def test_end_access_refuses_while_mapped():
    hv = make_hv()
    ref = granted(hv)
    _, handle = hv.gnttab_op_map_grant_ref(0, 1, ref, RW)
    assert not gt.end_access(hv.domains[1], ref)
    hv.gnttab_op_unmap_grant_ref(0, handle)
    assert gt.end_access(hv.domains[1], ref)
    assert hv.domains[1].gnttab == {}


def test_copy_results():
    hv = make_hv()
    ref = granted(hv, to=0)
    ro = granted(hv, to=0, readonly=True)
    other = granted(hv, to=2)
    src, dst = gt.GNTCOPY_source_gref, gt.GNTCOPY_dest_gref
    assert hv.gnttab_op_copy(0, (ref, 1, 0), (7, SELF, 0), 64, src) == gt.GNTST_okay
    assert hv.gnttab_op_copy(0, (7, SELF, 0), (ref, 1, 0), 64, dst) == gt.GNTST_okay
    assert hv.gnttab_op_copy(0, (7, SELF, 0), (ro, 1, 0), 64, dst) == gt.GNTST_general_error
    assert hv.gnttab_op_copy(0, (ro, 1, 0), (7, SELF, 0), 64, src) == gt.GNTST_okay
    assert hv.gnttab_op_copy(0, (other, 1, 0), (7, SELF, 0), 8, src) == gt.GNTST_general_error
    assert hv.gnttab_op_copy(0, (7, 1, 0), (7, SELF, 0), 8, 0) == gt.GNTST_permission_denied
    assert hv.gnttab_op_copy(0, (ref, 9, 0), (7, SELF, 0), 8, src) == gt.GNTST_bad_domain
    assert hv.gnttab_op_copy(0, (ref, 1, 4000), (7, SELF, 0), 200, src) == \
        gt.GNTST_bad_copy_arg
    assert hv.gnttab_op_copy(0, (999, 1, 0), (7, SELF, 0), 8, src) == gt.GNTST_bad_gntref
    assert flags(hv, 1, ref) == gt.GTF_permit_access  # a copy pins nothing after


def test_setup_table_and_query_size():
    hv = make_hv()
    assert hv.gnttab_op_query_size(1, SELF) == (1, 64, gt.GNTST_okay)
    assert hv.gnttab_op_setup_table(1, SELF, 4) == gt.GNTST_okay
    assert hv.gnttab_op_setup_table(1, SELF, 2) == gt.GNTST_okay  # never shrinks
    assert hv.gnttab_op_query_size(0, 1) == (4, 64, gt.GNTST_okay)
    assert hv.gnttab_op_setup_table(1, SELF, 65) == gt.GNTST_general_error
    assert hv.gnttab_op_setup_table(1, 2, 2) == gt.GNTST_permission_denied
    assert hv.gnttab_op_query_size(1, 2)[2] == gt.GNTST_permission_denied
    assert hv.gnttab_op_setup_table(0, 9, 2) == gt.GNTST_bad_domain
    assert hv.gnttab_op_query_size(0, 9)[2] == gt.GNTST_bad_domain


def test_max_grant_frames_bounds_the_table():
    hv = make_hv()
    gt.set_max_frames(hv.domains[1], 2)
    assert hv.gnttab_op_query_size(1, SELF) == (1, 2, gt.GNTST_okay)
    for _ in range(2 * gt.ENTRIES_PER_FRAME - gt.GNTTAB_NR_RESERVED_ENTRIES):
        granted(hv)
    assert hv.gnttab_op_query_size(1, SELF)[0] == 2
    with pytest.raises(HypercallError) as e:
        granted(hv)
    assert e.value.errno == "ENOSPC"
    assert hv.gnttab_op_setup_table(1, SELF, 3) == gt.GNTST_general_error


def test_destroy_releases_grants_both_ways():
    hv = make_hv()
    mine = granted(hv, domid=1, to=0)
    theirs = granted(hv, domid=2, to=1)
    hv.gnttab_op_map_grant_ref(0, 1, mine, RW)
    hv.gnttab_op_map_grant_ref(1, 2, theirs, RW)
    hv.domctl_destroydomain(1)
    assert hv.domains[0].gnttab == {}
    assert flags(hv, 2, theirs) == gt.GTF_permit_access and "act" not in hv.domains[2].gnttab


def test_trace_names_the_hypercalls():
    hv = make_hv()
    seen = []
    hv.tracer = lambda op, args: seen.append((op, args.get("status")))
    _, handle = hv.gnttab_op_map_grant_ref(0, 1, granted(hv), RW)
    hv.gnttab_op_unmap_grant_ref(0, handle)
    assert seen == [("GNTTABOP_map_grant_ref", 0), ("GNTTABOP_unmap_grant_ref", 0)]


# --- through the CLI ---

def test_rings_are_granted_at_build_and_mapped_by_domain0(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg()).code == 0
    info = json.loads(pyxl("grant-list", "--json", "vm1").out)
    console = int(pyxl("xenstore-read", "/local/domain/1/console/ring-ref").out)
    store = int(pyxl("xenstore-read", "/local/domain/1/store/ring-ref").out)
    assert [(g["ref"], g["domid"], g["frame"], g["mapped_by"]) for g in info["grants"]] == \
        [(0, 0, console, 0), (1, 0, store, 0)]
    assert info["grants"][0]["flag_names"] == ["GTF_permit_access", "GTF_reading",
                                               "GTF_writing"]
    dom0 = json.loads(pyxl("grant-list", "--json", "0").out)
    assert sorted((m["domid"], m["ref"]) for m in dom0["maps"]) == [(1, 0), (1, 1)]
    assert pyxl("--trace", "create", "-q", guest_cfg(name="vm2")).err.count(
        "GNTTABOP_map_grant_ref(domid=0, dom=2") == 2


def test_max_grant_frames_from_the_config(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg(extra="max_grant_frames = 4\n")).code == 0
    out = pyxl("grant-list", "vm1").out
    assert out.splitlines()[0] == "Grant table of vm1 (1), v1: 1 frame of 4 max"
    assert "0x000   0x19       0 " in out


def test_max_grant_frames_below_one_fails_the_create(pyxl, guest_cfg):
    r = pyxl("create", "-q", guest_cfg(extra="max_grant_frames = 0\n"))
    assert r.code == 3
    assert r.err.splitlines()[0] == ("libxl: error: libxl_create.c:700:libxl__domain_make: "
                                     "domain creation fail: Invalid argument")
    assert json.loads(pyxl("evtchn-list", "--json", "0").out)["ports"] == []


def test_destroy_leaves_no_grant_behind(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg()).code == 0
    assert pyxl("destroy", "vm1").code == 0
    assert json.loads(pyxl("grant-list", "--json", "0").out)["maps"] == []
    r = pyxl("grant-list", "vm1")
    assert r.code == 1 and r.err == "vm1 is an invalid domain identifier (rc=-6)\n"


def test_debug_keys_g_dumps_into_dmesg(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg()).code == 0
    assert pyxl("debug-keys", "g").code == 0
    dmesg = pyxl("dmesg").out
    tail = dmesg[dmesg.index("(XEN) gnttab_usage_print_all ["):].splitlines()
    ring = int(pyxl("xenstore-read", "/local/domain/1/console/ring-ref").out)
    assert tail[0] == "(XEN) gnttab_usage_print_all [ key 'g' pressed"
    assert tail[3:6] == ["(XEN) grant-table for remote d0 (v1)",
                         "(XEN)   1 frames (64 max), 1 maptrack frames (1024 max)",
                         "(XEN) no active grant table entries"]
    assert f"(XEN) [0x000]      0 0x{ring:05x} 0x00000001          0 0x{ring:06x} 0x19" \
        in tail
    assert tail[-1] == "(XEN) gnttab_usage_print_all ] done"
