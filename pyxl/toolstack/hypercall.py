"""`pyxl hypercall`: one hypercall issued as a guest's kernel would issue it.

The caller is the guest (current->domain is the domain named), so it reaches
only what a domU reaches. The arguments come parsed from the CLI; each call
goes to the hypervisor's method of that name and answers what Xen checked,
in order, and its return value.
"""

from __future__ import annotations

from pyxl.errors import PyxlError
from pyxl.toolstack.ctx import Ctx, find_domain

# Operations that only read: their command does not write the host.
READ_ONLY = {("memory_op", "maximum_ram_page"), ("memory_op", "current_reservation"),
             ("grant_table_op", "query_size"), ("event_channel_op", "status"),
             ("vcpu_op", "is_up"), ("vcpu_op", "get_runstate_info")}


DOMID_SELF = 0x7FF0

def issue(ctx: Ctx, qualifier: str, op: str, sub: str | None, args: dict) -> dict:
    """Run the call as the domain `qualifier`; PyxlError for no such domain."""
    domid = find_domain(ctx, qualifier)
    d = ctx.hv.domains.get(domid)
    if d is None:
        raise PyxlError(f"{qualifier} is an invalid domain identifier (rc=-6)")
    from pyxl.hv import mmu
    from pyxl.toolstack import pvbuild

    mmu.use_layout(pvbuild.pv_layout)
    outcome = _dispatch(ctx.hv, domid, op, sub, args)
    return {"domid": domid, "name": d.name, "op": op, "sub": sub, "args": args,
            "checks": outcome.checks, "rc": outcome.rc, "value": outcome.value}


def _dispatch(hv, domid: int, op: str, sub: str | None, a: dict):
    if op == "mmu_update":
        return hv.mmu_update(domid, a["ptr"], a["val"])
    if op == "mmuext_op":
        return hv.mmuext_op(domid, sub, a.get("mfn", 0), a.get("linear_addr", 0))
    if op == "update_va_mapping":
        return hv.update_va_mapping(domid, a["va"], a["val"], a.get("flags", 0))
    if op == "memory_op":
        return hv.memory_op(domid, sub, **a)
    if op == "sched_op":
        return hv.sched_op(domid, sub, **a)
    if op == "vcpu_op":
        return hv.vcpu_op(domid, sub, a["vcpu"])
    if op == "event_channel_op":
        return _evtchn(hv, domid, sub, a)
    return _gnttab(hv, domid, sub, a)


def _evtchn(hv, domid: int, sub: str, a: dict):
    """EVTCHNOP_*, through pyxl/hv/evtchn.py."""
    from pyxl.hv import guestcall

    # DOMID_SELF as the remote end is the caller (evtchn_alloc_unbound,
    # evtchn_bind_interdomain)
    remote = domid if a.get("remote_dom") == DOMID_SELF else a.get("remote_dom")

    def run(d, c):
        if sub == "alloc_unbound":
            port = hv.evtchn_op_alloc_unbound(domid, a["dom"], a["remote_dom"])
            c.ok(f"port {port} allocated, unbound, for d{remote} to bind")
            return {"port": port}
        if sub == "bind_interdomain":
            port = hv.evtchn_op_bind_interdomain(domid, a["remote_dom"], a["remote_port"])
            c.ok(f"d{remote} port {a['remote_port']} is unbound and offered to "
                 f"d{domid}: bound to local port {port}, set pending")
            return {"port": port}
        if sub == "status":
            info = hv.evtchn_op_status(domid, a["dom"], a["port"])
            c.ok(f"port {a['port']} is {info['status']}")
            return {"status": info}
        port = a["port"]
        getattr(hv, f"evtchn_op_{sub}")(domid, port)
        c.ok({"send": f"port {port} notified", "close": f"port {port} closed",
              "unmask": f"port {port} unmasked"}[sub])
        return {}

    return guestcall.call(hv, domid, f"EVTCHNOP_{sub}", _explained(run, sub), **a)


_EVTCHN_WHY = {
    "alloc_unbound": "a free port in the domain, which the caller may act on",
    "bind_interdomain": "the remote port exists, is unbound and offered to the caller",
    "send": "the port is the caller's and interdomain, IPI or unbound",
    "close": "the port is the caller's and in use",
    "status": "the domain exists, the port is within its buckets, the caller may ask",
    "unmask": "the port is within the caller's buckets",
}


def _explained(run, sub: str):
    """Evtchn checks are made inside pyxl/hv/evtchn.py: name them on failure."""
    from pyxl.hv.errors import HypercallError

    def wrapped(d, c):
        try:
            return run(d, c)
        except HypercallError as e:
            c.require(False, _EVTCHN_WHY.get(sub, sub), e.errno)
    return wrapped


def _gnttab(hv, domid: int, sub: str, a: dict):
    """GNTTABOP_*, through pyxl/hv/gnttab.py: each answers a GNTST_* status."""
    from pyxl.hv import gnttab, guestcall

    def run(d, c):
        if sub == "setup_table":
            st = hv.gnttab_op_setup_table(domid, a["dom"], a["nr_frames"])
            value = {}
        elif sub == "query_size":
            nr, mx, st = hv.gnttab_op_query_size(domid, a["dom"])
            value = {"nr_frames": nr, "max_nr_frames": mx}
        elif sub == "map_grant_ref":
            st, handle = hv.gnttab_op_map_grant_ref(domid, a["dom"], a["ref"], a["flags"])
            value = {"handle": handle} if handle is not None else {}
        elif sub == "unmap_grant_ref":
            st = hv.gnttab_op_unmap_grant_ref(domid, a["handle"])
            value = {}
        else:
            src = (a["source_ref"], a["source_dom"], a.get("source_offset", 0))
            dst = (a["dest_ref"], a["dest_dom"], a.get("dest_offset", 0))
            st = hv.gnttab_op_copy(domid, src, dst, a["len"], a.get("flags", 0))
            value = {}
        c.ok(f"status {gnttab.GNTST_NAMES.get(st, st)} ({st})")
        return dict(value, status=gnttab.GNTST_NAMES.get(st, str(st)))

    return guestcall.call(hv, domid, f"GNTTABOP_{sub}", run, **a)
