"""xm's managed domains: new, start, delete, suspend, resume, and the halted
ones `xm list` shows (pyxl/toolstack/xm_managed.py keeps them).

xend's faults come out as xm printed them: a missing domain is `Domain 'X'
does not exist.` (exit 3) where xend raised XendInvalidDomain straight, and
xend's own wording where it wrapped that fault in another (delete, resume);
any other fault is its string and the command's usage, exit 1.
"""

from __future__ import annotations

import sys

from pyxl.cli.xm.common import (NoSuchDomain, arg_check, find_domain, getopt, read_xm_config,
                                session, xl)

HALTED_STATE = "------"


def _fault(message: str, command: str):
    """A generic xend fault: xm's `Error: ...`, then the command's usage."""
    from pyxl.cli.xm.main import XmUsage

    return XmUsage(message, command)


def _quiet_session(host):
    """xm suspend and resume print nothing (common.quiet_session)."""
    from pyxl.cli.xm.common import quiet_session

    return quiet_session(host)


def _invalid_domain(qualifier: str) -> str:
    """str() of xend's XendInvalidDomain, as a wrapping XendError showed it."""
    return f"<Fault 3: {qualifier!r}>"


def xm_new(host, args):
    """xm new CONFIG [vars]: the definition is kept, nothing runs."""
    from pyxl.toolstack import xm_managed

    opts, config_file, xl_text = read_xm_config(args, "new")
    dryrun = "-n" in opts or "--dryrun" in opts
    with session(host, write=not dryrun) as libxl:
        if dryrun:
            from pyxl.toolstack import dryrun_json

            sys.stdout.write(dryrun_json(libxl.parse_config(xl_text, config_file).config))
            return 0
        xm_managed.define(libxl, xl_text, config_file)
    return 0


def xm_start(host, args):
    """xm start NAME [-p] [-c]: a domain from a halted definition."""
    from pyxl.toolstack import xm_managed

    options, params = getopt(args, "start", "cp", ["console_autoconnect", "paused",
                                                   "vncviewer", "vncviewer-autopass"])
    flags = {k for k, _ in options}
    if len(params) != 1:
        raise _fault("Expects 1 argument", "start")
    with session(host, write=True) as libxl:
        m = xm_managed.lookup(libxl, params[0])
        if m is None:
            raise NoSuchDomain(params[0])
        if xm_managed.power_state(libxl, m) != xm_managed.HALTED:
            raise _fault("Domain is already running", "start")
        domid, warnings = xm_managed.start(libxl, m, paused=bool(flags & {"-p", "--paused"}))
    for warning in warnings:
        sys.stderr.write(warning + "\n")
    if flags & {"-c", "--console_autoconnect"}:
        return xl(host, ["console", str(domid)])
    return 0


def xm_delete(host, args):
    """xm delete NAME: forget a halted definition."""
    from pyxl.toolstack import xm_managed

    arg_check(args, "delete", 1)
    with session(host, write=True) as libxl:
        m = xm_managed.lookup(libxl, args[0])
        if m is None:
            raise _fault(_invalid_domain(args[0]), "delete")
        if xm_managed.power_state(libxl, m) != xm_managed.HALTED:
            raise _fault("Domain is not halted.", "delete")
        xm_managed.undefine(libxl, m)
    return 0


def xm_suspend(host, args):
    """xm suspend NAME: a running managed domain saved into the host's store."""
    from pyxl.toolstack import xm_managed

    arg_check(args, "suspend", 1)
    qualifier = args[0]
    with session(host, write=False) as libxl:
        m = xm_managed.lookup(libxl, qualifier)
        domid = xm_managed.running_domid(libxl, m) if m else find_domain(libxl, qualifier)
        if domid == 0:
            raise _fault(f"Cannot suspend privileged domain {qualifier}", "suspend")
        info = libxl.domain_info(domid) if domid is not None else None
        if info is None or info.paused or info.shutdown:
            raise _fault("Domain is not running", "suspend")
        if m is None:
            raise _fault("Domain is not managed by Xend lifecycle support.", "suspend")
    try:
        xm_managed.suspend(lambda: _quiet_session(host), m, domid)
    except xm_managed.XendError as e:
        raise _fault(e.message, "suspend") from None
    return 0


def xm_resume(host, args):
    """xm resume NAME [-p]: a suspended definition restored from its image."""
    from pyxl.toolstack import xm_managed

    arg_check(args, "resume", 1, 2)
    options, params = getopt(args, "resume", "p", ["paused"])
    if len(params) != 1:
        raise _fault("Wrong number of parameters", "resume")
    qualifier = params[0]
    with session(host, write=False) as libxl:
        m = xm_managed.lookup(libxl, qualifier)
        domid = _running(libxl, qualifier) if m is None else None
        if domid == 0 or qualifier == "0":
            why = f"Cannot resume privileged domain {qualifier}"
        elif m is None and domid is None:
            why = _invalid_domain(qualifier)
        elif m is None or xm_managed.power_state(libxl, m) != xm_managed.SUSPENDED:
            why = "Cannot resume domain that is not suspended."
        else:
            why = None
    if why is None:
        try:
            xm_managed.resume(lambda: _quiet_session(host), m, paused=bool(options))
            return 0
        except xm_managed.XendError as e:
            why = e.message
    raise _fault(f"Error occurred when resuming: {why}", "resume")


def _running(libxl, qualifier: str) -> int | None:
    """The domid of a running domain by name or id, or None (nothing logged)."""
    domid = libxl.name_to_domid(qualifier)
    if domid is None and qualifier.isascii() and qualifier.isdigit():
        domid = next((i.domid for i in libxl.list_domain() if str(i.domid) == qualifier), None)
    return domid


def halted(libxl, params: list[str]) -> tuple[list, list[str]]:
    """The halted (or suspended) definitions `xm list` shows, and the
    qualifiers left for the running domains: all of them without params."""
    from pyxl.toolstack import xm_managed

    table = xm_managed.definitions(libxl)
    if not table:
        return [], params
    dormant = [m for m in table if xm_managed.running_domid(libxl, m) is None]
    if not params:
        return dormant, params
    by_name = {m.name: m for m in dormant} | {m.uuid: m for m in dormant}
    return [by_name[q] for q in params if q in by_name], [q for q in params if q not in by_name]


def list_row(m) -> str:
    """xm's brief row of a definition no domain runs: an empty ID, its
    configured memory and vCPUs, no state flags."""
    return (f"{m.name:<40} {'':>5} {m.memory_mb:>5d} {m.vcpus:>5d} {HALTED_STATE:>10} "
            f"{0.0:8.1f}\n")


def managed_sxp(m) -> list:
    """(domain ...) of a definition no domain runs, as xend gave it (no domid)."""
    return ["domain", ["uuid", m.uuid], ["name", m.name], ["memory", m.memory_mb],
            ["vcpus", m.vcpus], ["state", HALTED_STATE], ["cpu_time", 0.0]]
