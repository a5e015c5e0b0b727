"""A PV guest's page tables as Xen guards them (xen/arch/x86/mm.c).

What the guest wrote is kept sparsely: `Domain.build["pte"]` holds, per
frame (mfn as text), the 8-byte words written by MMU_NORMAL_PT_UPDATE or
update_va_mapping (slot as text -> value). Every other word of a bootstrap
page table is what libxenguest wrote, computed from the builder's layout
(`bootstrap_entry`); every other word of any other frame is 0. Type and
reference counts live in `Domain.page_types` (pyxl/hv/mm.py), one frame a
run once the guest has touched it; `build["cr3"]` is the base pointer a
MMUEXT_NEW_BASEPTR installed, `build["m2p"]` the M2P entries a
MMU_MACHPHYS_UPDATE set.

Each operation records the checks Xen makes, in Xen's order, on a `Checks`
and raises HypercallError with Xen's errno at the first that fails; the
caller puts the domain back as it was then (`snapshot`/`restore`).
"""

from __future__ import annotations

import copy
from functools import lru_cache

from pyxl.hv import mm
from pyxl.hv.errors import HypercallError
from pyxl.hv.model import Domain

PAGE_SHIFT = 12
ENTRIES = 512
VADDR_MASK = (1 << 48) - 1
VIRT_BASE = 0xFFFFFFFF80000000  # the kernel's virt_base, where the builder starts
_PAGE_PRESENT, _PAGE_RW, _PAGE_USER = 0x1, 0x2, 0x4
_PAGE_PWT, _PAGE_PCD, _PAGE_ACCESSED, _PAGE_DIRTY = 0x8, 0x10, 0x20, 0x40
_PAGE_PSE, _PAGE_GLOBAL, _PAGE_AVAIL = 0x80, 0x100, 0xE00
_PAGE_AVAIL_HIGH = 0x7FF << 12
_PAGE_NX = 1 << 23
_PAGE_GNTTAB = 1 << 22
FLAGS_MASK = (1 << 24) - 1
BASE_DISALLOW_MASK = FLAGS_MASK & ~(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED
                                    | _PAGE_DIRTY | _PAGE_AVAIL | _PAGE_AVAIL_HIGH | _PAGE_NX)
L1_DISALLOW_MASK = (BASE_DISALLOW_MASK | _PAGE_GNTTAB) & ~_PAGE_GLOBAL
PADDR_MASK = (1 << 52) - 1
ROOT_PAGETABLE_FIRST_XEN_SLOT, ROOT_PAGETABLE_LAST_XEN_SLOT = 256, 271
# libxenguest's flags for every bootstrap entry (x86_64: user, as the kernel runs in ring 3)
BOOT_PROT = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_USER

MMU_NORMAL_PT_UPDATE, MMU_MACHPHYS_UPDATE = 0, 1
MMU_PT_UPDATE_PRESERVE_AD, MMU_PT_UPDATE_NO_TRANSLATE = 2, 3
MMUEXT = {"pin_l1_table": 0, "pin_l2_table": 1, "pin_l3_table": 2, "pin_l4_table": 3,
          "unpin_table": 4, "new_baseptr": 5, "tlb_flush_local": 6, "invlpg_local": 7,
          "tlb_flush_multi": 8, "invlpg_multi": 9, "tlb_flush_all": 10, "invlpg_all": 11}
UVMF_NONE, UVMF_TLB_FLUSH, UVMF_INVLPG, UVMF_FLUSHTYPE_MASK, UVMF_ALL = 0, 1, 2, 3, 4
LEVEL_NAMES = {1: "l1_page_table", 2: "l2_page_table", 3: "l3_page_table",
               4: "l4_page_table"}


class Checks:
    """What Xen checked, in order: each line with its outcome."""

    def __init__(self, op: str):
        self.op = op
        self.lines: list[tuple[str, bool]] = []

    def ok(self, text: str) -> None:
        self.lines.append((text, True))

    def require(self, cond: bool, text: str, errno: str) -> None:
        """Record a check; the hypercall fails with `errno` if it does not hold."""
        self.lines.append((text, bool(cond)))
        if not cond:
            raise HypercallError(errno, self.op)


