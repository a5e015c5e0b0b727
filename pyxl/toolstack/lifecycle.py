"""Asking guests to stop: libxl's PV control protocol, triggers and sysrq,
and waiting for what follows.

libxl_domain_shutdown/reboot write "poweroff"/"reboot" to ~/control/shutdown
and wait (up to 60 s) for the guest to acknowledge by writing "" there; an
HVM guest without PV drivers (no HVM_PARAM_CALLBACK_IRQ) has no such
interface and gets ERROR_NOPARAVIRT.

`wait_for` is the toolstack's one wait loop; waiting spans several
commands' transactions, so it opens one context per poll. With a realtime
clock it sleeps between polls while the wall clock moves the simulation.
A manual clock moves only when a command moves it, and the toolstack
decides who does: a wait for what libxl asked of a guest (an acknowledged
shutdown, a domain's death after it) moves simulated time itself, jumping
to the watched guests' next planned event (at most IDLE_STEP_NS at a time)
until the condition holds or its limit of simulated time has passed; xl's
monitor (`wait_for_death`, for create -F) leaves the clock to other
commands and only polls. The CLI never moves a manual clock to wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pyxl.errors import (
    ERROR_FAIL,
    ERROR_INVAL,
    ERROR_TIMEDOUT,
    ErrorFail,
    ErrorNoparavirt,
    strerror,
)
from pyxl.hv.hypervisor import HypercallError
from pyxl.toolstack.ctx import Ctx
from pyxl.xenstore.errors import XenStoreError

T = TypeVar("T")

PVCONTROL_TIMEOUT_NS = 60 * 1_000_000_000
IDLE_STEP_NS = 1_000_000_000     # longest jump while the guests plan nothing
CHUNK_NS = 250_000_000           # simulated time per transaction while waiting
POLL_S = 0.05                    # realtime clock: wall time between polls
WAIT_LIMIT_NS = 600 * 1_000_000_000  # manual clock: give up waiting after this

TRIGGERS = ("unknown", "power", "sleep", "nmi", "init", "reset", "s3resume")


def domain_type(ctx: Ctx, domid: int) -> str:
    """libxl__domain_type, with its log line when the domain is missing."""
    d = ctx.hv.domains.get(domid)
    if d is None:
        ctx.log("error", "libxl_dom.c:37:libxl__domain_type", "unable to get dominfo",
                domid, strerror("ESRCH"))
        raise ErrorFail
    return d.type


def pvcontrol_available(ctx: Ctx, domid: int) -> bool:
    """PV/PVH: always; HVM: only once PV drivers set HVM_PARAM_CALLBACK_IRQ."""
    if domain_type(ctx, domid) != "hvm":
        return True
    return bool(ctx.hv.hvmop_get_param(domid, "CALLBACK_IRQ"))   # xc_hvm_param_get


def pvcontrol_request(ctx: Ctx, domid: int, cmd: str) -> None:
    """libxl__domain_pvcontrol's first half: write the request."""
    if not pvcontrol_available(ctx, domid):
        raise ErrorNoparavirt
    path = f"/local/domain/{domid}/control/shutdown"
    try:
        ctx.xs().write(path, cmd.encode())
    except XenStoreError as e:
        ctx.log("error", "libxl_xshelp.c:119:libxl__xs_vprintf",
                f"xenstore write failed: `{path}' = `{cmd}'", errno=e.message)
        raise ErrorFail from None


def pvcontrol_acked(ctx: Ctx, domid: int) -> bool:
    """The guest wrote "" (or the node is gone with its domain)."""
    try:
        return ctx.xs().read(f"/local/domain/{domid}/control/shutdown") == b""
    except XenStoreError:
        return True


def log_ack_timeout(ctx: Ctx) -> None:
    ctx.log("error", "libxl_domain.c:852:pvcontrol_cb",
            f"guest didn't acknowledge control request: {ERROR_TIMEDOUT}")


