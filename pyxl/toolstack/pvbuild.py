"""The PV domain builder's layout of a 64-bit guest, as libxenguest makes it.

xc_dom_build_image lays the guest's first pfns out in order, each segment
page aligned at the next free pfn and virtual address from the kernel's
virt_base: the kernel, the initrd when the kernel wants it mapped, the P2M
list when the kernel names no separate place for it, the start_info,
xenstore and console pages, the bootstrap page tables (as many as it takes
to map everything up to a 4 MiB boundary with 512 KiB to spare), the boot
stack, then padding up to that boundary. A Linux kernel asks for its initrd
unmapped (XEN_ELFNOTE_MOD_START_PFN) and for its P2M list at 512 GiB
(XEN_ELFNOTE_INIT_P2M), so both come after the padding, the P2M list with
the page tables that map it.

The simulated kernel is linked at its virt_base (no padding before it) and
its image and initrd have fixed sizes.
"""

from __future__ import annotations

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
LEVELS = 4  # x86_64 page tables
LEVEL_SHIFT = 9
VADDR_MASK = (1 << 48) - 1
VIRT_BASE = 0xFFFFFFFF80000000  # Linux's __START_KERNEL_map
INIT_P2M = 0x8000000000  # Linux's XEN_ELFNOTE_INIT_P2M: PUD_SIZE * PTRS_PER_PUD
KERNEL_IMAGE_KB = 4096
RAMDISK_KB = 2048
MAX_GUEST_CMDLINE = 1024
GUEST_TYPE = "xen-3.0-x86_64"
SIF_MOD_START_PFN = 1 << 3
SIF_VIRT_P2M_4TOOLS = 1 << 4
BOOT_PADDING = 512 * 1024


class LayoutError(Exception):
    """xc_dom_chk_alloc_pages: a segment does not fit the guest's memory."""

    def __init__(self, name: str, pages: int, total: int, used: int):
        super().__init__(name)
        self.segment, self.pages, self.total, self.used = name, pages, total, used


# Plain classes, not dataclasses: every command defines them at start-up,
# where a dataclass costs ~30 times more to define.
class Segment:
    def __init__(
        self,
        name: str,
        pfn: int,
        pages: int,
        vstart: int,  # virtual address (0: not mapped)
    ) -> None:
        self.name = name
        self.pfn = pfn
        self.pages = pages
        self.vstart = vstart


class _Level:
    def __init__(self, frm: int = 0, to: int = 0, pfn: int = 0, pgtables: int = 0) -> None:
        self.frm = frm
        self.to = to
        self.pfn = pfn
        self.pgtables = pgtables


class _Mapping:
    def __init__(self, frm: int, to: int, pgtables: int = 0,
                 lvls: list[_Level] | None = None) -> None:
        self.frm = frm
        self.to = to
        self.pgtables = pgtables
        self.lvls = [_Level() for _ in range(LEVELS)] if lvls is None else lvls


class PvLayout:
    """Where the builder put each part of a PV guest (pfns and virtual addresses)."""

    def __init__(
        self,
        nr_pages: int,
        segments: tuple[Segment, ...],
        nr_pt_frames: int,
        # (level 1-4, first pfn, count) of every bootstrap page table,
        # those mapping the P2M list included
        tables: tuple[tuple[int, int, int], ...],
        virt_pgtab_end: int,
        ramdisk: bool,
    ) -> None:
        self.nr_pages = nr_pages
        self.segments = segments
        self.nr_pt_frames = nr_pt_frames
        self.tables = tables
        self.virt_pgtab_end = virt_pgtab_end
        self.ramdisk = ramdisk

    def seg(self, name: str) -> Segment:
        return next(s for s in self.segments if s.name == name)

    @property
    def start_info_pfn(self) -> int:
        return self.seg("start info").pfn

    @property
    def xenstore_pfn(self) -> int:
        return self.seg("xenstore").pfn

    @property
    def console_pfn(self) -> int:
        return self.seg("console").pfn

    @property
    def pfn_alloc_end(self) -> int:
        last = self.segments[-1]
        return last.pfn + last.pages

    @property
    def flags(self) -> int:
        return SIF_VIRT_P2M_4TOOLS | (SIF_MOD_START_PFN if self.ramdisk else 0)