# --- PTE values -------------------------------------------------------------

def pte_flags(val: int) -> int:
    """get_pte_flags: the low 12 bits and bits 52-63 folded into bits 12-23."""
    return ((val >> 40) & ~0xFFF & FLAGS_MASK) | (val & 0xFFF)


def pte_mfn(val: int) -> int:
    return (val & PADDR_MASK) >> PAGE_SHIFT


def _hex(v: int) -> str:
    return f"{v:#x}"


# --- kept words -------------------------------------------------------------

def _words(d: Domain) -> dict:
    return d.build.get("pte", {})


def read_entry(d: Domain, mfn: int, slot: int) -> int:
    """The word at `slot` of frame `mfn`: the guest's if it wrote one, else
    the builder's, else 0."""
    kept = _words(d).get(str(mfn), {})
    if str(slot) in kept:
        return kept[str(slot)]
    return bootstrap_entry(d, mfn, slot)


def _write_entry(d: Domain, mfn: int, slot: int, val: int) -> None:
    """Keep a written word (a zero over a frame that had none is not kept)."""
    frames = d.build.setdefault("pte", {})
    words = frames.setdefault(str(mfn), {})
    if val == 0 and bootstrap_entry(d, mfn, slot) == 0:
        words.pop(str(slot), None)
    else:
        words[str(slot)] = val
    if not words:
        del frames[str(mfn)]
    if not frames:
        del d.build["pte"]


def kept_words(d: Domain, mfn: int) -> dict[int, int]:
    """Every non-zero word of a frame: the builder's then the guest's."""
    out = {s: v for s in range(ENTRIES) if (v := bootstrap_entry(d, mfn, s))} \
        if _boot_table(d, mfn) else {}
    for s, v in _words(d).get(str(mfn), {}).items():
        out[int(s)] = v
    return {s: v for s, v in sorted(out.items()) if v}


# --- the bootstrap page tables (libxenguest's setup_pgtables) -------------------

def _span(level: int) -> int:
    """Bytes an entry of a level-`level` table maps (level 0: a page)."""
    return 1 << (PAGE_SHIFT + 9 * level)


def _maps(d: Domain):
    """The builder's two mappings: (vstart, vend, first pfn, [(level, pfn, count)])."""
    if d.type != "pv" or not d.build or "nr_pages" not in d.build:
        return None, []
    return _maps_of(d.build["nr_pages"], bool(d.build.get("ramdisk")))


# The PV domain builder's layout function (pyxl/toolstack/pvbuild.py's
# pv_layout), handed down by the toolstack: hv/ does not import the layers above.
_pv_layout = None


def use_layout(pv_layout) -> None:
    global _pv_layout
    if pv_layout is not _pv_layout:
        _pv_layout = pv_layout
        _maps_of.cache_clear()


@lru_cache(maxsize=8)
def _maps_of(nr_pages: int, ramdisk: bool):
    if _pv_layout is None:
        return None, ()
    layout = _pv_layout(nr_pages, ramdisk=ramdisk)
    p2m = layout.seg("phys2mach")
    mask = VADDR_MASK
    own = [t for t in layout.tables if t[1] < p2m.pfn]
    rest = [t for t in layout.tables if t[1] >= p2m.pfn]
    maps = [(VIRT_BASE & mask, layout.virt_pgtab_end & mask, 0, own)]
    if rest:
        p2m_pages = p2m.pages - sum(c for _, _, c in rest)
        maps.append((p2m.vstart & mask, (p2m.vstart & mask) + p2m_pages * 4096, p2m.pfn, rest))
    return layout, tuple(maps)


def _boot_table(d: Domain, mfn: int):
    """(level, index, mapping, maps, layout) of a bootstrap table, or None."""
    layout, maps = _maps(d)
    if layout is None:
        return None
    pfn = mm.mfn_to_pfn(d, mfn)
    if pfn is None:
        return None
    for m in maps:
        for level, first, count in m[3]:
            if first <= pfn < first + count:
                return level, pfn - first, m, maps, layout
    return None


def _table_start(m, level: int) -> int:
    return m[0] & ~(_span(level) - 1)