@dataclass(frozen=True, repr=False, eq=False)
class DeathEvent:
    """What libxl's domain-death watch reports: "death" or "shutdown" (with reason)."""

    domid: int
    kind: str
    reason: int | None = None


def death_event(ctx: Ctx, domid: int) -> DeathEvent | None:
    """A death carries the shutdown reason when xl's monitor destroyed the
    domain as it shut down: libxl's watch in the waiting xl saw the
    shutdown before the monitor's destroy (see monitor_shutdown_reason)."""
    d = ctx.hv.domains.get(domid)
    if d is None or d.dying:
        return DeathEvent(domid, "death", monitor_shutdown_reason(ctx, domid))
    if d.shutdown:
        return DeathEvent(domid, "shutdown", d.shutdown_reason)
    return None


def monitor_shutdown_reason(ctx: Ctx, domid: int) -> int | None:
    """The reason code the domain shut down with, if its monitor's last act
    was to destroy it for that (its log ends so); else None."""
    log = ctx.host.monitor_log(domid)
    if not log or not log[-1].endswith("needs to be cleaned up: destroying the domain"):
        return None
    prefix = f"Domain {domid} has shut down, reason code "
    for line in reversed(log):
        if line.startswith(prefix):
            code = line[len(prefix):].split(" ", 1)[0]
            return int(code) if code.isdigit() else None
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
            t = guestos.next_event_ns(d, host.guest(domid))
            if t is not None:
                nxt = min(nxt, t)
    host.advance_to(max(now + 1, min(nxt, until_ns)))


def wait_for(open_ctx: Callable[[], object], domids: list[int],
             check: Callable[[Ctx], T | None], limit_ns: int | None, *,
             advance: bool = True) -> T | None:
    """Poll `check` until it returns something; None once `limit_ns` of
    simulated time has passed (None: no limit, as xl waits).

    On a manual clock, `advance` moves the simulation toward the watched
    guests' next events; without it the wait is for other commands to move
    the clock (see the module docstring).
    """
    start = None
    while True:
        with open_ctx() as ctx:
            host = ctx.host
            if start is None:
                start = host.now_ns
            got = check(ctx)
            if got is not None:
                return got
            until = None if limit_ns is None else start + limit_ns
            if advance and host.clock == "manual":
                got = _advance_chunk(ctx, domids, check, until)
                if got is not None or (until is not None and host.hv.now_ns >= until):
                    return got
                continue
            if until is not None and host.now_ns >= until:
                return None
        time.sleep(POLL_S)


def _advance_chunk(ctx: Ctx, domids: list[int], check: Callable[[Ctx], T | None],
                   until: int | None) -> T | None:
    """One transaction's worth (CHUNK_NS) of simulated time while waiting."""
    host = ctx.host
    chunk_end = host.now_ns + CHUNK_NS
    if until is not None:
        chunk_end = min(chunk_end, until)
    while host.hv.now_ns < chunk_end:
        advance_toward(ctx, domids, chunk_end)
        got = check(ctx)
        if got is not None:
            return got
    return None


def wait_for_death(open_ctx: Callable[[], object], domid: int) -> None:
    """xl's monitor for create -F: until the domain is gone, for as long as
    it takes. It never moves a manual clock (other commands do)."""
    def gone(ctx: Ctx) -> bool | None:
        return True if domid not in ctx.hv.domains else None

    wait_for(open_ctx, [domid], gone, None, advance=False)


def send_trigger(ctx: Ctx, domid: int, trigger: str, vcpuid: int = 0) -> int:
    """libxl_send_trigger; returns the libxl rc (xl ignores it, libxl logs it)."""
    from pyxl.sim import guest as guestos

    if trigger == "s3resume":
        d = ctx.hv.domains.get(domid)
        if d is None or d.type != "hvm":
            if d is None:
                ctx.log("error", "libxl_dom.c:37:libxl__domain_type", "unable to get dominfo",
                        domid, strerror("ESRCH"))
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
