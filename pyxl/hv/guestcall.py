"""One hypercall made by a guest's kernel, as `pyxl hypercall` issues it.

`call` runs an operation as the calling domain (current->domain), keeps the
checks Xen made in order, and answers an `Outcome`: the hypercall's return
value (0, a count, or -errno) and what it produced. A refused call leaves
the domain as it was. The page-table operations are in pyxl/hv/mmu.py;
the memory, scheduler and vCPU operations of a guest are here.
"""

from __future__ import annotations

from pyxl.hv.errors import HypercallError
from pyxl.hv.mmu import Checks

DOMID_SELF = 0x7FF0
SHUTDOWN_REASONS = {"poweroff": 0, "reboot": 1, "suspend": 2, "crash": 3, "watchdog": 4,
                    "soft_reset": 5}
RUNSTATES = {"running": 0, "runnable": 1, "blocked": 2, "offline": 3}
MAX_POLL_PORTS = 128


class Outcome:
    """A hypercall's result: `rc` an int (0, a count) or "-ENAME". A plain
    class, as the model's (pyxl/hv/model.py)."""

    def __init__(self, op: str, checks: list[tuple[str, bool]], rc: int | str,
                 value: dict | None = None):
        self.op = op
        self.checks = checks
        self.rc = rc
        self.value = {} if value is None else value

    @property
    def ok(self) -> bool:
        return not isinstance(self.rc, str)


def call(hv, caller: int, op: str, fn, **trace) -> Outcome:
    """Run fn(d, checks) as `caller`; on a refusal put the caller's memory
    state back (every other state is changed only after the last check)."""
    from pyxl.hv import mmu

    d = hv.domain(caller)
    checks = Checks(op)
    trace = {("target" if k == "domid" else k): v for k, v in trace.items()}
    snap = mmu.snapshot(d)
    try:
        value = fn(d, checks) or {}
        rc = value.pop("rc", 0) if isinstance(value, dict) else 0
    except HypercallError as e:
        mmu.restore(d, snap)
        hv.trace(op, domid=caller, **trace, rc=f"-{e.errno}")
        return Outcome(op, checks.lines, f"-{e.errno}")
    mmu.tidy(d)
    hv.trace(op, domid=caller, **trace, rc=rc)
    return Outcome(op, checks.lines, rc, value)


# --- XENMEM_* -----------------------------------------------------------------

def _target(hv, d, dom: int, c: Checks, op: str):
    """The domain a memory_op names: DOMID_SELF, else a privileged caller's
    target (xsm: EPERM), after it is found (ESRCH)."""
    if dom in (DOMID_SELF, d.domid):
        c.ok(f"domid: d{d.domid} itself")
        return d
    t = hv.domains.get(dom)
    c.require(t is not None, f"domain {dom} exists", "ESRCH")
    c.require(d.domid == 0, f"d{d.domid} may act on d{dom} (xsm: privileged)", "EPERM")
    return t


def increase_reservation(hv, d, nr_extents: int, extent_order: int, c: Checks,
                         op: str = "XENMEM_increase_reservation") -> dict:
    """Frames from the heap, an extent at a time, until max_pages or the
    heap says no: the answer is the number of extents done."""
    from pyxl.hv import mm

    c.require(extent_order == 0 or d.domid == 0,
              f"extent_order {extent_order}: multipage allocation permitted "
              f"(order 0, or a domain with I/O capabilities)", "EPERM")
    size = 1 << extent_order
    done = 0
    for _ in range(nr_extents):
        tot = d.tot_memkb // mm.PAGE_KB
        if tot + size > d.max_memkb // mm.PAGE_KB:
            c.ok(f"extent {done}: tot_pages {tot} + {size} > max_pages "
                 f"{d.max_memkb // mm.PAGE_KB}: over-allocation, stop")
            break
        if size > mm.free_pages(hv):
            c.ok(f"extent {done}: the heap has no {size} free pages, stop")
            break
        first = _next_pfn(d)
        hv.memory_populate_physmap(d.domid, size * mm.PAGE_KB)
        c.ok(f"extent {done}: mfn {mm.pfn_to_mfn(d, first):#x}, at pfn {first:#x}")
        done += 1
    return {"rc": done, "extents": done}


def _next_pfn(d) -> int:
    return d.p2m[-1][0] + d.p2m[-1][2] if d.p2m else 0