def bootstrap_entry(d: Domain, mfn: int, slot: int) -> int:
    """What libxenguest wrote at `slot` of bootstrap table `mfn` (0 if none)."""
    where = _boot_table(d, mfn)
    if where is None:
        return 0
    level, index, m, maps, layout = where
    va = _table_start(m, level) + index * _span(level) + slot * _span(level - 1)
    if level == 1:
        if not m[0] <= va < m[1]:
            return 0
        pfn = m[2] + ((va - m[0]) >> PAGE_SHIFT)
        target = mm.pfn_to_mfn(d, pfn)
        pt = layout.seg("page tables")
        flags = BOOT_PROT & ~_PAGE_RW if pt.pfn <= pfn < pt.pfn + pt.pages else BOOT_PROT
        return (target << PAGE_SHIFT) | flags if target is not None else 0
    for other in maps:
        for lv, first, count in other[3]:
            if lv != level - 1:
                continue
            k = (va - _table_start(other, lv)) // _span(lv)
            if 0 <= k < count:
                return (mm.pfn_to_mfn(d, first + k) << PAGE_SHIFT) | BOOT_PROT
    return 0


def baseptr(d: Domain) -> int | None:
    """The frame vCPU 0's cr3 names: the builder's L4 until the guest installs another."""
    if "cr3" in d.build:
        return d.build["cr3"]
    layout, _ = _maps(d)
    if layout is None:
        return None
    return mm.pfn_to_mfn(d, layout.seg("page tables").pfn)


# --- frames: owners, references, types ------------------------------------------

def owner(hv, mfn: int):
    """Who owns a machine frame: a Domain, None (free), or "io" (not RAM:
    the firmware's first MiB and anything past the last RAM page, dom_io)."""
    if mfn < mm.XENHEAP_START or mfn > mm.max_ram_page(hv):
        return "io"
    if mfn < mm.DOMHEAP_START:
        return hv.domains.get(mfn - mm.XENHEAP_START)
    found = mm.m2p(hv, mfn)
    return hv.domains.get(found[0]) if found else None


def _owned(hv, d: Domain, mfn: int) -> bool:
    o = owner(hv, mfn)
    return isinstance(o, Domain) and o.domid == d.domid


def _entry(d: Domain, mfn: int) -> list[int]:
    """The frame's own page_types row [mfn, 1, type, type_count, count_info,
    pinned], split out of its run (a writable page untouched gets one)."""
    for i, run in enumerate(d.page_types):
        start, count = run[0], run[1]
        if start <= mfn < start + count:
            if count == 1:
                return run
            rows = []
            if mfn > start:
                rows.append([start, mfn - start] + run[2:])
            one = [mfn, 1] + run[2:]
            rows.append(one)
            if mfn + 1 < start + count:
                rows.append([mfn + 1, start + count - mfn - 1] + run[2:])
            d.page_types[i:i + 1] = rows
            return one
    n = _boot_rw(d, mfn)
    mm.set_types(d, mfn, 1, mm.PGT_WRITABLE, n, 1 + n, False)
    return next(r for r in d.page_types if r[0] == mfn and r[1] == 1)


def page_type(d: Domain, mfn: int) -> tuple[int, int, int, bool]:
    """(type, type_count, count_info, pinned), counting the builder's
    writable mapping of a frame the guest has not touched."""
    for start, count, pgt, tc, refs, pinned in d.page_types:
        if start <= mfn < start + count:
            return pgt, tc, refs, bool(pinned)
    n = _boot_rw(d, mfn)
    return mm.PGT_WRITABLE, n, 1 + n, False


def _boot_rw(d: Domain, mfn: int) -> int:
    """1 if the bootstrap L1 entry for this frame's pfn still maps it writable."""
    layout, maps = _maps(d)
    pfn = mm.mfn_to_pfn(d, mfn) if layout is not None else None
    if pfn is None:
        return 0
    for m in maps:
        va = m[0] + ((pfn - m[2]) << PAGE_SHIFT)
        if m[2] <= pfn and va < m[1]:
            l1 = _boot_l1(d, m, maps, va)
            if l1 is None:
                return 0
            val = read_entry(d, l1, (va >> PAGE_SHIFT) & 511)
            flags = pte_flags(val)
            return int(flags & _PAGE_PRESENT and flags & _PAGE_RW and pte_mfn(val) == mfn)
    return 0


