"""libxl_domain_core_dump: the ELF core file xc_domain_dumpcore writes.

The layout is libxenguest's (xg_core.c) for a 64-bit guest: the ELF header,
one PT_NOTE program header over the notes (libxc writes none; readelf -n
looks for notes in a core file's segments only), the section headers (null,
.shstrtab, .note.Xen, .xen_prstatus, .xen_shared_info, .xen_pages, and
.xen_p2m for a PV guest or .xen_pfn for an HVM one), the "Xen" notes (none, header, xen_version, format_version), one
vcpu_guest_context per vCPU, the shared_info page, the pages (from a page
boundary), the P2M pairs, and the section name table last.

Page contents are what the simulation holds: start_info, every word of the
bootstrap page tables and whatever `pyxl hypercall` wrote; every other page
is zeros, left as a hole (the file is sparse: a 64 GiB guest's core takes
little disk). vCPU contexts carry the online flag and cr3 only; every other
register is zero.
"""

from __future__ import annotations

import os
import struct

from pyxl.errors import ErrorFail
from pyxl.toolstack.ctx import Ctx

PAGE_SIZE = 4096
XC_CORE_MAGIC, XC_CORE_MAGIC_HVM = 0xF00FEBED, 0xF00FEBEE
XEN_ELFNOTE_DUMPCORE_NONE = 0x2000000
XEN_ELFNOTE_DUMPCORE_HEADER = 0x2000001
XEN_ELFNOTE_DUMPCORE_XEN_VERSION = 0x2000002
XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION = 0x2000003
FORMAT_VERSION = (0 << 32) | 1
VCPU_GUEST_CONTEXT_SIZE = 5168  # struct vcpu_guest_context, x86_64
CTX_FLAGS, CTX_CR3 = 512, 4984 + 3 * 8
VGCF_ONLINE = 1 << 5
EM_X86_64, ET_CORE, SHT_PROGBITS, SHT_STRTAB, SHT_NOTE = 62, 4, 1, 3, 7
EHDR_SIZE, SHDR_SIZE, PHDR_SIZE = 64, 64, 56
PT_NOTE, PF_R = 4, 4
DUMP_INCREMENT = 4 * 1024  # pages libxc maps at a time
TRACED_BATCHES = 3


