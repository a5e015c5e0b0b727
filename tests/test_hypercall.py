"""`pyxl hypercall`: one hypercall made as a guest's kernel, with Xen's checks
in order and its return value; refusals as Xen refuses, effects that stay,
malformed calls that change nothing."""

from __future__ import annotations

import hashlib
import json

import pytest

WEB = 'name = "web"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 512\nvcpus = 2\n'
L4, L3, L2, L1 = 0x3A84F3, 0x3A84F4, 0x3A84F5, 0x3A84F9  # the builder's tables
FIRST, DOM0_TOP = 0x3A80F0, 0x4080EF


@pytest.fixture
def web(pyxl, write_cfg):
    assert pyxl("create", write_cfg(WEB, "web.cfg")).code == 0

    def call(*words):
        return pyxl("hypercall", "web", *words)
    return call


def result(r) -> str:
    return [line for line in r.out.splitlines() if line.startswith("= ")][-1][2:]


def types(pyxl) -> dict[int, dict]:
    page = json.loads(pyxl("start-info", "--json", "web").out)
    return {t["mfn"]: t for t in page["pyxl"]["page_types"]}


def host_bytes(state_dir) -> str:
    h = hashlib.sha256()
    for p in sorted(state_dir.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


# --- mmu_update and update_va_mapping ---------------------------------------

def test_mapping_a_page_table_writable_is_refused_read_only_allowed(web, pyxl):
    ptr = f"ptr={(L1 << 12) + 511 * 8:#x}"
    r = web("mmu_update", ptr, f"val={0x3A84F6 << 12 | 0x67:#x}")
    assert result(r) == "-EBUSY" and r.code == 1
    assert "FAIL get_page_type(writable_page)" in r.out
    r = web("mmu_update", ptr, f"val={0x3A84F6 << 12 | 0x65:#x}")
    assert result(r) == "0" and r.code == 0
    # the checks in Xen's order: the PTE's frame, its type, the flags, the target
    lines = [line.split(None, 1)[1] for line in r.out.splitlines()[1:-1]]
    assert lines[1].startswith("MMU_NORMAL_PT_UPDATE of word 511")
    assert "get_page_from_gfn" in lines[2] and "mod_l1_entry" in lines[3]
    assert "DISALLOW" in lines[4]


def test_mapping_frames_the_guest_does_not_own(web):
    ptr = f"ptr={(L1 << 12) + 8:#x}"
    assert result(web("mmu_update", ptr, f"val={DOM0_TOP << 12 | 0x67:#x}")) == "-EBUSY"
    assert result(web("mmu_update", ptr, "val=0x50067")) == "-EPERM"  # dom_io, unprivileged
    assert result(web("mmu_update", f"ptr={DOM0_TOP << 12:#x}", "val=0")) == "-EINVAL"
    assert result(web("mmu_update", f"ptr={(L4 << 12) + 256 * 8:#x}", "val=0")) == "-EINVAL"
    assert result(web("mmu_update", ptr, f"val={FIRST << 12 | 0x7f:#x}")) == "-EINVAL"


def test_a_pte_written_stays_and_moves_the_counts(web, pyxl):
    assert types(pyxl)[0x3A84F6]["count_info"] == 2
    ptr = f"ptr={(L1 << 12) + 511 * 8:#x}"
    assert result(web("mmu_update", ptr, f"val={0x3A84F6 << 12 | 0x65:#x}")) == "0"
    assert types(pyxl)[0x3A84F6]["count_info"] == 3  # one more reference: the mapping
    r = web("update_va_mapping", "va=0xffffffff807ff000", "val=0")
    assert result(r) == "0"
    assert f"old entry {0x3A84F6 << 12 | 0x65:#x} released" in r.out  # read back
    assert types(pyxl)[0x3A84F6]["count_info"] == 2


def test_update_va_mapping_walks_from_the_base_pointer(web):
    r = web("update_va_mapping", "va=0xffffffff807ff000", f"val={FIRST << 12 | 0x67:#x}",
            "flags=invlpg|all")
    assert result(r) == "0"
    assert f"L4 {L4:#x}[511] = {L3 << 12 | 0x67:#x}" in r.out
    assert "invlpg 0xffffffff807ff000 on every vCPU" in r.out
    assert result(web("update_va_mapping", "va=0x1000", "val=0")) == "-EINVAL"
    assert result(web("update_va_mapping", "va=0x800000000000", "val=0")) == "-EINVAL"
    assert result(web("update_va_mapping", "va=0xffffffff80000000", "val=0",
                      "flags=3")) == "-EINVAL"


def test_machphys_update_of_own_and_foreign_frames(web):
    assert result(web("mmu_update", f"ptr={FIRST << 12 | 1:#x}", "val=0x5")) == "0"
    assert result(web("mmu_update", f"ptr={DOM0_TOP << 12 | 1:#x}", "val=0x5")) == "-EINVAL"


# --- mmuext_op ----------------------------------------------------------------

def test_pin_and_unpin_persist(web, pyxl):
    assert not types(pyxl)[L2]["pinned"]
    assert result(web("mmuext_op", "pin_l2_table", f"mfn={L2:#x}")) == "0"
    t = types(pyxl)[L2]
    assert t["pinned"] and t["type_count"] == 2 and t["count_info"] == 3
    r = web("mmuext_op", "pin_l2", f"mfn={L2:#x}")
    assert result(r) == "-EINVAL" and "FAIL frame" in r.out and "not already pinned" in r.out
    assert types(pyxl)[L2]["type_count"] == 2  # the refused pin left nothing behind
    assert result(web("mmuext_op", "unpin_table", f"mfn={L2:#x}")) == "0"
    t = types(pyxl)[L2]
    assert not t["pinned"] and t["type_count"] == 1
    assert result(web("mmuext_op", "unpin_table", f"mfn={L2:#x}")) == "-EINVAL"


def test_pin_refusals(web, pyxl):
    assert result(web("mmuext_op", "pin_l4_table", f"mfn={L4:#x}")) == "-EINVAL"
    assert result(web("mmuext_op", "pin_l1_table", f"mfn={FIRST:#x}")) == "-EINVAL"
    assert result(web("mmuext_op", "pin_l1_table", f"mfn={DOM0_TOP:#x}")) == "-EINVAL"
    assert result(web("mmuext_op", "pin_l3_table", f"mfn={L2:#x}")) == "-EINVAL"


def test_a_page_unmapped_can_become_a_page_table(web, pyxl):
    assert result(web("mmuext_op", "pin_l1_table", "mfn=0x3a88ef")) == "-EINVAL"
    assert result(web("update_va_mapping", "va=0xffffffff807ff000", "val=0")) == "0"
    assert result(web("mmuext_op", "pin_l1_table", "mfn=0x3a88ef")) == "0"
    assert types(pyxl)[0x3A88EF]["type"] == "l1_page_table"
    # and now it cannot be mapped writable
    r = web("update_va_mapping", "va=0xffffffff807ff000", "val=0x3a88ef067")
    assert result(r) == "-EBUSY"


def test_new_baseptr_and_flushes(web):
    assert result(web("mmuext_op", "new_baseptr", f"mfn={FIRST:#x}")) == "-EINVAL"
    assert result(web("mmuext_op", "new_baseptr", f"mfn={L4:#x}")) == "0"
    assert result(web("mmuext_op", "tlb_flush_local")) == "0"
    assert result(web("mmuext_op", "invlpg_all", "linear_addr=0x1000")) == "0"


def test_hvm_guests_have_no_pv_mmu(pyxl, write_cfg):
    cfg = write_cfg('name = "h"\ntype = "hvm"\nmemory = 256\n', "h.cfg")
    assert pyxl("create", cfg).code == 0
    r = pyxl("hypercall", "h", "mmu_update", "ptr=0x1000", "val=0")
    assert result(r) == "-ENOSYS"
    assert result(pyxl("hypercall", "h", "mmuext_op", "pin_l1_table", "mfn=1")) == "-EINVAL"


# --- memory_op ----------------------------------------------------------------

def test_reservations(web, pyxl):
    assert result(web("memory_op", "current_reservation")) == "131072"
    assert result(web("memory_op", "maximum_ram_page")) == str(DOM0_TOP)
    r = web("memory_op", "increase_reservation", "nr_extents=100000")
    done = int(result(r))
    assert 0 < done < 100000 and "over-allocation, stop" in r.out  # max_pages
    assert result(web("memory_op", "current_reservation")) == str(131072 + done)
    assert result(web("memory_op", "increase_reservation", "nr_extents=1")) == "0"
    assert result(web("memory_op", "increase_reservation", "nr_extents=1",
                      "extent_order=9")) == "-EPERM"
    assert result(web("memory_op", "decrease_reservation", f"gmfn={DOM0_TOP:#x}")) == "0"
    assert result(web("memory_op", "decrease_reservation", "gmfn=0x3c80ef")) == "1"
    assert result(web("memory_op", "current_reservation")) == str(131071 + done)
    assert result(web("memory_op", "current_reservation", "domid=0")) == "-EPERM"
    assert result(web("memory_op", "current_reservation", "domid=9")) == "-ESRCH"


# --- grant tables, event channels, sched_op, vcpu_op ---------------------------

def test_grant_table_ops(web, pyxl):
    r = web("grant_table_op", "query_size")
    assert result(r) == "0, GNTST_okay" and "nr_frames: 1" in r.out
    assert result(web("grant_table_op", "setup_table", "nr_frames=65")) == \
        "0, GNTST_general_error"
    assert result(web("grant_table_op", "setup_table", "nr_frames=2")) == "0, GNTST_okay"
    assert "nr_frames: 2" in web("grant_table_op", "query_size").out
    assert result(web("grant_table_op", "map_grant_ref", "dom=0", "ref=9999")) == \
        "0, GNTST_bad_gntref"
    assert result(web("grant_table_op", "unmap_grant_ref", "handle=7")) == \
        "0, GNTST_bad_handle"
    r = web("grant_table_op", "copy", "source_ref=8", "source_dom=0",
            f"dest_gmfn={FIRST:#x}", "len=16")
    assert result(r) == "0, GNTST_general_error"  # ref 8 of Domain-0 is not granted to web


def test_event_channel_ops(web, pyxl):
    r = web("event_channel_op", "alloc_unbound", "remote_dom=0")
    assert result(r) == "0"
    port = int(r.out.split("port: ")[1].split()[0])
    status = web("event_channel_op", "status", f"port={port}")
    assert "'status': 'unbound'" in status.out
    assert result(web("event_channel_op", "send", f"port={port}")) == "0"
    assert result(web("event_channel_op", "close", f"port={port}")) == "0"
    assert "'status': 'closed'" in web("event_channel_op", "status", f"port={port}").out
    assert result(web("event_channel_op", "close", f"port={port}")) == "-EINVAL"
    assert result(web("event_channel_op", "alloc_unbound", "dom=0", "remote_dom=1")) == \
        "-EPERM"
    assert result(web("event_channel_op", "status", "dom=0", "port=1")) == "-EPERM"
    assert result(web("event_channel_op", "bind_interdomain", "remote_dom=0",
                      "remote_port=1")) == "-EINVAL"


def test_sched_and_vcpu_ops(web, pyxl):
    assert result(web("sched_op", "yield")) == "0"
    assert result(web("sched_op", "poll", "ports=1,2")) == "0"
    assert result(web("sched_op", "poll", "ports=5000")) == "-EINVAL"
    assert result(web("vcpu_op", "is_up", "vcpu=1")) in ("0", "1")
    assert result(web("vcpu_op", "up", "vcpu=7")) == "-ENOENT"
    assert result(web("vcpu_op", "get_runstate_info", "vcpu=0")) == "0"
    assert result(web("sched_op", "shutdown", "reason=poweroff")) == "0"
    line = [x for x in pyxl("list").out.splitlines() if x.startswith("web ")]
    assert not line or "s" in line[0].split()[4]  # shut down (xl's monitor may destroy it)


# --- bad input ----------------------------------------------------------------

@pytest.mark.parametrize("words,message", [
    (["frob"], "hypercall: unknown hypercall 'frob'"),
    (["mmuext_op"], "hypercall: mmuext_op needs an operation"),
    (["mmuext_op", "pin_l5_table", "mfn=1"], "hypercall: unknown mmuext_op operation"),
    (["mmu_update", "ptr=0x1000"], "hypercall: mmu_update needs val="),
    (["mmu_update", "ptr=0xzz", "val=0"], "hypercall: bad ptr= '0xzz'"),
    (["mmu_update", "ptr=-1", "val=0"], "hypercall: bad ptr= '-1'"),
    (["mmu_update", "ptr=1", "val=0", "foo=1"], "hypercall: unexpected argument 'foo=1'"),
    (["mmu_update", "ptr=1", "ptr=2", "val=0"], "hypercall: ptr= given twice"),
    (["sched_op", "shutdown", "reason=nap"], "hypercall: bad reason= 'nap'"),
    (["grant_table_op", "copy", "source_ref=1", "source_gmfn=2", "dest_ref=1", "len=1"],
     "hypercall: copy needs one of source_ref= and source_gmfn="),
    (["mmu_update", f"ptr={1 << 64}", "val=0"], "hypercall: bad ptr="),
])
def test_malformed_calls_are_one_line_and_change_nothing(web, state_dir, words, message):
    before = host_bytes(state_dir)
    r = web(*words)
    assert r.code == 1 and r.out == ""
    assert r.err.count("\n") == 1 and r.err.startswith(message), r.err
    assert host_bytes(state_dir) == before


def test_no_such_domain(pyxl):
    r = pyxl("hypercall", "nope", "sched_op", "yield")
    assert r.code == 1 and r.err == "nope is an invalid domain identifier (rc=-6)\n"
    r = pyxl("hypercall", "7", "sched_op", "yield")
    assert r.code == 1 and r.err == "7 is an invalid domain identifier (rc=-6)\n"


def test_read_only_calls_do_not_write_the_host(web, state_dir):
    before = host_bytes(state_dir)
    for words in (["memory_op", "maximum_ram_page"], ["memory_op", "current_reservation"],
                  ["grant_table_op", "query_size"], ["event_channel_op", "status", "port=1"],
                  ["vcpu_op", "is_up", "vcpu=0"]):
        assert web(*words).code == 0
    assert host_bytes(state_dir) == before


def test_a_refused_call_changes_nothing(web, pyxl):
    before = types(pyxl)
    assert result(web("mmuext_op", "pin_l4_table", f"mfn={L4:#x}")) == "-EINVAL"
    assert types(pyxl) == before


def test_trace_shows_the_hypercall(pyxl, write_cfg):
    assert pyxl("create", write_cfg(WEB, "web.cfg")).code == 0
    r = pyxl("--trace", "hypercall", "web", "mmuext_op", "pin_l2_table", f"mfn={L2:#x}")
    assert "xen: MMUEXT_PIN_L2_TABLE(domid=1, mfn=0x3a84f5" in r.err


def test_help_lists_the_operations(pyxl):
    r = pyxl("help", "hypercall")
    assert "mmuext_op pin_l1_table" in r.out and "vcpu_op is_up" in r.out