def _boot_l1(d: Domain, m, maps, va: int) -> int | None:
    for lv, first, count in m[3]:
        if lv == 1:
            k = (va - _table_start(m, 1)) // _span(1)
            if 0 <= k < count:
                return mm.pfn_to_mfn(d, first + k)
    return None


def tidy(d: Domain) -> None:
    """Drop the rows that say no more than an untouched frame would."""
    keep = []
    for r in d.page_types:
        if r[1] == 1 and r[2] == mm.PGT_WRITABLE and not r[5]:
            n = _boot_rw(d, r[0])
            if r[3] == n and r[4] == 1 + n:
                continue
        if r[1] == 1 and r[3] == 0 and r[4] <= 1 and not r[5]:
            continue
        keep.append(r)
    d.page_types = keep


def _get_page_type(hv, d: Domain, mfn: int, pgt: int, c: Checks) -> None:
    """_get_page_type: a frame with no type references takes the new type (a
    page table is validated: each present entry's reference taken); else
    its type must already be `pgt` ("Bad type": EINVAL)."""
    e = _entry(d, mfn)
    if e[3] + _builder_cr3(d, mfn) == 0:
        if pgt in LEVEL_NAMES:
            _validate(hv, d, mfn, pgt, c)
        e[2] = pgt
    else:
        c.require(e[2] == pgt, f"get_page_type({mm.PGT_NAMES[pgt]}): frame {_hex(mfn)} "
                  f"is a {mm.PGT_NAMES[e[2]]} with type count {e[3]}", "EINVAL")
    e[3] += 1


def _put_page_type(hv, d: Domain, mfn: int) -> None:
    e = _entry(d, mfn)
    e[3] -= 1
    _devalidate(hv, d, mfn)


def _devalidate(hv, d: Domain, mfn: int) -> None:
    """free_page_type: a table's last type reference gone, its entries' go too."""
    e = _entry(d, mfn)
    if e[3] + _builder_cr3(d, mfn) == 0 and e[2] in LEVEL_NAMES:
        for slot, val in kept_words(d, mfn).items():
            _put_from_entry(hv, d, e[2], val)


def _builder_cr3(d: Domain, mfn: int) -> int:
    """The type reference vCPU 0's cr3 holds on the builder's L4 (the
    builder's record counts only the pin's), until a new base pointer."""
    return int("cr3" not in d.build and mfn == baseptr(d))


def _validate(hv, d: Domain, mfn: int, level: int, c: Checks) -> None:
    """alloc_lN_table: every present entry of the new table must be allowed."""
    words = kept_words(d, mfn)
    c.ok(f"validate frame {_hex(mfn)} as {LEVEL_NAMES[level]}: {len(words)} present "
         f"entr{'y' if len(words) == 1 else 'ies'}")
    for slot, val in words.items():
        if level == 4 and ROOT_PAGETABLE_FIRST_XEN_SLOT <= slot <= ROOT_PAGETABLE_LAST_XEN_SLOT:
            continue
        if pte_flags(val) & _PAGE_PRESENT:
            _get_from_entry(hv, d, level, val, c)


def _get_page(hv, d: Domain, mfn: int, c: Checks, text: str, errno: str) -> None:
    c.require(_owned(hv, d, mfn), text, errno)
    _entry(d, mfn)[4] += 1


def _put_page(d: Domain, mfn: int) -> None:
    _entry(d, mfn)[4] -= 1


def _get_from_entry(hv, d: Domain, level: int, val: int, c: Checks) -> None:
    if level == 1:
        _get_page_from_l1e(hv, d, val, c)
    else:
        _get_page_from_lNe(hv, d, level, val, c)


def _put_from_entry(hv, d: Domain, level: int, val: int) -> None:
    """put_page_from_lNe: drop what a present entry held."""
    if not pte_flags(val) & _PAGE_PRESENT or not _owned(hv, d, pte_mfn(val)):
        return
    mfn = pte_mfn(val)
    if level > 1 or pte_flags(val) & _PAGE_RW:
        _put_page_type(hv, d, mfn)
    _put_page(d, mfn)


