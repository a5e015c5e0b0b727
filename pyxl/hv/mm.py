"""Machine frames as Xen keeps them: the heap, each domain's P2M, the M2P.

Frames are kept as runs, never one entry per page, so that a 64 GiB domain
costs what a 64 MiB one does. The heap's free frames are `[mfn, count]`
runs (`Hypervisor.heap_free`, kept in the host's meta). A domain's frames are its P2M, `[pfn, mfn, count]` runs sorted by
pfn (`Domain.p2m`); the M2P is its inverse, asked of the runs by mfn.

Machine frames below 1 MiB are the firmware's. Each domain's shared_info is
a Xen heap page at XENHEAP_START + domid (Xen allocates it apart from the
domain's memory: it is not in tot_pages). Domain memory starts at
DOMHEAP_START and is handed out top down, as Xen's allocator prefers high
memory; the same commands give the same frames.

Page types (writable, L1-L4 page table, segment descriptor) are kept only
for frames whose type is not writable: `Domain.page_types` holds runs
`[mfn, count, type, type_count, count_info, pinned]`.
"""

from __future__ import annotations

from bisect import bisect_right, insort

from pyxl.hv.model import DOMID_FIRST_RESERVED, Domain

PAGE_SHIFT = 12
PAGE_KB = 4
XENHEAP_START = 0x100  # above the firmware's first MiB
DOMHEAP_START = XENHEAP_START + DOMID_FIRST_RESERVED
INVALID_M2P_ENTRY = (1 << 64) - 1

# PGT_* type numbers (asm/mm.h), as `type` in a page_types run.
PGT_NONE, PGT_L1, PGT_L2, PGT_L3, PGT_L4, PGT_SEG_DESC, PGT_SHARED, PGT_WRITABLE = range(8)
PGT_NAMES = {PGT_NONE: "none", PGT_L1: "l1_page_table", PGT_L2: "l2_page_table",
             PGT_L3: "l3_page_table", PGT_L4: "l4_page_table", PGT_SEG_DESC: "seg_desc_page",
             PGT_SHARED: "shared_page", PGT_WRITABLE: "writable_page"}


def shared_info_mfn(domid: int) -> int:
    """The Xen heap frame holding the domain's shared_info page."""
    return XENHEAP_START + domid


def domheap_frames(hv) -> tuple[int, int]:
    """(first, end) mfn of the memory Xen gives domains: physinfo's total."""
    return DOMHEAP_START, DOMHEAP_START + hv.physinfo.total_kb // PAGE_KB


def max_ram_page(hv) -> int:
    """XENMEM_maximum_ram_page: the highest mfn of RAM."""
    return domheap_frames(hv)[1] - 1


# --- the heap ---------------------------------------------------------------

def _free_list(hv) -> list[list[int]]:
    """The heap's free runs, set up on first use (Domain-0 then takes its frames)."""
    if hv.heap_free is None:
        first, end = domheap_frames(hv)
        hv.heap_free = [[first, end - first]]
        d0 = hv.domains.get(0)
        if d0 is not None:
            sync(hv, d0)
    return hv.heap_free


def free_pages(hv) -> int:
    return sum(count for _, count in _free_list(hv))


def _alloc(free: list[list[int]], pages: int) -> list[tuple[int, int]]:
    """Take `pages` frames from the top of the heap: (mfn, count) runs,
    lowest mfn first. ENOMEM is the caller's to check (free_pages)."""
    taken = []
    while pages and free:
        mfn, count = free[-1]
        n = min(pages, count)
        if n == count:
            free.pop()
        else:
            free[-1][1] = count - n
        taken.append((mfn + count - n, n))
        pages -= n
    return sorted(taken)


def _release(free: list[list[int]], mfn: int, count: int) -> None:
    """Give a run back, merged with its neighbours."""
    i = bisect_right(free, [mfn, count])
    if i > 0 and free[i - 1][0] + free[i - 1][1] == mfn:
        free[i - 1][1] += count
        i -= 1
    else:
        free.insert(i, [mfn, count])
    if i + 1 < len(free) and free[i][0] + free[i][1] == free[i + 1][0]:
        free[i][1] += free.pop(i + 1)[1]


