"""What `pyxl shared-info` and `pyxl start-info` show: a guest's two pages.

Each is computed from the simulation when asked (nothing is stored): the
shared_info from the domain's vCPUs, event channels, P2M and the host's
clock and TSC; the start_info from the domain builder's layout
(pyxl/toolstack/pvbuild.py) and the P2M. A dump returns the nested C
fields, the page's 4096 bytes and the field table behind them.

Time: Xen refreshes a vCPU's vcpu_time_info when it calibrates its clocks,
once a second of system time (and when the vCPU was created); the dump's
TSC is the host's TSC at the simulated now, as the first TSC value at which
a guest's sum from that vcpu_time_info reaches now.
"""

from __future__ import annotations

from pyxl.errors import PyxlError
from pyxl.toolstack.ctx import Ctx, find_domain

SECOND_NS = 1_000_000_000


def _domain(ctx, qualifier: str):
    domid = find_domain(ctx, qualifier)
    d = ctx.hv.domains.get(domid)
    if d is None:
        raise PyxlError(f"{qualifier} is an invalid domain identifier (rc=-6)")
    return ctx, d


def _booted(ctx, d) -> bool:
    """Whether the guest kernel has started (it publishes its P2M then)."""
    if d.domid == 0:
        return True
    return ctx.host.guest(d.domid).phase != "created"


def _time_info(d, v, now: int, cpu_khz: int) -> dict:
    """A vCPU's vcpu_time_info as of Xen's last update of it before `now`."""
    from pyxl.hv import pages

    zero = {"version": 0, "pad0": 0, "tsc_timestamp": 0, "system_time": 0,
            "tsc_to_system_mul": 0, "tsc_shift": 0, "flags": 0}
    if v is None or not v.online:
        return zero
    stamp = max(now - now % SECOND_NS, d.created_ns)
    updates = 1 + stamp // SECOND_NS - d.created_ns // SECOND_NS
    mul, shift = pages.time_scale(cpu_khz)
    return {"version": 2 * updates, "pad0": 0, "tsc_timestamp": pages.tsc_at(stamp, cpu_khz),
            "system_time": stamp, "tsc_to_system_mul": mul, "tsc_shift": shift, "flags": 0}