def _get_page_from_l1e(hv, d: Domain, val: int, c: Checks) -> None:
    """get_page_from_l1e: flags, then the frame (MMIO for a privileged
    domain only: EPERM), its owner (EBUSY), and for a writable mapping a
    writable type (EBUSY: a page-table page is never mapped writable)."""
    flags, mfn = pte_flags(val), pte_mfn(val)
    if flags & L1_DISALLOW_MASK:  # mod_l1_entry checked them already; a new table's not
        c.require(False, f"L1 flags {flags:#x} outside L1_DISALLOW_MASK", "EINVAL")
    o = owner(hv, mfn)
    if o == "io":
        c.require(d.domid == 0, f"frame {_hex(mfn)} is not RAM (dom_io): "
                  f"iomem_access_permitted for d{d.domid}", "EPERM")
        return
    c.require(isinstance(o, Domain) and o.domid == d.domid,
              f"frame {_hex(mfn)} is owned by "
              f"{'d%d' % o.domid if isinstance(o, Domain) else 'nobody (free)'}, "
              f"the mapping is d{d.domid}'s", "EBUSY")
    _entry(d, mfn)[4] += 1
    if flags & _PAGE_RW:
        e = _entry(d, mfn)
        ok = e[3] == 0 or e[2] == mm.PGT_WRITABLE
        if not ok:
            e[4] -= 1
        c.require(ok, f"get_page_type(writable_page) for a writable mapping: frame "
                  f"{_hex(mfn)} is a {mm.PGT_NAMES[e[2]]} with type count {e[3]}", "EBUSY")
        e[2] = mm.PGT_WRITABLE
        e[3] += 1
    c.ok(f"frame {_hex(mfn)} referenced ({'read-write' if flags & _PAGE_RW else 'read-only'})")


def _get_page_from_lNe(hv, d: Domain, level: int, val: int, c: Checks) -> None:
    """get_page_from_l2e/l3e/l4e: the frame must be the domain's and take
    the next level's table type (EINVAL)."""
    mfn = pte_mfn(val)
    c.require(_owned(hv, d, mfn), f"frame {_hex(mfn)} is d{d.domid}'s "
              "(get_page_and_type_from_mfn)", "EINVAL")
    _entry(d, mfn)[4] += 1
    _get_page_type(hv, d, mfn, level - 1, c)
    c.ok(f"frame {_hex(mfn)} is a valid {LEVEL_NAMES[level - 1]}")


def _disallow(level: int) -> int:
    return L1_DISALLOW_MASK if level == 1 else BASE_DISALLOW_MASK


def mod_entry(hv, d: Domain, table: int, level: int, slot: int, val: int,
              c: Checks) -> None:
    """mod_lN_entry: Xen's private L4 slots (EINVAL for L4), the new entry's
    flags (EINVAL) and what it references, then the old entry's references go."""
    if level == 4:
        c.require(not ROOT_PAGETABLE_FIRST_XEN_SLOT <= slot <= ROOT_PAGETABLE_LAST_XEN_SLOT,
                  f"L4 slot {slot} is the guest's (256-271 are Xen's)", "EINVAL")
    old = read_entry(d, table, slot)
    if pte_flags(old) & _PAGE_PRESENT and _owned(hv, d, pte_mfn(old)):
        _entry(d, pte_mfn(old))  # its counts as they are, before the word changes
    flags = pte_flags(val)
    if flags & _PAGE_PRESENT:
        c.require(not flags & _disallow(level),
                  f"L{level} flags {flags:#x} outside L{level}_DISALLOW_MASK", "EINVAL")
        _get_from_entry(hv, d, level, val, c)
    else:
        c.ok("new entry not present: nothing to reference")
    _write_entry(d, table, slot, val)
    if pte_flags(old) & _PAGE_PRESENT:
        _put_from_entry(hv, d, level, old)
        c.ok(f"old entry {_hex(old)} released")


# --- the hypercalls ---------------------------------------------------------

def snapshot(d: Domain):
    return copy.deepcopy(d.page_types), copy.deepcopy(d.build)


