"""A guest's pages and frames: shared_info and start_info as the bytes of the
x86_64 public headers, the time a guest computes from them, the P2M/M2P
kept as runs, and ballooning through the reservation hypercalls.

The --raw pages are decoded here with `struct` and the offsets of xen.h
written out below, not with pyxl's own field table."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import pytest

PAGE = 4096
MIB_PAGES = 256


def raw(*args: str) -> bytes:
    done = subprocess.run([sys.executable, "-m", "pyxl", *args], capture_output=True,
                          env=dict(os.environ), check=True)
    return done.stdout


def u8(b, o):
    return b[o]


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


def decode_shared_info(b: bytes) -> dict:
    """struct shared_info (x86_64) by hand: vcpu_info[32] of 64 bytes,
    evtchn_pending/mask at 0x800/0xA00, the wallclock at 0xC00, arch at 0xC10."""
    vcpus = []
    for i in range(32):
        o = 64 * i
        vcpus.append({
            "evtchn_upcall_pending": u8(b, o), "evtchn_upcall_mask": u8(b, o + 1),
            "evtchn_pending_sel": u64(b, o + 8),
            "arch": {"cr2": u64(b, o + 16), "pad": u64(b, o + 24)},
            "time": {"version": u32(b, o + 32), "pad0": u32(b, o + 36),
                     "tsc_timestamp": u64(b, o + 40), "system_time": u64(b, o + 48),
                     "tsc_to_system_mul": u32(b, o + 56),
                     "tsc_shift": struct.unpack_from("<b", b, o + 60)[0],
                     "flags": u8(b, o + 61)}})
    return {"vcpu_info": vcpus,
            "evtchn_pending": [u64(b, 2048 + 8 * i) for i in range(64)],
            "evtchn_mask": [u64(b, 2560 + 8 * i) for i in range(64)],
            "wc_version": u32(b, 3072), "wc_sec": u32(b, 3076), "wc_nsec": u32(b, 3080),
            "wc_sec_hi": u32(b, 3084),
            "arch": {"max_pfn": u64(b, 3088), "pfn_to_mfn_frame_list_list": u64(b, 3096),
                     "nmi_reason": u64(b, 3104), "p2m_cr3": u64(b, 3112),
                     "p2m_vaddr": u64(b, 3120), "p2m_generation": u64(b, 3128)}}


def decode_start_info(b: bytes) -> dict:
    return {"magic": b[0:32].rstrip(b"\0").decode(), "nr_pages": u64(b, 32),
            "shared_info": u64(b, 40), "flags": u32(b, 48), "store_mfn": u64(b, 56),
            "store_evtchn": u32(b, 64),
            "console": {"domU": {"mfn": u64(b, 72), "evtchn": u32(b, 80)}},
            "pt_base": u64(b, 88), "nr_pt_frames": u64(b, 96), "mfn_list": u64(b, 104),
            "mod_start": u64(b, 112), "mod_len": u64(b, 120),
            "cmd_line": b[128:1152].split(b"\0")[0].decode(),
            "first_p2m_pfn": u64(b, 1152), "nr_p2m_frames": u64(b, 1160)}


def fields(page: dict) -> dict:
    return {k: v for k, v in page.items() if k != "pyxl"}


def as_json(pyxl, *args) -> dict:
    r = pyxl(*args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def heap_free(pyxl) -> int:
    """Free frames of the heap, as the host keeps them."""
    from pyxl.hv import mm
    from pyxl.sim.host import open_host

    with open_host(write=False) as h:
        return mm.free_pages(h.hv)


def send_events(masked_port_of_vm: str = "console") -> None:
    """Domain-0's daemons notify vm1 on its store channel (unmasked, on vCPU
    0) and, after vm1 masked it, on its console channel; a third port bound
    to vCPU 1 (an IPI) is raised too."""
    from pyxl.hv import evtchn
    from pyxl.sim.host import open_host

    with open_host(write=True) as h:
        hv = h.hv
        d = hv.domain(1)
        xs = h.xs()
        store = int(xs.read("/local/domain/1/store/port"))
        console = int(xs.read("/local/domain/1/console/port"))
        evtchn.mask(d, console)
        for port in (store, console):
            hv.evtchn_op_send(0, d.evtchn[str(port)][3])
        ipi = hv.evtchn_op_bind_ipi(1, 1)
        hv.evtchn_op_send(1, ipi)


@pytest.fixture
def vm(pyxl, guest_cfg):
    cfg = guest_cfg(memory=64, vcpus=2, extra='extra = "console=hvc0 quiet"\n'
                    'ramdisk = "/boot/initrd.img"\n')
    assert pyxl("create", "-q", cfg).code == 0
    assert pyxl("clock", "advance", "3s").code == 0
    return cfg


def test_raw_shared_info_is_the_json_by_the_headers_offsets(pyxl, vm):
    send_events()
    assert pyxl("clock", "advance", "1500ms").code == 0
    page = raw("shared-info", "--raw", "vm1")
    assert len(page) == PAGE
    info = as_json(pyxl, "shared-info", "vm1")
    assert decode_shared_info(page) == fields(info)
    assert page[3136:] == bytes(PAGE - 3136)
    # two vCPUs with time, the other 30 slots empty
    assert all(v["time"]["version"] % 2 == 0 and v["time"]["version"] > 0
               for v in info["vcpu_info"][:2])
    assert all(v["time"]["version"] == 0 for v in info["vcpu_info"][2:])
    # pending on all three ports, masked on the console's, selectors as Xen sets them
    store = int(pyxl("xenstore-read", "/local/domain/1/store/port").out)
    console = int(pyxl("xenstore-read", "/local/domain/1/console/port").out)
    ports = json.loads(pyxl("evtchn-list", "--json", "vm1").out)["ports"]
    pending = {p["port"] for p in ports if p["pending"]}
    assert {store, console} < pending and len(pending) == 3
    word = sum(1 << p for p in pending)
    assert info["evtchn_pending"][0] == word and info["evtchn_mask"][0] == 1 << console
    assert info["vcpu_info"][0]["evtchn_upcall_pending"] == 1
    assert info["vcpu_info"][0]["evtchn_pending_sel"] == 1
    assert info["vcpu_info"][1]["evtchn_pending_sel"] == 1
    # the wallclock: the host's calendar at system time 0
    epoch = info["wc_sec_hi"] << 32 | info["wc_sec"]
    assert info["wc_version"] % 2 == 0 and epoch > 1_600_000_000
    assert info["arch"]["max_pfn"] == 64 * MIB_PAGES


def test_the_time_a_guest_computes_is_the_simulated_clock(pyxl, vm):
    for step in ("0s", "2750ms", "41s"):
        assert pyxl("clock", "advance", step).code == 0
        info = as_json(pyxl, "shared-info", "vm1")
        extra = info["pyxl"]
        tsc, now = extra["tsc"], extra["now_ns"]
        for i in range(2):
            t = info["vcpu_info"][i]["time"]
            delta = tsc - t["tsc_timestamp"]
            shift = t["tsc_shift"]
            delta = delta << shift if shift >= 0 else delta >> -shift
            system = t["system_time"] + ((delta * t["tsc_to_system_mul"]) >> 32)
            assert system == now
            wall = ((info["wc_sec_hi"] << 32 | info["wc_sec"]) * 10**9 + info["wc_nsec"]
                    + system)
            assert wall == extra["wallclock_ns"]
            assert t["tsc_timestamp"] <= tsc
        text = pyxl("shared-info", "vm1").out
        assert f"system time {now} ns" in text


def test_time_scale_is_xens_for_the_hosts_tsc(pyxl, vm):
    t = as_json(pyxl, "shared-info", "--vcpu", "1", "vm1")["vcpu_info"]["1"]["time"]
    khz = 2893202  # the default host's cpu_khz, as `xl info` shows cpu_mhz
    f = khz * 1000 >> 1  # brought into (1 GHz, 2 GHz]: one shift right
    assert (t["tsc_shift"], t["tsc_to_system_mul"]) == (-1, (10**9 << 32) // f)


def test_raw_start_info_is_the_json_and_agrees_with_xenstore(pyxl, vm):
    page = raw("start-info", "--raw", "vm1")
    assert len(page) == PAGE
    info = as_json(pyxl, "start-info", "vm1")
    assert decode_start_info(page) == fields(info)
    assert page[1168:] == bytes(PAGE - 1168)

    def xs(path):
        return int(pyxl("xenstore-read", f"/local/domain/1/{path}").out)

    assert info["magic"] == "xen-3.0-x86_64"
    assert info["nr_pages"] == 64 * MIB_PAGES
    assert info["store_mfn"] == xs("store/ring-ref")
    assert info["store_evtchn"] == xs("store/port")
    assert info["console"]["domU"]["mfn"] == xs("console/ring-ref")
    assert info["console"]["domU"]["evtchn"] == xs("console/port")
    assert info["cmd_line"] == "console=hvc0 quiet"
    assert info["flags"] == 0x18  # SIF_VIRT_P2M_4TOOLS | SIF_MOD_START_PFN
    assert info["nr_pt_frames"] == 7  # L4, L3, L2 and four L1s map the first 8 MiB
    assert info["mod_len"] > 0 and info["mfn_list"] == info["pyxl"]["segments"][-1]["vstart"]
    shared = as_json(pyxl, "shared-info", "vm1")["pyxl"]["mfn"]
    assert info["shared_info"] == shared << 12
    grants = json.loads(pyxl("grant-list", "--json", "vm1").out)["grants"]
    assert [g["frame"] for g in grants[:2]] == [xs("console/ring-ref"), xs("store/ring-ref")]


def test_p2m_and_m2p_are_inverse_and_page_tables_typed(pyxl, vm, guest_cfg):
    assert pyxl("create", "-q", guest_cfg(name="vm2", memory=128)).code == 0
    for name, mib in (("vm1", 64), ("vm2", 128)):
        extra = as_json(pyxl, "start-info", name)["pyxl"]
        domid = extra["domid"]
        assert sum(n for _, _, n in extra["p2m"]) == mib * MIB_PAGES
        for (pfn, mfn, count), (first, last) in zip(extra["p2m"], extra["m2p"]):
            assert first == [domid, pfn] and last == [domid, pfn + count - 1]
        types = {t["type"] for t in extra["page_types"]}
        assert types == {"l4_page_table", "l3_page_table", "l2_page_table", "l1_page_table"}
        assert [t["pinned"] for t in extra["page_types"]].count(True) == 1


def test_destroy_returns_every_frame(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg(name="vm1", memory=64)).code == 0
    before = heap_free(pyxl)
    assert pyxl("create", "-q", guest_cfg(name="vm2", memory=256)).code == 0
    assert heap_free(pyxl) == before - 256 * MIB_PAGES
    runs = as_json(pyxl, "start-info", "vm2")["pyxl"]["p2m"]
    assert pyxl("destroy", "vm2").code == 0
    assert heap_free(pyxl) == before
    assert pyxl("create", "-q", guest_cfg(name="vm3", memory=256)).code == 0
    assert as_json(pyxl, "start-info", "vm3")["pyxl"]["p2m"] == runs  # same frames again


def test_balloon_down_then_up_frees_and_regains_frames(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg(name="vm1", memory=512)).code == 0
    assert pyxl("clock", "advance", "3s").code == 0
    full = heap_free(pyxl)
    assert pyxl("mem-set", "vm1", "256m").code == 0
    assert pyxl("clock", "advance", "5s").code == 0
    assert heap_free(pyxl) == full + 256 * MIB_PAGES
    p2m = as_json(pyxl, "start-info", "vm1")["pyxl"]["p2m"]
    assert sum(n for _, _, n in p2m) == 256 * MIB_PAGES
    assert as_json(pyxl, "shared-info", "vm1")["arch"]["max_pfn"] == 256 * MIB_PAGES
    assert pyxl("mem-set", "vm1", "512m").code == 0
    assert pyxl("clock", "advance", "5s").code == 0
    assert heap_free(pyxl) == full
    p2m = as_json(pyxl, "start-info", "vm1")["pyxl"]["p2m"]
    assert sum(n for _, _, n in p2m) == 512 * MIB_PAGES


def test_hex_names_the_fields_beside_xxd_lines(pyxl, vm):
    lines = pyxl("shared-info", "--hex", "vm1").out.splitlines()
    assert len(lines) == PAGE // 16
    assert lines[0].startswith("00000000: ")
    assert lines[0].endswith("vcpu_info[0].evtchn_upcall_pending, vcpu_info[0].evtchn_upcall_mask,"
                             " vcpu_info[0].evtchn_pending_sel")
    assert lines[0xC00 // 16].endswith("wc_version, wc_sec, wc_nsec, wc_sec_hi")
    start = pyxl("start-info", "--hex", "vm1").out.splitlines()
    assert "xen-3.0-x86_64" in start[0] and start[0].endswith("magic")


def test_hvm_guests_have_shared_info_but_no_start_info(pyxl, write_cfg):
    cfg = write_cfg('name = "h1"\ntype = "hvm"\nmemory = 128\nvcpus = 1\n', "h1.cfg")
    assert pyxl("create", "-q", cfg).code == 0
    assert pyxl("shared-info", "h1").code == 0
    r = pyxl("start-info", "h1")
    assert (r.code, r.out, r.err) == (1, "", "h1 is an HVM guest: it has no start_info page\n")


@pytest.mark.parametrize("args, err", [
    (("shared-info", "nosuch"), "nosuch is an invalid domain identifier (rc=-6)\n"),
    (("start-info", "nosuch"), "nosuch is an invalid domain identifier (rc=-6)\n"),
    (("shared-info", "--vcpu", "2", "vm1"), "vm1 has no vcpu 2\n"),
    (("shared-info", "--vcpu", "-1", "vm1"), "vm1 has no vcpu -1\n"),
    (("shared-info", "--raw", "--json", "vm1"),
     "shared-info: --hex, --raw and --json exclude each other\n"),
])
def test_bad_input_is_one_line_and_changes_nothing(pyxl, vm, state_dir, args, err):
    db = next(state_dir.glob("*/state.db"))
    before = db.read_bytes()
    r = pyxl(*args)
    assert (r.code, r.out, r.err) == (1, "", err)
    assert db.read_bytes() == before


def test_a_guest_too_small_for_its_image_fails_as_libxc_does(pyxl, guest_cfg):
    r = pyxl("create", "-q", guest_cfg(memory=6))
    assert r.code != 0
    assert "xc_dom_chk_alloc_pages: segment" in r.err or "initial mapping" in r.err
    assert pyxl("list", "vm1").code != 0
