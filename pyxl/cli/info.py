"""xl's host and domain introspection: list, vm-list, info, uptime, dmesg."""

from __future__ import annotations

import time

import click

from pyxl.cli.base import (c_seconds, err, globals_of, out, print_help_and_fail, session,
                           xl_command)
from pyxl.errors import PyxlError

LIST_HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)"
REASON_LETTERS = "-rscwS"


def _state(i) -> str:
    reason = i.shutdown_reason if i.shutdown else 0
    letter = REASON_LETTERS[reason] if 0 <= (reason or 0) < len(REASON_LETTERS) else "?"
    return ("r" if i.running else "-") + ("b" if i.blocked else "-") + \
        ("p" if i.paused else "-") + ("s" if i.shutdown else "-") + letter + \
        ("d" if i.dying else "-")


def list_row(name: str, i) -> str:
    mem = i.current_memkb // 1024
    return (f"{name:<40} {i.domid:>5} {mem:>5} {i.vcpu_online:>5}     {_state(i)}"
            f"  {c_seconds(i.cpu_time_ns):>8.1f}")


@xl_command("list")
@click.option("-l", "--long", "details", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
@click.option("-Z", "--context", is_flag=True)
@click.option("-c", "--cpupool", is_flag=True)
@click.option("-n", "--numa", is_flag=True)
@click.argument("domains", nargs=-1)
@click.pass_context
def cmd_list(ctx, details, verbose, context, cpupool, numa, domains):
    if len(domains) > 1:
        return print_help_and_fail("list")
    shown = (verbose, context, cpupool, numa)
    listed = None if details else _peek_list(ctx, domains[0] if domains else None)
    if listed is not None:
        out(_list_text([(i.name, i, i.pool_name) for i in listed], *shown))
        return 0
    with session(ctx, write=False) as libxl:
        if domains:
            info = libxl.domain_info(libxl.domain_qualifier_to_domid(domains[0]))
            if info is None:
                raise PyxlError(f"Error: Domain '{domains[0]}' does not exist.")
            infos = [info]
        else:
            infos = libxl.list_domain()
        if details:
            out(libxl.list_long_json([i.domid for i in infos]))
            return 0
        out(_list_text([(libxl.domid_to_name(i.domid) or "", i,
                         libxl.cpupoolid_to_name(i.cpupool) if cpupool else None)
                        for i in infos], *shown))
    return 0


def _peek_list(ctx, qualifier: str | None) -> list | None:
    """`list`'s domains from the stored state, when nothing must be simulated
    first; None sends the command down its full path."""
    from pyxl.toolstack import peek_libxl

    g = globals_of(ctx)
    with peek_libxl(g.host, caller=g.as_domid) as peek:
        return None if peek is None else peek.list_domain(qualifier)


def _list_text(rows, verbose: bool, context: bool, cpupool: bool, numa: bool,
               claim: bool = False) -> str:
    """`xl list`'s table from (name, dominfo, cpupool name) of each domain
    (`claim`: `xl claims`'s column)."""
    header = LIST_HEADER
    if verbose:
        header += "   UUID                            Reason-Code\tSecurity Label"
    if context and not verbose:
        header += "   Security Label"
    if claim:
        header += "  Claimed"
    if cpupool:
        header += "         Cpupool"
    if numa:
        header += " NODE Affinity"
    lines = [header]
    for name, i, pool_name in rows:
        row = list_row(name, i)
        if verbose:
            row += f" {i.uuid}"
            row += f" {i.shutdown_reason:>8x}" if i.shutdown else f" {'-':>8}"
        if verbose or context:
            row += f" {'-':>16}"
        if claim:   # outstanding_memkb: libxl's claim ends with the build
            row += f" {0:>5}"
        if cpupool:
            row += f"{pool_name:>16}"
        if numa:
            row += " all"  # pyxl places no domain on particular nodes
        lines.append(row)
    return "\n".join(lines) + "\n"


@xl_command("claims")
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_claims(ctx, ignored):
    """xl's main_claims: `list` with the memory claimed but not yet allocated.

    libxl claims a guest's memory (XENMEM_claim_pages) while it builds the
    guest and lets go of the claim when the build is done, so outside a
    create every domain's claim is 0.
    """
    from pyxl.toolstack.xl_conf import host_global_config

    if not host_global_config(globals_of(ctx).host).claim_mode:
        err("claim_mode not enabled (see man xl.conf).")
    with session(ctx, write=False) as libxl:
        rows = [(libxl.domid_to_name(i.domid) or "", i, None) for i in libxl.list_domain()]
    out(_list_text(rows, False, False, False, False, claim=True))
    return 0


@xl_command("vm-list")
@click.pass_context
def cmd_vm_list(ctx):
    with session(ctx, write=False) as libxl:
        lines = ["UUID                                  ID    name"]
        for i in libxl.list_domain():
            lines.append(f"{i.uuid}  {i.domid}    {libxl.domid_to_name(i.domid):<30}")
        out("\n".join(lines) + "\n")
    return 0


@xl_command("info")
@click.option("-n", "--numa", is_flag=True)
@click.option("-x", "--xenstore", is_flag=True)
@click.argument("name", required=False)
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_info(ctx, numa, xenstore, name, ignored):
    with session(ctx, write=False) as libxl:
        lines: list[str] = []

        def add(pairs):
            lines.extend(f"{k:<23}:{v}\n" for k, v in pairs)

        add(libxl.info_uname())
        add(libxl.info_physinfo())
        if numa:
            lines.append("cpu_topology           :\n")
            lines.append("cpu:    core    socket     node\n")
            lines.extend(f"{c:3d}:    {core:4d}     {s:4d}     {n:4d}\n"
                         for c, core, s, n in libxl.get_cpu_topology())
            lines.append("device topology        :\n")
            lines.append("device           node\n")
            lines.append("No device topology data available\n")
            lines.append("numa_info              :\n")
            lines.append("node:    memsize    memfree    distances\n")
            for node, size, free, dists in libxl.get_numainfo():
                lines.append(f"{node:4d}:    {size:6d}     {free:6d}      "
                             + ",".join(str(d) for d in dists) + "\n")
        add(libxl.info_xeninfo())
        if xenstore:
            add([("xenstore_features", " 0x00000000")])
        add([("xend_config_format", " 4")])
    if name is not None and not numa:
        # xl's maybe_printf: the value of each "key: value" line whose key starts with name.
        picked = []
        for line in lines:
            colon = line.find(":")
            if line.startswith(name) and colon >= 0 and line[colon + 1:colon + 2] == " ":
                picked.append(line[colon + 2:])
        lines = picked
    out("".join(lines))
    return 0


def _uptime_text(seconds: int, short: bool) -> str:
    day, rest = divmod(seconds, 86400)
    hour, rest = divmod(rest, 3600)
    minute, sec = divmod(rest, 60)
    if short:
        if day > 1:
            return f"{day} days, {hour:2d}:{minute:02d}"
        if day == 1:
            return f"{day} day, {hour:2d}:{minute:02d}"
        return f"{hour:2d}:{minute:02d}"
    if day > 1:
        return f"{day} days, {hour:2d}:{minute:02d}:{sec:02d}"
    if day == 1:
        return f"{day} day, {hour:2d}:{minute:02d}:{sec:02d}"
    return f"{hour:2d}:{minute:02d}:{sec:02d}"


@xl_command("uptime")
@click.option("-s", "short", is_flag=True)
@click.argument("domains", nargs=-1)
@click.pass_context
def cmd_uptime(ctx, short, domains):
    with session(ctx, write=False) as libxl:
        ids = [libxl.domain_qualifier_to_domid(q) for q in domains]
        host_clock = libxl.clock()
        now = int(host_clock.wall)
        clock = time.strftime("%H:%M:%S", time.localtime(now))
        if not ids:
            ids = [i.domid for i in libxl.list_domain()]
        lines = [] if short else [f"{'Name':<33} {'ID':>4} Uptime"]
        for domid in ids:
            if domid == 0:
                up = host_clock.now_ns // 1_000_000_000  # dom0's /proc/uptime
            else:
                start = libxl.vm_get_start_time(domid)
                if start is None:
                    continue
                up = now - start
            name = libxl.domid_to_name(domid)
            if short:
                lines.append(f" {clock} up {_uptime_text(up, True)}, {name} ({domid})")
            else:
                lines.append(f"{name:<33} {domid:>4} {_uptime_text(up, False)}")
        out("".join(line + "\n" for line in lines))
    return 0


@xl_command("dmesg")
@click.option("-c", "--clear", is_flag=True)
@click.pass_context
def cmd_dmesg(ctx, clear):
    with session(ctx, write=clear) as libxl:
        out("".join(line + "\n" for line in libxl.xen_console_read(clear)))
    return 0



@xl_command("sharing")
@click.argument("domains", nargs=-1)
@click.pass_context
def cmd_sharing(ctx, domains):
    """xl's main_sharing: each domain's memory and how much of it is shared.
    pyxl's Xen shares no pages between domains (no mem_sharing), so the
    Shared column is 0, as on a host that never ran xenpaging's sharing."""
    if len(domains) > 1:
        return print_help_and_fail("sharing")
    with session(ctx, write=False) as libxl:
        if domains:
            info = libxl.domain_info(libxl.domain_qualifier_to_domid(domains[0]))
            if info is None:
                raise PyxlError(f"Error: Domain '{domains[0]}' does not exist.")
            infos = [info]
        else:
            infos = libxl.list_domain()
        lines = ["Name                                        ID   Mem Shared\n"]
        for i in infos:
            lines.append(f"{libxl.domid_to_name(i.domid) or '':<40} {i.domid:>5} "
                         f"{i.current_memkb // 1024:>5}  {0:>5}\n")
    out("".join(lines))
    return 0