class _Builder:
    """xc_dom_image's allocation cursor (pfn_alloc_end, virt_alloc_end)."""

    def __init__(self, nr_pages: int):
        self.total = nr_pages
        self.pfn = 0
        self.virt = VIRT_BASE
        self.segments: list[Segment] = []
        self.maps: list[_Mapping] = []
        self.virt_pgtab_end = 0

    def alloc(self, name: str, pages: int, mapped: bool = True) -> Segment:
        if pages > self.total - self.pfn:
            raise LayoutError(name, pages, self.total, self.pfn)
        seg = Segment(name, self.pfn, pages, self.virt if mapped else 0)
        self.pfn += pages
        self.virt += pages * PAGE_SIZE
        self.segments.append(seg)
        return seg

    def pad(self, boundary: int) -> None:
        """xc_dom_alloc_pad: allocate up to a virtual address."""
        pages = (boundary - self.virt) // PAGE_SIZE
        if pages:
            self.alloc("padding", pages)

    def count_pgtables(self, frm: int, to: int, pfn: int) -> _Mapping:
        """How many tables of each level map [frm, to], less those an
        earlier mapping already has; the top level only in the first."""
        if pfn + ((to - frm) >> PAGE_SHIFT) >= self.total:
            raise LayoutError("initial mapping", (to - frm) >> PAGE_SHIFT, self.total, pfn)
        m = _Mapping(frm & VADDR_MASK, to & VADDR_MASK)
        for lv in range(LEVELS - 1, -1, -1):
            lvl = m.lvls[lv]
            lvl.pfn = self.pfn + m.pgtables
            if lv == LEVELS - 1:
                if not self.maps:
                    lvl.frm, lvl.to, lvl.pgtables = 0, VADDR_MASK, 1
                    m.pgtables += 1
                continue
            bits = PAGE_SHIFT + (lv + 1) * LEVEL_SHIFT
            mask = (1 << bits) - 1
            lvl.frm, lvl.to = m.frm & ~mask, m.to | mask
            for other in self.maps:
                o = other.lvls[lv]
                if o.frm == o.to:
                    continue
                if lvl.frm >= o.frm and lvl.to <= o.to:
                    lvl.frm = lvl.to = 0
                    break
                if o.frm <= lvl.frm <= o.to:
                    lvl.frm = o.to + 1
                if o.frm <= lvl.to <= o.to:
                    lvl.to = o.frm - 1
            if lvl.frm < lvl.to:
                lvl.pgtables = ((lvl.to - lvl.frm) >> bits) + 1
            m.pgtables += lvl.pgtables
        return m