# --- a domain's P2M ---------------------------------------------------------

def nr_pages(d: Domain) -> int:
    """Frames the domain owns (its P2M's size)."""
    return sum(run[2] for run in d.p2m)


def populate(hv, d: Domain, pages: int) -> None:
    """XENMEM_populate_physmap of the next `pages` pfns (after the last,
    should a guest have given back a frame below it)."""
    pfn = d.p2m[-1][0] + d.p2m[-1][2] if d.p2m else 0
    for mfn, count in _alloc(_free_list(hv), pages):
        last = d.p2m[-1] if d.p2m else None
        if last is not None and last[0] + last[2] == pfn and last[1] + last[2] == mfn:
            last[2] += count
        else:
            d.p2m.append([pfn, mfn, count])
        pfn += count


def decrease(hv, d: Domain, pages: int) -> None:
    """XENMEM_decrease_reservation of the highest `pages` pfns (the balloon
    driver gives back the pages it takes last)."""
    free = _free_list(hv)
    gone: list[tuple[int, int]] = []
    while pages and d.p2m:
        pfn, mfn, count = d.p2m[-1]
        n = min(pages, count)
        if n == count:
            d.p2m.pop()
        else:
            d.p2m[-1][2] = count - n
        gone.append((mfn + count - n, n))
        pages -= n
    for mfn, n in gone:
        _release(free, mfn, n)
    if d.page_types and gone:
        d.page_types = [t for t in d.page_types
                        if not any(m <= t[0] < m + n for m, n in gone)]


def sync(hv, d: Domain) -> None:
    """Make the P2M hold tot_pages frames (the domain's memory in KiB is the
    accounting every command already keeps; frames follow it)."""
    have, want = nr_pages(d), d.tot_memkb // PAGE_KB
    if want > have:
        populate(hv, d, want - have)
    elif want < have:
        decrease(hv, d, have - want)


def release_all(hv, d: Domain) -> None:
    """domain_relinquish_resources: every frame back to the heap."""
    if not d.p2m:
        return
    free = _free_list(hv)
    for _, mfn, count in d.p2m:
        _release(free, mfn, count)
    d.p2m, d.page_types = [], []


def pfn_to_mfn(d: Domain, pfn: int) -> int | None:
    """The P2M's entry for `pfn` (None: not populated)."""
    i = bisect_right(d.p2m, [pfn, INVALID_M2P_ENTRY, 0]) - 1
    if i >= 0:
        start, mfn, count = d.p2m[i]
        if pfn < start + count:
            return mfn + pfn - start
    return None


def mfn_to_pfn(d: Domain, mfn: int) -> int | None:
    """One domain's part of the M2P: the pfn it maps `mfn` at."""
    for pfn, start, count in d.p2m:
        if start <= mfn < start + count:
            return pfn + mfn - start
    return None


def m2p(hv, mfn: int) -> tuple[int, int] | None:
    """The global M2P: (owner domid, pfn) of a frame, None for a free one."""
    for domid, d in hv.domains.items():
        pfn = mfn_to_pfn(d, mfn)
        if pfn is not None:
            return domid, pfn
    return None


# --- page types -------------------------------------------------------------

def set_types(d: Domain, mfn: int, count: int, pgt: int, type_count: int,
              count_info: int, pinned: bool) -> None:
    """Give `count` frames from `mfn` a type other than writable."""
    insort(d.page_types, [mfn, count, pgt, type_count, count_info, int(pinned)])


def page_type(d: Domain, mfn: int) -> tuple[int, int, int, bool]:
    """(type, type_count, count_info, pinned) of one of the domain's frames;
    a frame without an entry is a writable page with no typed use recorded."""
    for start, count, pgt, tc, refs, pinned in d.page_types:
        if start <= mfn < start + count:
            return pgt, tc, refs, bool(pinned)
    return PGT_WRITABLE, 0, 1, False
