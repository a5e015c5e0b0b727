"""Asking guests to stop: libxl's PV control protocol, triggers and sysrq,
and waiting for what follows.

libxl_domain_shutdown/reboot write "poweroff"/"reboot" to ~/control/shutdown
and wait (up to 60 s) for the guest to acknowledge by writing "" there; an
HVM guest without PV drivers (no HVM_PARAM_CALLBACK_IRQ) has no such
interface and gets ERROR_NOPARAVIRT. Waiting spans several commands'
transactions: `wait_for` opens one context per poll. With a realtime clock
it sleeps between polls while the wall clock moves the simulation; with a
manual clock nothing moves by itself, so the waiter advances simulated time
itself, jumping to the watched guests' next planned event (at most
IDLE_STEP_NS at a time) until the condition holds or `limit_ns` of
simulated time has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pyxl.errors import ERROR_FAIL, ERROR_INVAL, ERROR_NOPARAVIRT
from pyxl.hv.hypervisor import HypercallError
from pyxl.toolstack.ctx import Ctx
from pyxl.xenstore.errors import XenStoreError

T = TypeVar("T")

ERROR_TIMEDOUT = -9
PVCONTROL_TIMEOUT_NS = 60 * 1_000_000_000
IDLE_STEP_NS = 1_000_000_000     # longest jump while the guests plan nothing
CHUNK_NS = 250_000_000           # simulated time per transaction while waiting
POLL_S = 0.05                    # realtime clock: wall time between polls
WAIT_LIMIT_NS = 600 * 1_000_000_000  # manual clock: give up waiting after this

TRIGGERS = ("unknown", "power", "sleep", "nmi", "init", "reset", "s3resume")


class LifecycleError(Exception):
    """A libxl call failed with `rc` (its log lines are already out)."""

    def __init__(self, rc: int):
        super().__init__(rc)
        self.rc = rc


def domain_type(ctx: Ctx, domid: int) -> str:
    """libxl__domain_type, with its log line when the domain is missing."""
    d = ctx.hv.domains.get(domid)
    if d is None:
        ctx.log("error", "libxl_dom.c:36:libxl__domain_type", "unable to get dominfo",
                domid, "No such process")
        raise LifecycleError(ERROR_FAIL)
    return d.type


def pvcontrol_available(ctx: Ctx, domid: int) -> bool:
    """PV/PVH: always; HVM: only once PV drivers set HVM_PARAM_CALLBACK_IRQ."""
    if domain_type(ctx, domid) != "hvm":
        return True
    return bool(ctx.host.guest(domid).get("callback_irq", 0))


def pvcontrol_request(ctx: Ctx, domid: int, cmd: str) -> None:
    """libxl__domain_pvcontrol's first half: write the request."""
    if not pvcontrol_available(ctx, domid):
        raise LifecycleError(ERROR_NOPARAVIRT)
    path = f"/local/domain/{domid}/control/shutdown"
    try:
        ctx.xs().write(path, cmd.encode())
    except XenStoreError as e:
        ctx.log("error", "libxl_xshelp.c:119:libxl__xs_vprintf",
                f"xenstore write failed: `{path}' = `{cmd}'", errno=e.message)
        raise LifecycleError(ERROR_FAIL) from None


def pvcontrol_acked(ctx: Ctx, domid: int) -> bool:
    """The guest wrote "" (or the node is gone with its domain)."""
    try:
        return ctx.xs().read(f"/local/domain/{domid}/control/shutdown") == b""
    except XenStoreError:
        return True


def log_ack_timeout(ctx: Ctx) -> None:
    ctx.log("error", "libxl_domain.c:852:pvcontrol_cb",
            f"guest didn't acknowledge control request: {ERROR_TIMEDOUT}")


@dataclass(frozen=True)
class DeathEvent:
    """What libxl's domain-death watch reports: "death" or "shutdown" (with reason)."""

    domid: int
    kind: str
    reason: int | None = None