def pv_layout(nr_pages: int, ramdisk: bool = False, kernel_kb: int = KERNEL_IMAGE_KB,
              ramdisk_kb: int = RAMDISK_KB, p2m_base: int | None = INIT_P2M) -> PvLayout:
    """xc_dom_build_image for a 64-bit PV Linux guest of `nr_pages` pages.
    LayoutError when a segment does not fit (the builder's out of memory)."""
    b = _Builder(nr_pages)
    b.alloc("kernel", _pages(kernel_kb * 1024))
    p2m_bytes = _pages(nr_pages * 8) * PAGE_SIZE
    if p2m_base is None:
        b.alloc("phys2mach", p2m_bytes // PAGE_SIZE)
    for name in ("start info", "xenstore", "console"):
        b.alloc(name, 1)
    map0 = _pgtables(b)
    b.alloc("page tables", map0.pgtables)
    b.maps.append(map0)
    b.alloc("boot stack", 1)
    b.pad(b.virt_pgtab_end)
    if ramdisk:
        b.alloc("ramdisk", _pages(ramdisk_kb * 1024), mapped=False)
    tables = _tables(map0)
    if p2m_base is not None:
        map1 = b.count_pgtables(p2m_base, p2m_base + p2m_bytes - 1, b.pfn)
        for lvl in map1.lvls:
            lvl.pfn += p2m_bytes // PAGE_SIZE
        seg = b.alloc("phys2mach", p2m_bytes // PAGE_SIZE + map1.pgtables, mapped=False)
        b.segments[-1] = Segment(seg.name, seg.pfn, seg.pages, p2m_base)
        tables += _tables(map1)
    return PvLayout(nr_pages=nr_pages, segments=tuple(b.segments),
                    nr_pt_frames=map0.pgtables, tables=tables,
                    virt_pgtab_end=b.virt_pgtab_end, ramdisk=ramdisk)


def _pgtables(b: _Builder) -> _Mapping:
    """alloc_pgtables_pv: grow the mapped area until its own page tables, the
    boot stack and 512 KiB of padding fit below a 4 MiB boundary."""
    extra = 1 + BOOT_PADDING // PAGE_SIZE
    pages = extra
    while True:
        try_end = (b.virt + pages * PAGE_SIZE) | ((1 << 22) - 1)
        m = b.count_pgtables(VIRT_BASE, try_end, 0)
        pages = m.pgtables + extra
        if b.virt + pages * PAGE_SIZE <= try_end + 1:
            b.virt_pgtab_end = try_end + 1
            return m


def _tables(m: _Mapping) -> tuple[tuple[int, int, int], ...]:
    return tuple((lv + 1, m.lvls[lv].pfn, m.lvls[lv].pgtables)
                 for lv in range(LEVELS - 1, -1, -1) if m.lvls[lv].pgtables)


def _pages(nbytes: int) -> int:
    return (nbytes + PAGE_SIZE - 1) // PAGE_SIZE


# --- the builder's steps on a domain ----------------------------------------

# HVM and PVH guests' XenStore and console rings: special pfns below
# X86_HVM_END_SPECIAL_REGION (0xff000), of its 8 special pages the 5th and 8th.
HVM_XENSTORE_PFN = 0xFF000 - 8 + 4
HVM_CONSOLE_PFN = 0xFF000 - 8 + 7


def layout_of(d) -> PvLayout | None:
    """The layout the builder made for a PV domain (None for HVM/PVH, or
    a domain built before pyxl laid guests out)."""
    if d.type != "pv" or not d.build:
        return None
    return pv_layout(d.build["nr_pages"], ramdisk=bool(d.build.get("ramdisk")))


def build_image(hv, d, nr_pages: int, ramdisk: bool, store_evtchn: int,
                console_evtchn: int) -> tuple[int, int]:
    """After the guest's RAM is populated: lay a PV guest out, pin its
    bootstrap page tables; the (store, console) ring frames, which a
    translated guest (HVM, PVH) names by pfn and a PV guest by mfn.
    LayoutError when the image does not fit."""
    from pyxl.hv import mm

    if d.type != "pv":
        return HVM_XENSTORE_PFN, HVM_CONSOLE_PFN
    layout = pv_layout(nr_pages, ramdisk=ramdisk)
    d.build = {"nr_pages": nr_pages, "store_evtchn": store_evtchn,
               "console_evtchn": console_evtchn}
    if ramdisk:
        d.build["ramdisk"] = True
    tables = []
    for level, pfn, count in layout.tables:
        # each table is mapped once, read-only, by the initial mapping or the P2M's
        tables.append((level, mm.pfn_to_mfn(d, pfn), count, 1))
    hv.mmuext_pin_l4_table(d.domid, _contiguous(d, tables))
    return mm.pfn_to_mfn(d, layout.xenstore_pfn), mm.pfn_to_mfn(d, layout.console_pfn)


def _contiguous(d, tables: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Split each run of tables where its frames are not machine-contiguous."""
    from pyxl.hv import mm

    out = []
    for level, mfn, count, refs in tables:
        pfn = mm.mfn_to_pfn(d, mfn)
        start, n = mfn, 0
        for i in range(count):
            m = mm.pfn_to_mfn(d, pfn + i)
            if m != start + n:
                out.append((level, start, n, refs))
                start, n = m, 0
            n += 1
        out.append((level, start, n, refs))
    return out
