"""Grant tables, version 1 (xen/common/grant_table.c, public/grant_table.h).

A domain's table lives in `Domain.gnttab`, with only what is in use:
`refs` (ref as text -> [flags, domid, frame], the shared grant_entry_v1 the
guest fills), `act` (ref -> [mapping domid, pin], Xen's active entries while
mapped), `maps` (handle -> [granting domid, ref, GNTMAP flags], the domain's
maptrack as a mapper), `nr` (frames in use, when not the initial 1) and
`max` (max_grant_frames, when not Xen's default 64), `maptrack_max`
(max_maptrack_frames, when not Xen's default 1024). A domain that grants
and maps nothing stores `{}`.

Map, unmap and copy answer a GNTST_* status, as the hypercall's elements
do; only a bad caller raises (HypercallError), as the hypercall itself would.
"""

from __future__ import annotations

from pyxl.hv.errors import HypercallError
from pyxl.hv.model import DOMID_FIRST_RESERVED, Domain

DOMID_SELF = DOMID_FIRST_RESERVED

GTF_invalid, GTF_permit_access, GTF_accept_transfer, GTF_transitive = 0, 1, 2, 3
GTF_type_mask = 3
GTF_readonly, GTF_reading, GTF_writing = 1 << 2, 1 << 3, 1 << 4
GTF_sub_page = 1 << 8

GNTMAP_device_map, GNTMAP_host_map, GNTMAP_readonly = 1 << 0, 1 << 1, 1 << 2
GNTMAP_application_map, GNTMAP_contains_pte = 1 << 3, 1 << 4
GNTCOPY_source_gref, GNTCOPY_dest_gref = 1, 2

GNTST_okay = 0
GNTST_general_error = -1
GNTST_bad_domain = -2
GNTST_bad_gntref = -3
GNTST_bad_handle = -4
GNTST_permission_denied = -8
GNTST_bad_copy_arg = -10
GNTST_no_space = -13
GNTST_NAMES = {0: "GNTST_okay", -1: "GNTST_general_error", -2: "GNTST_bad_domain",
               -3: "GNTST_bad_gntref", -4: "GNTST_bad_handle",
               -8: "GNTST_permission_denied", -10: "GNTST_bad_copy_arg",
               -13: "GNTST_no_space"}

ENTRIES_PER_FRAME = 512  # 8-byte grant_entry_v1 in a 4 KiB frame
INITIAL_NR_GRANT_FRAMES = 1
DEFAULT_MAX_GRANT_FRAMES = 64  # Xen's gnttab_max_frames
DEFAULT_MAX_MAPTRACK_FRAMES = 1024
MAPTRACK_PER_FRAME = 512  # 8-byte struct grant_mapping
# Refs 0..7 are GNTTAB_NR_RESERVED_ENTRIES: 0 the console's ring, 1 xenstore's.
GNTTAB_NR_RESERVED_ENTRIES = 8
GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE = 0, 1
PAGE_SIZE = 4096

# Pin counts (active_grant_entry.pin): four 8-bit counters.
GNTPIN_hstw_inc, GNTPIN_hstr_inc = 1 << 0, 1 << 8
GNTPIN_devw_inc, GNTPIN_devr_inc = 1 << 16, 1 << 24
GNTPIN_write_mask = 0xFF | 0xFF << 16


def nr_frames(d: Domain) -> int:
    return d.gnttab.get("nr", INITIAL_NR_GRANT_FRAMES)


def max_frames(d: Domain) -> int:
    return d.gnttab.get("max", DEFAULT_MAX_GRANT_FRAMES)


def nr_entries(d: Domain) -> int:
    return nr_frames(d) * ENTRIES_PER_FRAME


def _part(d: Domain, name: str) -> dict:
    return d.gnttab.setdefault(name, {})


def _tidy(d: Domain) -> None:
    """Drop the empty parts, so that an idle table stores nothing."""
    for name in ("refs", "act", "maps"):
        if name in d.gnttab and not d.gnttab[name]:
            del d.gnttab[name]


