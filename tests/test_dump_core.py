"""xl dump-core: the ELF core xc_domain_dumpcore writes, read back here with
`struct` alone (and with readelf when it is installed)."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

WEB = 'name = "web"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 512\nvcpus = 2\n'
L4, L3, L1, FIRST = 0x3A84F3, 0x3A84F4, 0x3A84F9, 0x3A80F0
NR_PAGES = 512 * 256


def parse(path) -> dict:
    """ELF64 header, sections by name, and the notes of .note.Xen."""
    with open(path, "rb") as f:
        data = f.read(1 << 16)
        head = struct.unpack_from("<Q", data, 40)[0]  # e_shoff
        assert head < len(data)

        def read(off: int, size: int) -> bytes:
            f.seek(off)
            return f.read(size)

        return _parse(data, read)


def _parse(data: bytes, read) -> dict:
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    (e_type, machine, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
     shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)
    assert (e_type, machine, shentsize) == (4, 62, 64)  # ET_CORE, EM_X86_64
    shdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + 64 * i) for i in range(shnum)]
    strtab = shdrs[shstrndx]
    names = read(strtab[4], strtab[5])
    sections = {}
    for name, kind, _, _, off, size, _, _, align, entsize in shdrs[1:]:
        label = names[name:names.index(b"\0", name)].decode()
        sections[label] = {"type": kind, "offset": off, "size": size, "align": align,
                           "entsize": entsize,
                           "data": read(off, size) if label != ".xen_pages" else None}
    notes, blob = [], sections[".note.Xen"]["data"]
    at = 0
    while at < len(blob):
        namesz, descsz, kind = struct.unpack_from("<III", blob, at)
        name = blob[at + 12:at + 12 + namesz]
        desc_at = at + 12 + (namesz + 3) // 4 * 4
        notes.append((name, kind, blob[desc_at:desc_at + descsz]))
        at = desc_at + (descsz + 3) // 4 * 4
    return {"phnum": phnum, "phoff": phoff, "sections": sections, "notes": notes}


@pytest.fixture
def core(pyxl, write_cfg, tmp_path):
    assert pyxl("create", write_cfg(WEB, "web.cfg")).code == 0
    path = tmp_path / "web.core"
    r = pyxl("dump-core", "web", str(path))
    assert (r.code, r.out, r.err) == (0, "", "")
    return path


def test_sections_and_notes(core):
    c = parse(core)
    s = c["sections"]
    assert list(s) == [".shstrtab", ".note.Xen", ".xen_prstatus", ".xen_shared_info",
                       ".xen_pages", ".xen_p2m"]
    assert s[".note.Xen"]["type"] == 7 and s[".xen_pages"]["offset"] % 4096 == 0
    assert s[".xen_pages"]["size"] == NR_PAGES * 4096
    kinds = [(name, kind) for name, kind, _ in c["notes"]]
    assert kinds == [(b"Xen\0", 0x2000000), (b"Xen\0", 0x2000001), (b"Xen\0", 0x2000002),
                     (b"Xen\0", 0x2000003)]
    header = struct.unpack("<QQQQ", c["notes"][1][2])
    assert header == (0xF00FEBED, 2, NR_PAGES, 4096)
    version = c["notes"][2][2]
    assert len(version) == 1280
    assert struct.unpack_from("<QQ", version) == (4, 23)
    assert version[16:32].rstrip(b"\0") == b"-unstable"
    assert struct.unpack_from("<Q", version, 1272)[0] == 4096
    assert struct.unpack("<Q", c["notes"][3][2])[0] == 1


def test_vcpu_contexts_shared_info_and_p2m(core, pyxl):
    s = parse(core)["sections"]
    prstatus = s[".xen_prstatus"]
    assert prstatus["entsize"] == 5168 and prstatus["size"] == 2 * 5168
    for i in range(2):
        ctx = prstatus["data"][i * 5168:(i + 1) * 5168]
        assert struct.unpack_from("<Q", ctx, 512)[0] & (1 << 5)  # VGCF_online
        assert struct.unpack_from("<Q", ctx, 4984 + 24)[0] == L4 << 12  # ctrlreg[3]
    raw = pyxl("shared-info", "--raw", "web").out.encode("latin-1")
    assert s[".xen_shared_info"]["data"] == raw
    p2m = s[".xen_p2m"]["data"]
    assert len(p2m) == NR_PAGES * 16
    assert struct.unpack_from("<QQ", p2m, 0) == (0, FIRST)
    assert struct.unpack_from("<QQ", p2m, 16 * (NR_PAGES - 1)) == (NR_PAGES - 1,
                                                                    FIRST + NR_PAGES - 1)


def page(core, pfn: int) -> bytes:
    s = parse(core)["sections"][".xen_pages"]
    with open(core, "rb") as f:
        f.seek(s["offset"] + pfn * 4096)
        return f.read(4096)


def test_pages_hold_start_info_and_page_tables(core, pyxl):
    raw = pyxl("start-info", "--raw", "web").out.encode("latin-1")
    assert page(core, 0x400) == raw  # the builder's start_info pfn
    l4 = page(core, 0x403)
    assert struct.unpack_from("<Q", l4, 511 * 8)[0] == L3 << 12 | 0x67
    l1 = page(core, 0x406)  # first L1: maps pfn 0 (the kernel) writable
    assert struct.unpack_from("<Q", l1, 0)[0] == FIRST << 12 | 0x67
    assert page(core, 0x10) == bytes(4096)  # no contents kept: zeros


def test_words_a_hypercall_wrote_are_in_the_core(pyxl, write_cfg, tmp_path):
    assert pyxl("create", write_cfg(WEB, "web.cfg")).code == 0
    assert pyxl("hypercall", "web", "mmu_update", f"ptr={FIRST << 12 | 8:#x}",
                "val=0x1234").code == 0
    path = tmp_path / "c"
    assert pyxl("dump-core", "web", str(path)).code == 0
    assert struct.unpack_from("<Q", page(path, 0), 8)[0] == 0x1234


def test_the_core_is_sparse(core):
    st = core.stat()
    assert st.st_size > NR_PAGES * 4096
    assert st.st_blocks * 512 < st.st_size // 10


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf is not installed")
def test_readelf_reads_it(core):
    notes = subprocess.run(["readelf", "-n", str(core)], capture_output=True, text=True,
                           check=True).stdout
    assert notes.count("Xen ") == 4 and "0x02000001" in notes
    sections = subprocess.run(["readelf", "-S", str(core)], capture_output=True, text=True,
                              check=True).stdout
    for name in (".note.Xen", ".xen_prstatus", ".xen_shared_info", ".xen_pages",
                 ".xen_p2m"):
        assert name in sections


def test_no_such_domain(pyxl, tmp_path):
    path = tmp_path / "x"
    r = pyxl("dump-core", "nope", str(path))
    assert (r.code, r.err) == (1, "nope is an invalid domain identifier (rc=-6)\n")
    assert not path.exists()
    r = pyxl("dump-core", "7", str(path))
    assert r.code == 1
    assert r.err.splitlines() == [
        "xc: error: Could not get info for dom7 (3 = No such process): Internal error",
        "libxl: error: libxl_domain.c:601:libxl_domain_core_dump: Domain 7:Core dumping "
        f"domain to {path}: No such process",
        "core dump failed (rc=-3)"]


def test_unwritable_file(pyxl, write_cfg, tmp_path):
    assert pyxl("create", write_cfg(WEB, "web.cfg")).code == 0
    bad = tmp_path / "no" / "such" / "dir"
    r = pyxl("dump-core", "web", str(bad))
    assert r.code == 1
    assert r.err.splitlines() == [
        f"xc: error: Could not open corefile {bad} (2 = No such file or directory): "
        "Internal error",
        "libxl: error: libxl_domain.c:601:libxl_domain_core_dump: Domain 1:Core dumping "
        f"domain to {bad}: No such file or directory",
        "core dump failed (rc=-3)"]


def test_missing_arguments(pyxl):
    r = pyxl("dump-core", "web")
    assert r.code == 2 and "'xl dump-core' requires at least 2 arguments." in r.err


def test_trace_shows_what_libxc_reads(pyxl, write_cfg, tmp_path):
    assert pyxl("create", write_cfg(WEB, "web.cfg")).code == 0
    r = pyxl("--trace", "dump-core", "web", str(tmp_path / "c"))
    ops = [line.split("(")[0] for line in r.err.splitlines()]
    assert ops[:3] == ["xen: XEN_DOMCTL_getdomaininfo", "xen: privcmd_mmap",
                       "xen: XEN_DOMCTL_get_address_size"]
    assert ops.count("xen: XEN_DOMCTL_getvcpucontext") == 2
    assert "xen: XENMEM_maximum_ram_page" in ops
    assert ops.count("xen: IOCTL_PRIVCMD_MMAPBATCH_V2") == 4  # 3 batches, then a count
    assert "more_batches=29" in r.err.splitlines()[-1]
