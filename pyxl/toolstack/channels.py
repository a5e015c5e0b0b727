"""Event channels and grant tables as libxl and Domain-0's daemons use them.

At build, libxl allocates each domain's xenstore and console event channels
(libxl__build_pre: xc_evtchn_alloc_unbound to the store and console
domains) and libxenguest seeds grant refs 0 and 1 with the console and
xenstore rings; when the domain is introduced, xenstored and xenconsoled
bind their ends and map those rings by grant. When a domain dies, they close
their ends. The queries behind `pyxl evtchn-list`, `grant-list` and
`xl debug-keys` are here too.
"""

from __future__ import annotations

from pyxl.errors import PyxlError
from pyxl.hv.errors import HypercallError
from pyxl.toolstack.ctx import Ctx, find_domain

# Where xenstored and xenconsoled run.
STORE_DOMID = CONSOLE_DOMID = 0


NO_PORT = 0xFFFFFFFF  # xc_evtchn_alloc_unbound's -1, as libxl's uint32_t port keeps it


def build_pre(ctx: Ctx, domid: int) -> tuple[int, int]:
    """libxl__build_pre's event channels: (store_port, console_port). libxl
    does not check the allocations: one that fails (a max_event_channels
    too small for them) leaves -1 as the port, and the daemons cannot bind it."""
    hv = ctx.hv
    ports = []
    for daemon in (STORE_DOMID, CONSOLE_DOMID):
        try:
            ports.append(hv.evtchn_op_alloc_unbound(ctx.caller, domid, daemon))
        except HypercallError:
            ports.append(NO_PORT)
    return ports[0], ports[1]


def seed_grants(ctx: Ctx, domid: int, console_frame: int, store_frame: int) -> None:
    """xc_dom_gnttab_seed: refs 0 and 1 grant the console and xenstore rings
    to the domains whose daemons serve them."""
    from pyxl.hv import gnttab

    d = ctx.hv.domain(domid)
    gnttab.grant_access(d, CONSOLE_DOMID, console_frame, ref=gnttab.GNTTAB_RESERVED_CONSOLE)
    gnttab.grant_access(d, STORE_DOMID, store_frame, ref=gnttab.GNTTAB_RESERVED_XENSTORE)


def introduce(ctx: Ctx, domid: int, store_port: int, console_port: int) -> None:
    """xenstored's and xenconsoled's side of a new domain: bind an
    interdomain channel to each port and map each ring by its grant. Their
    kernel takes the events the binds raise at once (Domain-0 is running)."""
    from pyxl.hv import evtchn, gnttab

    hv = ctx.hv
    for daemon, port, ref in ((STORE_DOMID, store_port, gnttab.GNTTAB_RESERVED_XENSTORE),
                              (CONSOLE_DOMID, console_port, gnttab.GNTTAB_RESERVED_CONSOLE)):
        try:
            hv.evtchn_op_bind_interdomain(daemon, domid, port)
        except HypercallError:   # libxl ignores xs_introduce_domain's failure
            continue
        hv.gnttab_op_map_grant_ref(daemon, domid, ref, gnttab.GNTMAP_host_map)
    dom0 = hv.domain(STORE_DOMID)
    for vcpu in range(len(dom0.vcpus)):
        if evtchn.vcpu_bits(dom0, vcpu)[1]:
            evtchn.upcall(dom0, vcpu)


def release(ctx: Ctx, domid: int) -> None:
    """xenstored and xenconsoled on @releaseDomain: close the ports the dead
    domain left unbound in Domain-0 (Xen made them so when it closed its end)."""
    from pyxl.hv import evtchn

    hv = ctx.hv
    for daemon in sorted({STORE_DOMID, CONSOLE_DOMID}):
        d = hv.domains.get(daemon)
        for port, e in evtchn.ports(d) if d is not None else []:
            if e[0] == evtchn.UNBOUND and e[2] == domid:
                hv.evtchn_op_close(daemon, port)


# --- what the commands show ---

def _domain(ctx: Ctx, qualifier: str):
    domid = find_domain(ctx, qualifier)
    d = ctx.hv.domains.get(domid)
    if d is None:
        raise PyxlError(f"Domain {domid} does not exist.")
    return d


def evtchn_list(ctx: Ctx, qualifier: str) -> dict:
    """A domain's ports in use (EVTCHNOP_status of each, with its pending and
    mask bits) and each vCPU's evtchn_pending_sel and evtchn_upcall_pending."""
    from pyxl.hv import evtchn

    d = _domain(ctx, qualifier)
    rows = [evtchn.port_status(d, port) for port, _ in evtchn.ports(d)]
    for row in rows:
        if row["status"] == evtchn.VIRQ:
            row["virq_name"] = evtchn.VIRQ_NAMES.get(row["virq"], "")
    vcpus = []
    for v in d.vcpus:
        sel, upcall = evtchn.vcpu_bits(d, v.vcpuid)
        vcpus.append({"vcpu": v.vcpuid, "evtchn_pending_sel": sel,
                      "evtchn_upcall_pending": upcall})
    return {"domid": d.domid, "name": d.name, "ports": rows, "vcpus": vcpus}


def grant_list(ctx: Ctx, qualifier: str) -> dict:
    """A domain's grant table: its size and limit, the entries it grants
    (with who maps them), and the grants of others it maps (its maptrack)."""
    from pyxl.hv import gnttab

    d = _domain(ctx, qualifier)
    act = dict(gnttab.entries(d, "act"))
    refs = []
    for ref, (flags, domid, frame) in gnttab.entries(d):
        mapper, pin = act.get(ref, (None, 0))
        refs.append({"ref": ref, "flags": flags, "flag_names": flag_names(flags),
                     "domid": domid, "frame": frame, "mapped_by": mapper, "pin": pin})
    maps = [{"handle": h, "domid": dom, "ref": ref, "flags": flags}
            for h, (dom, ref, flags) in gnttab.entries(d, "maps")]
    return {"domid": d.domid, "name": d.name, "version": 1,
            "nr_frames": gnttab.nr_frames(d), "max_frames": gnttab.max_frames(d),
            "grants": refs, "maps": maps}


def flag_names(flags: int) -> list[str]:
    """A grant entry's GTF_* flags by name."""
    from pyxl.hv import gnttab

    kind = {0: "GTF_invalid", 1: "GTF_permit_access", 2: "GTF_accept_transfer",
            3: "GTF_transitive"}[flags & gnttab.GTF_type_mask]
    names = [kind]
    for bit, name in ((gnttab.GTF_readonly, "GTF_readonly"), (gnttab.GTF_reading, "GTF_reading"),
                      (gnttab.GTF_writing, "GTF_writing"), (gnttab.GTF_sub_page, "GTF_sub_page")):
        if flags & bit:
            names.append(name)
    return names


def send_debug_keys(ctx: Ctx, keys: str) -> None:
    """libxl_send_debug_keys: Xen's handlers print into `xl dmesg`."""
    ctx.require_privileged()
    try:
        ctx.hv.sysctl_debug_keys(keys)
    except HypercallError:
        raise PyxlError(f"cannot send debug keys: {keys}") from None