def entries(d: Domain, part: str = "refs") -> list[tuple[int, list]]:
    return sorted((int(k), v) for k, v in d.gnttab.get(part, {}).items())


def set_max_frames(d: Domain, frames: int | None) -> None:
    """createdomain's max_grant_frames (xl.cfg, else xl.conf, else Xen's 64)."""
    if frames is None or frames < 0 or frames == DEFAULT_MAX_GRANT_FRAMES:
        d.gnttab.pop("max", None)
    else:
        d.gnttab["max"] = frames


# --- the guest's side: filling its own shared entries ---

def grant_access(d: Domain, remote: int, frame: int, readonly: bool = False,
                 ref: int | None = None) -> int:
    """gnttab_grant_foreign_access: take the lowest free ref past the reserved
    ones (growing the table by setup_table while it may), write domid and frame,
    then flags. ENOSPC when the table is full at max_grant_frames."""
    refs = _part(d, "refs")
    if ref is None:
        ref = GNTTAB_NR_RESERVED_ENTRIES
        while str(ref) in refs:
            ref += 1
    while ref >= nr_entries(d):
        if nr_frames(d) >= max_frames(d):
            _tidy(d)
            raise HypercallError("ENOSPC", "gnttab_grant_foreign_access")
        d.gnttab["nr"] = nr_frames(d) + 1
    flags = GTF_permit_access | (GTF_readonly if readonly else 0)
    refs[str(ref)] = [flags, remote, frame]
    return ref


def end_access(d: Domain, ref: int) -> bool:
    """gnttab_end_foreign_access_ref: revoke an entry nobody maps (flags to 0);
    False, and nothing changed, while it is in use (reading or writing)."""
    e = d.gnttab.get("refs", {}).get(str(ref))
    if e is None:
        return True
    if e[0] & (GTF_reading | GTF_writing):
        return False
    del d.gnttab["refs"][str(ref)]
    _tidy(d)
    return True


# --- GNTTABOP_* ---

def setup_table(hv, caller: int, dom: int, frames: int) -> int:
    """GNTTABOP_setup_table: grow the table to `frames` (it never shrinks);
    general_error past max_grant_frames."""
    domid = caller if dom == DOMID_SELF else dom
    d = hv.domains.get(domid)
    status = GNTST_okay
    if d is None:
        status = GNTST_bad_domain
    elif domid != caller and caller != 0:
        status = GNTST_permission_denied
    elif frames > max_frames(d):
        status = GNTST_general_error
    elif frames > nr_frames(d):
        d.gnttab["nr"] = frames
    hv.trace("GNTTABOP_setup_table", dom=domid, nr_frames=frames, status=status)
    return status


def query_size(hv, caller: int, dom: int) -> tuple[int, int, int]:
    """GNTTABOP_query_size: (nr_frames, max_nr_frames, status)."""
    domid = caller if dom == DOMID_SELF else dom
    d = hv.domains.get(domid)
    if d is None:
        result = (0, 0, GNTST_bad_domain)
    elif domid != caller and caller != 0:
        result = (0, 0, GNTST_permission_denied)
    else:
        result = (nr_frames(d), max_frames(d), GNTST_okay)
    hv.trace("GNTTABOP_query_size", dom=domid, nr_frames=result[0],
             max_nr_frames=result[1], status=result[2])
    return result


def map_grant_ref(hv, caller: int, dom: int, ref: int,
                  flags: int = GNTMAP_host_map) -> tuple[int, int | None]:
    """GNTTABOP_map_grant_ref by `caller` of `dom`'s `ref`: (status, handle)."""
    status, handle = _map(hv, caller, dom, ref, flags)
    hv.trace("GNTTABOP_map_grant_ref", domid=caller, dom=dom, ref=ref, flags=flags,
             status=status, handle=handle)
    return status, handle


def _pin_incr(flags: int) -> int:
    ro = flags & GNTMAP_readonly
    incr = 0
    if flags & GNTMAP_device_map:
        incr += GNTPIN_devr_inc if ro else GNTPIN_devw_inc
    if flags & GNTMAP_host_map:
        incr += GNTPIN_hstr_inc if ro else GNTPIN_hstw_inc
    return incr


