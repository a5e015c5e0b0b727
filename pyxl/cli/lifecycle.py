"""xl shutdown and reboot (xl_vmcontrol.c's main_shutdown_or_reboot)."""

from __future__ import annotations

import click

from pyxl.cli.base import err, session, xl_command
from pyxl.errors import ERROR_NOPARAVIRT, PyxlError
from pyxl.toolstack import wait_for, wait_for_pvcontrol_ack


def _signal(ctx, domid: int, reboot: bool, fallback: bool) -> None:
    """shutdown_domain / reboot_domain: request, wait for the guest's ack
    (an ACPI event, the fallback, has none)."""
    what = "reboot" if reboot else "shutdown"
    err(f"{'Rebooting' if reboot else 'Shutting down'} domain {domid}")
    acpi = False
    with session(ctx, write=True) as libxl:
        rc = libxl.domain_reboot(domid) if reboot else libxl.domain_shutdown(domid)
        if rc == ERROR_NOPARAVIRT:
            if fallback:
                err("PV control interface not available: sending ACPI "
                    f"{'reset' if reboot else 'power'} button event.")
                rc = libxl.send_trigger(domid, "reset" if reboot else "power", 0)
                acpi = True
            else:
                err("PV control interface not available: external graceful "
                    f"{what} not possible.")
                err(f'Use "-F" to fallback to ACPI {"reset" if reboot else "power"} event.')
    if not rc and not acpi:
        rc = wait_for_pvcontrol_ack(lambda: session(ctx, write=True), domid)
    if rc:
        raise PyxlError(f"{what} failed (rc={rc})")


def _wait_deaths(ctx, domids: list[int], shutdown_counts: bool) -> None:
    """wait_for_domain_deaths, with xl's log lines."""
    err(f"Waiting for {len(domids)} domains")
    left = list(domids)
    reported: set[int] = set()

    def check(libxl):
        events = []
        for domid in list(left):
            ev = libxl.domain_death_event(domid)
            if ev is None or (ev.kind == "shutdown" and domid in reported):
                continue
            events.append(ev)
        return events or None

    while left:
        events = wait_for(lambda: session(ctx, write=True), left, check)
        if events is None:
            raise PyxlError("pyxl: gave up waiting: 600 s of simulated time passed "
                            "(manual clock)")
        for ev in events:
            if ev.kind == "death":
                if ev.reason is not None and ev.domid not in reported:
                    # xl's monitor destroyed it as it shut down: the shutdown came first
                    err(f"Domain {ev.domid} has been shut down, reason code {ev.reason}")
                    if shutdown_counts:
                        left.remove(ev.domid)
                        continue
                    err(f"Domain {ev.domid} continue waiting for death")
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
        with session(ctx, write=False) as libxl:
            domids = libxl.shutdown_targets()
    else:
        with session(ctx, write=False) as libxl:
            domids = [libxl.domain_qualifier_to_domid(args[0])]
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