def death_event(ctx: Ctx, domid: int) -> DeathEvent | None:
    d = ctx.hv.domains.get(domid)
    if d is None or d.dying:
        return DeathEvent(domid, "death")
    if d.shutdown:
        return DeathEvent(domid, "shutdown", d.shutdown_reason)
    return None


def advance_toward(ctx: Ctx, domids: list[int], until_ns: int) -> None:
    """Manual clock: move the simulation to the watched guests' next event
    (or IDLE_STEP_NS on), never beyond `until_ns`."""
    from pyxl.sim import guest as guestos

    host = ctx.host
    now = host.hv.now_ns
    nxt = now + IDLE_STEP_NS
    for domid in domids:
        d = host.hv.domains.get(domid)
        if d is not None:
            t = guestos.next_event_ns(host, d, host.guest(domid))
            if t is not None:
                nxt = min(nxt, t)
    host.advance_to(max(now + 1, min(nxt, until_ns)))


def wait_for(open_ctx: Callable[[], object], domids: list[int],
             check: Callable[[Ctx], T | None], limit_ns: int) -> T | None:
    """Poll `check` until it returns something, or `limit_ns` of simulated
    time passed (manual clock) / forever (realtime clock, as xl waits)."""
    start = None
    while True:
        with open_ctx() as ctx:
            host = ctx.host
            if start is None:
                start = host.now_ns
            got = check(ctx)
            if got is not None:
                return got
            if host.clock == "manual":
                chunk_end = min(host.now_ns + CHUNK_NS, start + limit_ns)
                while host.hv.now_ns < chunk_end:
                    advance_toward(ctx, domids, chunk_end)
                    got = check(ctx)
                    if got is not None:
                        return got
                if host.hv.now_ns >= start + limit_ns:
                    return None
                continue
            if limit_ns is not None and host.now_ns - start >= limit_ns:
                return None
        time.sleep(POLL_S)


def send_trigger(ctx: Ctx, domid: int, trigger: str, vcpuid: int = 0) -> int:
    """libxl_send_trigger; returns the libxl rc (xl ignores it, libxl logs it)."""
    from pyxl.sim import guest as guestos

    if trigger == "s3resume":
        d = ctx.hv.domains.get(domid)
        if d is None or d.type != "hvm":
            if d is None:
                ctx.log("error", "libxl_dom.c:36:libxl__domain_type", "unable to get dominfo",
                        domid, "No such process")
            ctx.log("error", "libxl_domain.c:2155:domain_s3_resume_done",
                    f"Send trigger 's3resume' failed, rc={ERROR_INVAL}", domid)
            return ERROR_INVAL
        guestos.s3_resume(ctx.host, d, ctx.host.guest(domid), ctx.hv.now_ns)
        return 0
    try:
        if trigger == "unknown":
            raise HypercallError("EINVAL")
        ctx.hv.domctl_sendtrigger(domid, trigger, vcpuid)
    except HypercallError as e:
        ctx.log("error", "libxl_domain.c:2200:libxl_send_trigger",
                f"Send trigger '{trigger}' failed", domid, e.strerror)
        return ERROR_FAIL
    return 0


def send_sysrq(ctx: Ctx, domid: int, key: str) -> None:
    """libxl_send_sysrq: one character into ~/control/sysrq, no checks (as libxl)."""
    path = f"/local/domain/{domid}/control/sysrq"
    try:
        ctx.xs().write(path, key.encode("utf-8", "surrogateescape"))
    except XenStoreError as e:
        ctx.log("error", "libxl_xshelp.c:119:libxl__xs_vprintf",
                f"xenstore write failed: `{path}' = `{key}'", errno=e.message)


def shutdown_targets(ctx: Ctx) -> list[int]:
    """`-a`: every domain but dom0 (pyxl has no never_stop domains)."""
    return [domid for domid in sorted(ctx.hv.domains) if domid != 0]