def decrease_reservation(hv, d, gmfn: int, nr_extents: int, c: Checks) -> dict:
    """guest_remove_page of each frame (a PV guest names them by mfn): a
    frame the guest does not own stops the call; the answer is how many
    were given back."""
    from pyxl.hv import mm

    done = 0
    for i in range(nr_extents):
        mfn = gmfn + i
        pfn = mm.mfn_to_pfn(d, mfn)
        if pfn is None:
            c.ok(f"extent {i}: frame {mfn:#x} is not d{d.domid}'s: "
                 "bad page free, stop")
            break
        _remove_frame(hv, d, pfn, mfn)
        c.ok(f"extent {i}: frame {mfn:#x} (pfn {pfn:#x}) back to the heap")
        done += 1
    return {"rc": done, "extents": done}


def _remove_frame(hv, d, pfn: int, mfn: int) -> None:
    """Take one frame out of the P2M (a hole where it was) and give it back."""
    from pyxl.hv import mm

    for i, (start, m, count) in enumerate(d.p2m):
        if start <= pfn < start + count:
            parts = []
            if pfn > start:
                parts.append([start, m, pfn - start])
            if pfn + 1 < start + count:
                parts.append([pfn + 1, mfn + 1, start + count - pfn - 1])
            d.p2m[i:i + 1] = parts
            break
    mm._release(mm._free_list(hv), mfn, 1)
    d.page_types = [r for r in d.page_types if not r[0] <= mfn < r[0] + r[1]]
    d.build.get("pte", {}).pop(str(mfn), None)
    d.tot_memkb -= mm.PAGE_KB
    hv.memory_freed(None)


def maximum_ram_page(hv, d, c: Checks) -> dict:
    from pyxl.hv import mm

    top = mm.max_ram_page(hv)
    c.ok(f"the highest RAM frame is {top:#x}")
    return {"rc": top}


def current_reservation(hv, d, dom: int, c: Checks) -> dict:
    from pyxl.hv import mm

    t = _target(hv, d, dom, c, "XENMEM_current_reservation")
    pages = t.tot_memkb // mm.PAGE_KB
    c.ok(f"d{t.domid} holds {pages} pages (tot_pages)")
    return {"rc": pages}


# --- SCHEDOP_* and VCPUOP_* ---------------------------------------------------

def sched_op(hv, d, cmd: str, args: dict, c: Checks) -> dict:
    if cmd == "yield":
        c.ok("the scheduler may run another vCPU")
    elif cmd == "block":
        c.ok("event delivery enabled; the vCPU blocks until an event is pending")
    elif cmd == "shutdown":
        reason = args["reason"]
        c.ok(f"d{d.domid} shuts down, reason {reason}"
             + (" (the first reason stays)" if d.shutdown else ""))
        hv.sched_shutdown(d.domid, reason)
    elif cmd == "poll":
        return _poll(d, args["ports"], args.get("timeout", 0), c)
    return {}


def _poll(d, ports: list[int], timeout: int, c: Checks) -> dict:
    from pyxl.hv import evtchn

    c.require(len(ports) <= MAX_POLL_PORTS, f"{len(ports)} ports <= {MAX_POLL_PORTS}",
              "EINVAL")
    for port in ports:
        c.require(evtchn._port_valid(d, port), f"port {port} is valid in d{d.domid}",
                  "EINVAL")
        e = d.evtchn.get(str(port))
        if e is not None and e[4] & evtchn.PENDING:
            c.ok(f"port {port} is pending: return at once")
            return {"woken_by": port}
    c.ok("no port pending: the vCPU blocks until one is"
         + (f" or {timeout} ns pass" if timeout else ""))
    return {}


def vcpu_op(hv, d, cmd: str, vcpuid: int, c: Checks) -> dict:
    """VCPUOP_*: ENOENT for a vCPU the domain does not have."""
    c.require(0 <= vcpuid < len(d.vcpus), f"d{d.domid} has vcpu {vcpuid}", "ENOENT")
    v = d.vcpus[vcpuid]
    if cmd == "is_up":
        c.ok(f"vcpu {vcpuid} is {'up' if v.online else 'down'}")
        return {"rc": int(v.online)}
    if cmd == "up":
        c.ok(f"vcpu {vcpuid} is initialised: it comes up")
        hv.vcpu_op_up(d.domid, vcpuid)
    elif cmd == "down":
        others = [w for w in d.vcpus if w.vcpuid != vcpuid and w.online]
        if not others:
            c.ok(f"vcpu {vcpuid} is the last one up: the domain powers off")
            hv.sched_shutdown(d.domid, 0)
        else:
            c.ok(f"vcpu {vcpuid} goes down")
            hv.vcpu_op_down(d.domid, vcpuid)
    elif cmd == "get_runstate_info":
        hv.sched_sync()
        info = {"state": RUNSTATES.get(v.runstate, 3), "state_name": v.runstate,
                "time": [v.time.get(s, 0) for s in RUNSTATES]}
        c.ok(f"vcpu {vcpuid} is {v.runstate}")
        return info
    return {}