def _map(hv, caller: int, dom: int, ref: int, flags: int) -> tuple[int, int | None]:
    incr = _pin_incr(flags)
    if not incr:
        return GNTST_bad_gntref, None
    ld = hv.domain(caller)
    if ld.type != "pv" and flags & (GNTMAP_device_map | GNTMAP_application_map
                                    | GNTMAP_contains_pte):
        return GNTST_general_error, None
    rd = hv.domains.get(dom)
    if rd is None:
        return GNTST_bad_domain, None
    handle = _free_handle(ld)
    if handle is None:
        return GNTST_no_space, None
    if not 0 <= ref < nr_entries(rd):
        return GNTST_bad_gntref, None
    act = rd.gnttab.get("act", {}).get(str(ref))
    if act is not None and (act[0] != caller or act[1] & (incr << 7)):
        return GNTST_general_error, None  # pinned by another, or a counter would overflow
    shared = rd.gnttab.get("refs", {}).get(str(ref))
    readonly = bool(flags & GNTMAP_readonly)
    if act is None and (shared is None or (shared[0] & (GTF_type_mask | GTF_sub_page))
                        != GTF_permit_access or shared[1] != caller):
        return GNTST_general_error, None  # not granted to the mapper
    if not readonly and shared[0] & GTF_readonly:
        return GNTST_general_error, None  # a write map of a read-only grant
    shared[0] |= GTF_reading | (0 if readonly else GTF_writing)
    if act is None:
        act = _part(rd, "act")[str(ref)] = [caller, 0]
    act[1] += incr
    _part(ld, "maps")[str(handle)] = [dom, ref, flags]
    return GNTST_okay, handle


def max_maptrack_frames(d: Domain) -> int:
    return d.gnttab.get("maptrack_max", DEFAULT_MAX_MAPTRACK_FRAMES)


def set_max_maptrack_frames(d: Domain, frames: int | None) -> None:
    """createdomain's max_maptrack_frames (xl.cfg, else xl.conf, else Xen's
    1024): how many grants the domain may hold mapped at once."""
    if frames is None or frames < 0 or frames == DEFAULT_MAX_MAPTRACK_FRAMES:
        d.gnttab.pop("maptrack_max", None)
    else:
        d.gnttab["maptrack_max"] = frames


def _free_handle(ld: Domain) -> int | None:
    """get_maptrack_handle: None once max_maptrack_frames are full."""
    maps = ld.gnttab.get("maps", {})
    for handle in range(max_maptrack_frames(ld) * MAPTRACK_PER_FRAME):
        if str(handle) not in maps:
            return handle
    return None


def unmap_grant_ref(hv, caller: int, handle: int) -> int:
    """GNTTABOP_unmap_grant_ref: drop one mapping; the granter's reading and
    writing flags clear when the last mapping of their kind goes."""
    ld = hv.domain(caller)
    m = ld.gnttab.get("maps", {}).get(str(handle))
    status = GNTST_bad_handle if m is None else GNTST_okay
    if m is not None:
        del ld.gnttab["maps"][str(handle)]
        _tidy(ld)
        rd = hv.domains.get(m[0])
        if rd is not None:
            _unpin(rd, m[1], m[2])
    hv.trace("GNTTABOP_unmap_grant_ref", domid=caller, handle=handle, status=status)
    return status


def _unpin(rd: Domain, ref: int, flags: int) -> None:
    act = rd.gnttab.get("act", {}).get(str(ref))
    if act is None:
        return
    act[1] -= _pin_incr(flags)
    shared = rd.gnttab.get("refs", {}).get(str(ref))
    if shared is not None:
        if not act[1] & GNTPIN_write_mask:
            shared[0] &= ~GTF_writing
        if not act[1]:
            shared[0] &= ~GTF_reading
    if not act[1]:
        del rd.gnttab["act"][str(ref)]
        _tidy(rd)