def _evtchn_words(d) -> tuple[list[int], list[int]]:
    from pyxl.hv import evtchn

    pending, mask = [0] * 64, [0] * 64
    for port, e in evtchn.ports(d):
        bit = 1 << (port % 64)
        if e[4] & evtchn.PENDING:
            pending[port // 64] |= bit
        if e[4] & evtchn.MASKED:
            mask[port // 64] |= bit
    return pending, mask


def _arch(ctx, d) -> dict:
    """arch_shared_info: a booted PV kernel publishes where its P2M is (the
    tree's top frame: the first page after the builder's, where its early
    allocator starts); nmi_reason and the linear P2M fields stay 0."""
    from pyxl.hv import mm
    from pyxl.toolstack import pvbuild

    arch = {"max_pfn": 0, "pfn_to_mfn_frame_list_list": 0, "nmi_reason": 0,
            "p2m_cr3": 0, "p2m_vaddr": 0, "p2m_generation": 0}
    layout = pvbuild.layout_of(d)
    if layout is not None and _booted(ctx, d):
        arch["max_pfn"] = mm.nr_pages(d)
        arch["pfn_to_mfn_frame_list_list"] = mm.pfn_to_mfn(d, layout.pfn_alloc_end) or 0
    return arch


def shared_info(ctx: Ctx, qualifier: str, vcpu: int | None = None) -> dict:
    """The domain's shared_info page, decoded and packed; raises PyxlError
    for no such domain or vCPU."""
    from pyxl.hv import evtchn, mm, pages

    ctx, d = _domain(ctx, qualifier)
    if vcpu is not None and not 0 <= vcpu < min(len(d.vcpus), pages.XEN_LEGACY_MAX_VCPUS):
        raise PyxlError(f"vcpu {vcpu} of {d.name} has no vcpu_info in shared_info "
                        f"(the domain has {len(d.vcpus)} vcpus, shared_info holds "
                        f"{pages.XEN_LEGACY_MAX_VCPUS})" if 0 <= vcpu < len(d.vcpus)
                        else f"{d.name} has no vcpu {vcpu}")
    host = ctx.host
    now, khz, booted = host.now_ns, host.physinfo.cpu_khz, _booted(ctx, d)
    vcpus = []
    for i in range(pages.XEN_LEGACY_MAX_VCPUS):
        v = d.vcpus[i] if i < len(d.vcpus) else None
        sel, up = evtchn.vcpu_bits(d, i) if v is not None else (0, 0)
        vcpus.append({"evtchn_upcall_pending": up,
                      "evtchn_upcall_mask": 0 if v is not None and v.online and booted else 1,
                      "evtchn_pending_sel": sel, "arch": {"cr2": 0, "pad": 0},
                      "time": _time_info(d, v, now, khz)})
    pending, mask = _evtchn_words(d)
    epoch = host.epoch
    fields = {"vcpu_info": vcpus, "evtchn_pending": pending, "evtchn_mask": mask,
              "wc_version": 2, "wc_sec": epoch & 0xFFFFFFFF, "wc_nsec": 0,
              "wc_sec_hi": epoch >> 32, "arch": _arch(ctx, d)}
    tsc = pages.tsc_at(now, khz)
    checks = []
    for i, v in enumerate(d.vcpus[:pages.XEN_LEGACY_MAX_VCPUS]):
        t = vcpus[i]["time"]
        if not v.online:
            continue
        tsc = pages.tsc_reading(now, t["tsc_timestamp"], t["system_time"], khz)
        system = pages.guest_system_time(t, tsc)
        checks.append({"vcpu": i, "tsc": tsc, "system_time": system,
                       "wallclock_ns": pages.guest_wallclock_ns(fields, system)})
    return {"domid": d.domid, "name": d.name, "type": d.type,
            "mfn": mm.shared_info_mfn(d.domid), "now_ns": now,
            "wallclock_ns": epoch * SECOND_NS + now, "tsc": tsc, "vcpus": len(d.vcpus),
            "vcpu": vcpu, "fields": fields, "guest_time": checks,
            "raw": pages.pack(fields, pages.shared_info_fields()),
            "layout": pages.shared_info_fields()}


def start_info(ctx: Ctx, qualifier: str) -> dict:
    """The PV domain's start_info page as the builder wrote it; PyxlError
    for no such domain or one that has none (HVM, PVH, Domain-0)."""
    from pyxl.hv import mm, pages
    from pyxl.toolstack import pvbuild

    ctx, d = _domain(ctx, qualifier)
    layout = pvbuild.layout_of(d)
    if layout is None:
        kind = {"hvm": "an HVM", "pvh": "a PVH"}.get(d.type)
        why = f"is {kind} guest" if kind else "was not built by the PV domain builder"
        raise PyxlError(f"{d.name} {why}: it has no start_info page")
    p2m = layout.seg("phys2mach")
    ramdisk = layout.seg("ramdisk") if layout.ramdisk else None
    cmdline = ctx.host.guest(d.domid).info.cmdline if ctx.host.guest(d.domid).info else ""
    fields = {
        "magic": pvbuild.GUEST_TYPE, "nr_pages": layout.nr_pages,
        "shared_info": mm.shared_info_mfn(d.domid) << mm.PAGE_SHIFT, "flags": layout.flags,
        "store_mfn": mm.pfn_to_mfn(d, layout.xenstore_pfn) or 0,
        "store_evtchn": d.build.get("store_evtchn", 0),
        "console": {"domU": {"mfn": mm.pfn_to_mfn(d, layout.console_pfn) or 0,
                             "evtchn": d.build.get("console_evtchn", 0)}},
        "pt_base": layout.seg("page tables").vstart, "nr_pt_frames": layout.nr_pt_frames,
        "mfn_list": p2m.vstart,
        "mod_start": ramdisk.pfn if ramdisk else 0,
        "mod_len": ramdisk.pages * pvbuild.PAGE_SIZE if ramdisk else 0,
        "cmd_line": _cmd_line(cmdline),
        "first_p2m_pfn": p2m.pfn if p2m.vstart == pvbuild.INIT_P2M else 0,
        "nr_p2m_frames": p2m.pages if p2m.vstart == pvbuild.INIT_P2M else 0,
    }
    return {"domid": d.domid, "name": d.name, "type": d.type,
            "pfn": layout.start_info_pfn, "mfn": mm.pfn_to_mfn(d, layout.start_info_pfn) or 0,
            "fields": fields, "raw": pages.pack(fields, pages.start_info_fields()),
            "layout": pages.start_info_fields(),
            "segments": [{"name": s.name, "pfn": s.pfn, "pages": s.pages, "vstart": s.vstart}
                         for s in layout.segments],
            "p2m": [list(run) for run in d.p2m],
            "m2p": [[mm.m2p(ctx.hv, mfn), mm.m2p(ctx.hv, mfn + count - 1)]
                    for _, mfn, count in d.p2m],
            "page_types": [{"mfn": m, "count": c, "type": mm.PGT_NAMES[t], "type_count": tc,
                            "count_info": refs, "pinned": bool(pin)}
                           for m, c, t, tc, refs, pin in d.page_types]}


def _cmd_line(text: str) -> str:
    """cmd_line as the builder copies it: at most 1023 bytes and a NUL."""
    raw = text.encode("utf-8", "surrogateescape")[:1023]
    return raw.decode("utf-8", "surrogateescape")