def core_dump(ctx: Ctx, domid: int, filename: str) -> None:
    """Write the core; ErrorFail after logging
    what libxc and libxl log, for a file it cannot open or no such domain."""
    try:
        fd = os.open(filename, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
    except OSError as e:
        _xc_error(ctx, f"Could not open corefile {filename} ({e.errno} = {e.strerror})")
        _fail(ctx, domid, filename, e.strerror)
    try:
        d = ctx.hv.domains.get(domid)
        ctx.hv.trace("XEN_DOMCTL_getdomaininfo", domid=domid)
        if d is None:
            _xc_error(ctx, f"Could not get info for dom{domid} (3 = No such process)")
            _fail(ctx, domid, filename, "No such process")
        with os.fdopen(os.dup(fd), "r+b") as f:
            _write_core(ctx, d, f)
    finally:
        os.close(fd)


def _xc_error(ctx: Ctx, message: str) -> None:
    if ctx.logger is not None:
        ctx.logger(f"xc: error: {message}: Internal error")


def _fail(ctx: Ctx, domid: int, filename: str, why: str):
    ctx.log("error", "libxl_domain.c:601:libxl_domain_core_dump",
            f"Core dumping domain to {filename}", domid=domid, errno=why)
    raise ErrorFail()


# --- what goes in -----------------------------------------------------------

def _contents(ctx: Ctx, d) -> dict[int, bytes]:
    """pfn -> the page's bytes, for the pages whose contents the simulation has."""
    from pyxl.hv import mm, mmu
    from pyxl.toolstack import pages, pvbuild

    out: dict[int, bytes] = {}
    layout = pvbuild.layout_of(d)
    frames = set()
    if layout is not None:
        out[layout.start_info_pfn] = pages.start_info(ctx, str(d.domid))["raw"]
        for _, pfn, count in layout.tables:
            frames.update(mm.pfn_to_mfn(d, p) for p in range(pfn, pfn + count))
    frames.update(int(m) for m in d.build.get("pte", {}))
    for mfn in frames:
        pfn = mm.mfn_to_pfn(d, mfn)
        words = mmu.kept_words(d, mfn)
        if pfn is None or not words:
            continue
        page = bytearray(out.get(pfn, bytes(PAGE_SIZE)))
        for slot, val in words.items():
            struct.pack_into("<Q", page, slot * 8, val)
        out[pfn] = bytes(page)
    return out


def _vcpu_contexts(ctx: Ctx, d) -> bytes:
    from pyxl.hv import mmu

    cr3 = mmu.baseptr(d) if d.type == "pv" else None
    blobs = []
    for v in d.vcpus:
        ctx.hv.trace("XEN_DOMCTL_getvcpucontext", domid=d.domid, vcpu=v.vcpuid,
                     rc=0 if v.online else "-ENODATA")
        if not v.online:
            continue
        c = bytearray(VCPU_GUEST_CONTEXT_SIZE)
        struct.pack_into("<Q", c, CTX_FLAGS, VGCF_ONLINE)
        if cr3 is not None:
            struct.pack_into("<Q", c, CTX_CR3, cr3 << 12)
        blobs.append(bytes(c))
    return b"".join(blobs)


def _notes(ctx: Ctx, d, nr_vcpus: int, nr_pages: int) -> bytes:
    from pyxl.toolstack import info

    def note(kind: int, desc: bytes) -> bytes:
        return struct.pack("<III4s", 4, len(desc), kind, b"Xen") + desc

    def text(value: str, size: int) -> bytes:
        return value.encode()[:size - 1].ljust(size, b"\0")

    values = {k: v.strip() for k, v in info.xeninfo(ctx)}
    version = (struct.pack("<QQ", info.XEN_MAJOR, info.XEN_MINOR)
               + text(info.XEN_EXTRA, 16)
               + text(values["cc_compiler"], 64) + text(values["cc_compile_by"], 16)
               + text(values["cc_compile_domain"], 32) + text(values["cc_compile_date"], 32)
               + text(values["xen_caps"], 1024) + text(values["xen_changeset"], 64)
               + struct.pack("<QQ", 0xFFFF800000000000, PAGE_SIZE))
    magic = XC_CORE_MAGIC if d.type == "pv" else XC_CORE_MAGIC_HVM
    return (note(XEN_ELFNOTE_DUMPCORE_NONE, b"")
            + note(XEN_ELFNOTE_DUMPCORE_HEADER,
                   struct.pack("<QQQQ", magic, nr_vcpus, nr_pages, PAGE_SIZE))
            + note(XEN_ELFNOTE_DUMPCORE_XEN_VERSION, version)
            + note(XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION, struct.pack("<Q", FORMAT_VERSION)))


# --- the file ---------------------------------------------------------------

def _write_core(ctx: Ctx, d, f) -> None:
    from pyxl.toolstack import pages as shpages

    from pyxl.hv import mmu
    from pyxl.toolstack import pvbuild

    mmu.use_layout(pvbuild.pv_layout)
    hv = ctx.hv
    hv.trace("privcmd_mmap(shared_info)", domid=d.domid, mfn=hex(0x100 + d.domid))
    shared = shpages.shared_info(ctx, str(d.domid))["raw"]
    hv.trace("XEN_DOMCTL_get_address_size", domid=d.domid, size=64)
    prstatus = _vcpu_contexts(ctx, d)
    nr_vcpus = len(prstatus) // VCPU_GUEST_CONTEXT_SIZE
    runs = sorted(d.p2m)
    nr_pages = sum(r[2] for r in runs)
    pv = d.type == "pv"
    if pv:
        hv.trace("map P2M (pfn_to_mfn_frame_list_list)", domid=d.domid)
        hv.trace("XENMEM_maximum_ram_page", rc=hex(_max_ram_page(hv)))
    notes = _notes(ctx, d, nr_vcpus, nr_pages)
    names = [".shstrtab", ".note.Xen", ".xen_prstatus", ".xen_shared_info", ".xen_pages",
             ".xen_p2m" if pv else ".xen_pfn"]
    strtab = b"\0" + b"".join(n.encode() + b"\0" for n in names)
    name_at = {n: strtab.index(n.encode() + b"\0") for n in names}
    nr_shdrs = 1 + len(names)
    offset = EHDR_SIZE + PHDR_SIZE + nr_shdrs * SHDR_SIZE
    sections = []  # (name, type, offset, size, align, entsize)
    for name, kind, blob, align, entsize in (
            (".note.Xen", SHT_NOTE, notes, 0, 0),
            (".xen_prstatus", SHT_PROGBITS, prstatus, 8, VCPU_GUEST_CONTEXT_SIZE),
            (".xen_shared_info", SHT_PROGBITS, shared, 8, PAGE_SIZE)):
        sections.append((name, kind, offset, len(blob), align, entsize))
        offset += len(blob)
    pages_off = -(-offset // PAGE_SIZE) * PAGE_SIZE
    sections.append((".xen_pages", SHT_PROGBITS, pages_off, nr_pages * PAGE_SIZE,
                     PAGE_SIZE, PAGE_SIZE))
    p2m_off = pages_off + nr_pages * PAGE_SIZE
    entsize = 16 if pv else 8
    sections.append((names[-1], SHT_PROGBITS, p2m_off, nr_pages * entsize, 8, entsize))
    str_off = p2m_off + nr_pages * entsize
    f.write(_ehdr(nr_shdrs))
    f.write(struct.pack("<IIQQQQQQ", PT_NOTE, PF_R, sections[0][2], 0, 0, len(notes), 0, 4))
    f.write(bytes(SHDR_SIZE))
    f.write(_shdr(name_at[".shstrtab"], SHT_STRTAB, str_off, len(strtab), 0, 0))
    for name, kind, off, size, align, ent in sections:
        f.write(_shdr(name_at[name], kind, off, size, align, ent))
    f.write(notes + prstatus + shared)
    _write_pages(ctx, d, f, runs, pages_off)
    f.seek(p2m_off)
    _write_p2m(f, runs, pv)
    f.write(strtab)
    f.truncate(str_off + len(strtab))


def _max_ram_page(hv) -> int:
    from pyxl.hv import mm

    return mm.max_ram_page(hv)


def _ehdr(nr_shdrs: int) -> bytes:
    ident = b"\x7fELF" + bytes([2, 1, 1, 0, 1]) + bytes(7)
    return ident + struct.pack("<HHIQQQIHHHHHH", ET_CORE, EM_X86_64, 1, 0, EHDR_SIZE,
                               EHDR_SIZE + PHDR_SIZE, 0, EHDR_SIZE, PHDR_SIZE, 1, SHDR_SIZE,
                               nr_shdrs, 1)


def _shdr(name: int, kind: int, offset: int, size: int, align: int, entsize: int) -> bytes:
    return struct.pack("<IIQQQQIIQQ", name, kind, 0, 0, offset, size, 0, 0, align, entsize)


def _write_pages(ctx: Ctx, d, f, runs, pages_off: int) -> None:
    """The pages in P2M order; only those with contents are written (holes
    elsewhere). libxc maps them DUMP_INCREMENT at a time: the first few
    batches are traced, then how many more."""
    contents = _contents(ctx, d)
    index = 0
    batches = 0
    for pfn, mfn, count in runs:
        for start in range(0, count, DUMP_INCREMENT):
            n = min(DUMP_INCREMENT, count - start)
            if batches < TRACED_BATCHES:
                ctx.hv.trace("IOCTL_PRIVCMD_MMAPBATCH_V2", domid=d.domid,
                             pfn=hex(pfn + start), mfn=hex(mfn + start), num=n)
            batches += 1
        for p in sorted(q for q in contents if pfn <= q < pfn + count):
            f.seek(pages_off + (index + p - pfn) * PAGE_SIZE)
            f.write(contents[p])
        index += count
    if batches > TRACED_BATCHES:
        ctx.hv.trace("IOCTL_PRIVCMD_MMAPBATCH_V2", domid=d.domid,
                     more_batches=batches - TRACED_BATCHES)


def _write_p2m(f, runs, pv: bool) -> None:
    """struct xen_dumpcore_p2m {pfn, gmfn} per page (.xen_p2m), or the pfns
    alone for a translated guest (.xen_pfn), a bounded chunk at a time."""
    from array import array

    chunk = 1 << 16
    for pfn, mfn, count in runs:
        for start in range(0, count, chunk):
            n = min(chunk, count - start)
            if pv:
                a = array("Q", bytes(16 * n))
                a[0::2] = array("Q", range(pfn + start, pfn + start + n))
                a[1::2] = array("Q", range(mfn + start, mfn + start + n))
            else:
                a = array("Q", range(pfn + start, pfn + start + n))
            f.write(a.tobytes())