def copy(hv, caller: int, source: tuple[int, int, int], dest: tuple[int, int, int],
         length: int, flags: int, count: int = 1) -> int:
    """GNTTABOP_copy: `source`/`dest` are (ref or frame, domid, offset), a
    ref where GNTCOPY_source_gref/dest_gref says so. A frame side must be
    the caller's own (DOMID_SELF); a ref side must be granted to the caller,
    writable for the destination; neither may cross its page. `count` alike
    ops in one hypercall (a backend's batch) share one check and one trace."""
    status = _copy(hv, caller, source, dest, length, flags)
    more = {"count": count} if count != 1 else {}
    hv.trace("GNTTABOP_copy", domid=caller, source=list(source), dest=list(dest),
             len=length, flags=flags, status=status, **more)
    return status


def _copy(hv, caller, source, dest, length, flags) -> int:
    sides = ((source, bool(flags & GNTCOPY_source_gref), True),
             (dest, bool(flags & GNTCOPY_dest_gref), False))
    for (_, domid, _), is_gref, _ in sides:
        if domid != DOMID_SELF and not is_gref:
            return GNTST_permission_denied
        if domid != DOMID_SELF and domid not in hv.domains:
            return GNTST_bad_domain
    for (_, _, offset), _, _ in sides:
        if offset + length > PAGE_SIZE:
            return GNTST_bad_copy_arg
    for (ref, domid, _), is_gref, reading in sides:
        if not is_gref:
            continue
        rd = hv.domain(caller if domid == DOMID_SELF else domid)
        if not 0 <= ref < nr_entries(rd):
            return GNTST_bad_gntref
        shared = rd.gnttab.get("refs", {}).get(str(ref))
        if (shared is None or shared[0] & GTF_type_mask != GTF_permit_access
                or shared[1] != caller):
            return GNTST_general_error
        if not reading and shared[0] & GTF_readonly:
            return GNTST_general_error
    return GNTST_okay


def release(hv, d: Domain) -> None:
    """At destroy: unmap what the domain mapped, and drop the mappings others
    hold of its grants (their backends find the frontend gone)."""
    for handle, (dom, ref, flags) in entries(d, "maps"):
        rd = hv.domains.get(dom)
        if rd is not None:
            _unpin(rd, ref, flags)
    mappers = {act[0] for _, act in entries(d, "act")}
    for domid in sorted(mappers - {d.domid}):
        md = hv.domains.get(domid)
        if md is None:
            continue
        maps = md.gnttab.get("maps", {})
        for handle in [h for h, m in maps.items() if m[0] == d.domid]:
            del maps[handle]
        _tidy(md)
    d.gnttab.clear()


def dump(d: Domain, maptrack_frames: int) -> list[str]:
    """gnttab_usage_print: what `debug-keys g` prints for one domain."""
    lines = ["      -------- active --------       -------- shared --------",
             "[ref] localdom mfn      pin          localdom gmfn     flags",
             f"grant-table for remote d{d.domid} (v1)",
             f"  {nr_frames(d)} frames ({max_frames(d)} max), {maptrack_frames} maptrack "
             f"frames ({max_maptrack_frames(d)} max)"]
    act = dict(entries(d, "act"))
    refs = d.gnttab.get("refs", {})
    for ref in sorted(act):
        flags, domid, frame = refs.get(str(ref), [0, 0, 0])
        mapper, pin = act[ref]
        lines.append(f"[0x{ref:03x}]  {mapper:5d} 0x{frame:05x} 0x{pin:08x}      "
                     f"{domid:5d} 0x{frame:06x} 0x{flags:02x}")
    if not act:
        lines.append("no active grant table entries")
    return lines


def maptrack_frames(d: Domain) -> int:
    """Maptrack frames a mapper holds: grown a frame at a time as handles are taken."""
    maps = d.gnttab.get("maps", {})
    if not maps:
        return 0
    return max(int(h) for h in maps) // MAPTRACK_PER_FRAME + 1