def restore(d: Domain, snap) -> None:
    d.page_types, d.build = snap


def _pv(d: Domain, c: Checks, errno: str, what: str) -> None:
    c.require(d.type == "pv", f"d{d.domid} is a PV guest ({what})", errno)


def mmu_update(hv, d: Domain, ptr: int, val: int, c: Checks) -> None:
    """do_mmu_update of one request."""
    _pv(d, c, "ENOSYS", "mmu_update is in the PV hypercall table only")
    cmd = ptr & 7
    if cmd in (MMU_NORMAL_PT_UPDATE, MMU_PT_UPDATE_PRESERVE_AD, MMU_PT_UPDATE_NO_TRANSLATE):
        _normal_pt_update(hv, d, ptr - cmd, val, c)
    elif cmd == MMU_MACHPHYS_UPDATE:
        mfn = ptr >> PAGE_SHIFT
        c.ok(f"MMU_MACHPHYS_UPDATE of frame {_hex(mfn)}")
        c.require(_owned(hv, d, mfn), f"frame {_hex(mfn)} is d{d.domid}'s "
                  "(get_page_from_mfn)", "EINVAL")
        m2p = d.build.setdefault("m2p", {})
        m2p[str(mfn)] = val
        c.ok(f"M2P[{_hex(mfn)}] = {_hex(val)}")
    else:
        c.require(False, f"command {cmd} (ptr & 7) is an MMU_* command", "ENOSYS")


def _normal_pt_update(hv, d: Domain, ptr: int, val: int, c: Checks) -> None:
    mfn, slot = ptr >> PAGE_SHIFT, (ptr & 0xFFF) >> 3
    c.ok(f"MMU_NORMAL_PT_UPDATE of word {slot} of frame {_hex(mfn)}")
    c.require(_owned(hv, d, mfn), f"frame {_hex(mfn)} is d{d.domid}'s RAM "
              "(get_page_from_gfn)", "EINVAL")
    pgt, tc, _, _ = page_type(d, mfn)
    if pgt in LEVEL_NAMES and tc > 0:
        c.ok(f"frame {_hex(mfn)} is a {LEVEL_NAMES[pgt]}: mod_l{pgt}_entry")
        mod_entry(hv, d, mfn, pgt, slot, val, c)
        return
    ok = tc == 0 or pgt == mm.PGT_WRITABLE
    c.require(ok, f"frame {_hex(mfn)} takes a writable type (get_page_type)", "EINVAL")
    c.ok(f"frame {_hex(mfn)} is an ordinary page: the word is written unchecked")
    e = _entry(d, mfn)
    if tc == 0:
        e[2] = mm.PGT_WRITABLE
    _write_entry(d, mfn, slot, val)


def mmuext_op(hv, d: Domain, cmd: str, mfn: int, va: int, c: Checks) -> None:
    """do_mmuext_op of one operation on the caller's own frames (DOMID_SELF)."""
    _pv(d, c, "EINVAL", "is_pv_domain(pg_owner)")
    if cmd.startswith("pin_"):
        level = MMUEXT[cmd] + 1
        _pin(hv, d, mfn, level, c)
    elif cmd == "unpin_table":
        _unpin(hv, d, mfn, c)
    elif cmd == "new_baseptr":
        _new_baseptr(hv, d, mfn, c)
    elif cmd.startswith("invlpg"):
        c.ok(f"flush {_hex(va)} from the TLB of "
             f"{'every vCPU' if cmd == 'invlpg_all' else 'this vCPU'}")
    else:
        c.ok(f"flush the TLB of {'every vCPU' if cmd == 'tlb_flush_all' else 'this vCPU'}")


def _pin(hv, d: Domain, mfn: int, level: int, c: Checks) -> None:
    c.require(_owned(hv, d, mfn), f"frame {_hex(mfn)} is d{d.domid}'s "
              "(get_page_from_gfn)", "EINVAL")
    _entry(d, mfn)[4] += 1
    _get_page_type(hv, d, mfn, level, c)
    c.ok(f"frame {_hex(mfn)} typed {LEVEL_NAMES[level]}")
    e = _entry(d, mfn)
    c.require(not e[5], f"frame {_hex(mfn)} not already pinned", "EINVAL")
    e[5] = 1


