"""xl shutdown and reboot (xl_vmcontrol.c's main_shutdown_or_reboot)."""

from __future__ import annotations

import click

from pyxl.cli.base import err, session, xl_command
from pyxl.errors import ERROR_NOPARAVIRT, PyxlError
from pyxl.toolstack import lifecycle as lc
from pyxl.toolstack.ctx import find_domain


def _signal(ctx, domid: int, reboot: bool, fallback: bool) -> None:
    """shutdown_domain / reboot_domain: request, wait for the guest's ack."""
    what = "reboot" if reboot else "shutdown"
    err(f"{'Rebooting' if reboot else 'Shutting down'} domain {domid}")
    rc = 0
    with session(ctx, write=True) as xc:
        try:
            lc.pvcontrol_request(xc, domid, "reboot" if reboot else "poweroff")
        except lc.LifecycleError as e:
            rc = e.rc
        if rc == ERROR_NOPARAVIRT:
            if fallback:
                err("PV control interface not available: sending ACPI "
                    f"{'reset' if reboot else 'power'} button event.")
                rc = lc.send_trigger(xc, domid, "reset" if reboot else "power", 0)
            else:
                err("PV control interface not available: external graceful "
                    f"{what} not possible.")
                err(f'Use "-F" to fallback to ACPI {"reset" if reboot else "power"} event.')
    if rc:
        raise PyxlError(f"{what} failed (rc={rc})")
    if not fallback or rc == 0:
        _wait_ack(ctx, domid, what)


def _wait_ack(ctx, domid: int, what: str) -> None:
    def acked(xc):
        return True if lc.pvcontrol_acked(xc, domid) else None

    with session(ctx, write=False) as xc:
        if not lc.pvcontrol_available(xc, domid) and xc.hv.domains.get(domid):
            return  # an ACPI event was sent instead: nothing to acknowledge
    got = lc.wait_for(lambda: session(ctx, write=True), [domid], acked,
                      lc.PVCONTROL_TIMEOUT_NS)
    if got is None:
        with session(ctx, write=False) as xc:
            lc.log_ack_timeout(xc)
        raise PyxlError(f"{what} failed (rc={lc.ERROR_TIMEDOUT})")


def _wait_deaths(ctx, domids: list[int], shutdown_counts: bool) -> None:
    """wait_for_domain_deaths, with xl's log lines."""
    err(f"Waiting for {len(domids)} domains")
    left = list(domids)
    reported: set[int] = set()

    def check(xc):
        events = []
        for domid in list(left):
            ev = lc.death_event(xc, domid)
            if ev is None or (ev.kind == "shutdown" and domid in reported):
                continue
            events.append(ev)
        return events or None

    while left:
        events = lc.wait_for(lambda: session(ctx, write=True), left, check, lc.WAIT_LIMIT_NS)
        if events is None:
            raise PyxlError("pyxl: gave up waiting: 600 s of simulated time passed "
                            "(manual clock)")
        for ev in events:
            if ev.kind == "death":
                err(f"Domain {ev.domid} has been destroyed")
                left.remove(ev.domid)
            else:
                err(f"Domain {ev.domid} has been shut down, reason code {ev.reason}")
                reported.add(ev.domid)
                if shutdown_counts:
                    left.remove(ev.domid)
                else:
                    err(f"Domain {ev.domid} continue waiting for death")


def _main(ctx, reboot: bool, all_: bool, wait: int, fallback: bool, args) -> int:
    if not args and not all_:
        err("You must specify -a or a domain id.\n\n")
        return 1
    if all_:
        with session(ctx, write=False) as xc:
            domids = lc.shutdown_targets(xc)
    else:
        with session(ctx, write=False) as xc:
            domids = [find_domain(xc, args[0])]
    for domid in domids:
        _signal(ctx, domid, reboot, fallback)
    if wait:
        _wait_deaths(ctx, domids, wait == 1)
    return 0


def _options(f):
    f = click.option("-a", "--all", "all_", is_flag=True)(f)
    f = click.option("-w", "--wait", "wait", count=True)(f)
    f = click.option("-F", "fallback", is_flag=True)(f)
    f = click.argument("args", nargs=-1)(f)
    return click.pass_context(f)


@xl_command("shutdown")
@_options
def cmd_shutdown(ctx, all_, wait, fallback, args):
    return _main(ctx, False, all_, wait, fallback, args)


@xl_command("reboot")
@_options
def cmd_reboot(ctx, all_, wait, fallback, args):
    return _main(ctx, True, all_, wait, fallback, args)