def _unpin(hv, d: Domain, mfn: int, c: Checks) -> None:
    c.require(_owned(hv, d, mfn), f"frame {_hex(mfn)} is d{d.domid}'s "
              "(get_page_from_gfn)", "EINVAL")
    e = _entry(d, mfn)
    c.require(bool(e[5]), f"frame {_hex(mfn)} is pinned", "EINVAL")
    e[5] = 0
    _put_page_type(hv, d, mfn)
    _put_page(d, mfn)
    c.ok("the pin's type and page references dropped")


def _new_baseptr(hv, d: Domain, mfn: int, c: Checks) -> None:
    old = baseptr(d)
    if mfn == old:
        c.ok(f"frame {_hex(mfn)} is already the base pointer")
        return
    c.require(_owned(hv, d, mfn), f"frame {_hex(mfn)} is d{d.domid}'s "
              "(get_page_and_type_from_mfn)", "EINVAL")
    _entry(d, mfn)[4] += 1
    _get_page_type(hv, d, mfn, 4, c)
    c.ok(f"frame {_hex(mfn)} is a valid l4_page_table: new cr3")
    builder = "cr3" not in d.build
    d.build["cr3"] = mfn
    if old is not None:
        if builder:
            _devalidate(hv, d, old)
        else:
            _put_page_type(hv, d, old)
            _put_page(d, old)
        c.ok(f"old base pointer {_hex(old)} released")


def walk(d: Domain, va: int) -> list[tuple[int, int, int, int]]:
    """guest_map_l1e's walk from the base pointer: (level, table, slot, entry)
    for each level reached, the last an L1 entry's slot or a missing table."""
    out = []
    table = baseptr(d)
    vm = va & ((1 << 48) - 1)
    for level in (4, 3, 2, 1):
        if table is None:
            break
        slot = (vm >> (PAGE_SHIFT + 9 * (level - 1))) & 511
        val = read_entry(d, table, slot)
        out.append((level, table, slot, val))
        if level == 1 or not pte_flags(val) & _PAGE_PRESENT:
            break
        table = pte_mfn(val)
    return out


def _canonical(va: int) -> bool:
    top = va >> 47
    return top == 0 or top == (1 << 17) - 1


def update_va_mapping(hv, d: Domain, va: int, val: int, flags: int, c: Checks) -> None:
    """__do_update_va_mapping: a canonical address, an L1 table mapping it
    (EINVAL), mod_l1_entry, then the flush `flags` asks for (EINVAL if bad)."""
    _pv(d, c, "ENOSYS", "update_va_mapping is in the PV hypercall table only")
    c.require(_canonical(va), f"{_hex(va)} is a canonical address", "EINVAL")
    steps = walk(d, va)
    for level, table, slot, entry in steps[:-1]:
        c.ok(f"L{level} {_hex(table)}[{slot}] = {_hex(entry)}")
    found = bool(steps) and steps[-1][0] == 1
    last = steps[-1] if steps else None
    why = f": L{last[0]} {_hex(last[1])}[{last[2]}] not present" if last and not found else ""
    c.require(found, f"an L1 table maps {_hex(va)} (guest_map_l1e{why})", "EINVAL")
    _, l1, slot, _ = last
    pgt, tc, _, _ = page_type(d, l1)
    c.require(pgt == mm.PGT_L1 and tc > 0, f"frame {_hex(l1)} is a validated "
              "l1_page_table (page_lock)", "EINVAL")
    c.ok(f"mod_l1_entry of word {slot} of L1 {_hex(l1)}")
    mod_entry(hv, d, l1, 1, slot, val, c)
    kind = flags & UVMF_FLUSHTYPE_MASK
    c.require(kind != UVMF_FLUSHTYPE_MASK and flags & ~7 == 0,
              f"flags {flags:#x}: a flush type and UVMF_LOCAL/UVMF_ALL", "EINVAL")
    if kind:
        c.ok(("flush the TLB" if kind == UVMF_TLB_FLUSH else f"invlpg {_hex(va)}")
             + (" on every vCPU" if flags & UVMF_ALL else " on this vCPU"))
