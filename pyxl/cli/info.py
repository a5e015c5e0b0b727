"""xl's host and domain introspection: list, vm-list, info, uptime, dmesg."""

from __future__ import annotations

import time

import click

from pyxl.cli.base import c_float, out, print_help_and_fail, session, xl_command
from pyxl.errors import PyxlError
from pyxl.toolstack import domain as dom
from pyxl.toolstack import info as hostinfo
from pyxl.toolstack.ctx import find_domain

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
            f"  {c_float(i.cpu_time_ns / 1e9):>8.1f}")


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
    with session(ctx, write=False) as xc:
        if domains:
            domid = find_domain(xc, domains[0])
            try:
                infos = [dom.domain_info(xc, domid)]
            except dom.LibxlError:
                raise PyxlError(f"Error: Domain '{domains[0]}' does not exist.") from None
        else:
            infos = dom.list_domains(xc)
        if details:
            from pyxl.toolstack.retrieve import list_long_json

            out(list_long_json(xc, [i.domid for i in infos]))
            return 0
        header = LIST_HEADER
        if verbose:
            header += "   UUID                            Reason-Code\tSecurity Label"
        if context and not verbose:
            header += "   Security Label"
        if cpupool:
            header += "         Cpupool"
        if numa:
            header += " NODE Affinity"
        lines = [header]
        pools = xc.hv.pools
        for i in infos:
            row = list_row(xc.host.name_of(i.domid) or "", i)
            if verbose:
                row += f" {i.uuid}"
                row += f" {i.shutdown_reason:>8x}" if i.shutdown else f" {'-':>8}"
            if verbose or context:
                row += f" {'-':>16}"
            if cpupool:
                row += f"{pools[i.cpupool].name:>16}"
            if numa:
                row += " all"  # pyxl places no domain on particular nodes
            lines.append(row)
        out("\n".join(lines) + "\n")
    return 0


@xl_command("vm-list")
@click.pass_context
def cmd_vm_list(ctx):
    with session(ctx, write=False) as xc:
        lines = ["UUID                                  ID    name"]
        for i in dom.list_domains(xc):
            lines.append(f"{i.uuid}  {i.domid}    {xc.host.name_of(i.domid):<30}")
        out("\n".join(lines) + "\n")
    return 0


@xl_command("info")
@click.option("-n", "--numa", is_flag=True)
@click.option("-x", "--xenstore", is_flag=True)
@click.argument("name", required=False)
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_info(ctx, numa, xenstore, name, ignored):
    with session(ctx, write=False) as xc:
        lines: list[str] = []

        def add(pairs):
            lines.extend(f"{k:<23}:{v}\n" for k, v in pairs)

        add(hostinfo.uname(xc))
        add(hostinfo.physinfo(xc))
        if numa:
            lines.append("cpu_topology           :\n")
            lines.append("cpu:    core    socket     node\n")
            lines.extend(f"{c:3d}:    {core:4d}     {s:4d}     {n:4d}\n"
                         for c, core, s, n in hostinfo.cpu_topology(xc))
            lines.append("device topology        :\n")
            lines.append("device           node\n")
            lines.append("No device topology data available\n")
            lines.append("numa_info              :\n")
            lines.append("node:    memsize    memfree    distances\n")
            for node, size, free, dists in hostinfo.numa_info(xc):
                lines.append(f"{node:4d}:    {size:6d}     {free:6d}      "
                             + ",".join(str(d) for d in dists) + "\n")
        add(hostinfo.xeninfo(xc))
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
    with session(ctx, write=False) as xc:
        ids = [find_domain(xc, q) for q in domains]
        now = int(xc.host.wall_time())
        clock = time.strftime("%H:%M:%S", time.localtime(now))
        if not ids:
            ids = [i.domid for i in dom.list_domains(xc)]
        lines = [] if short else [f"{'Name':<33} {'ID':>4} Uptime"]
        for domid in ids:
            if domid == 0:
                up = xc.host.now_ns // 1_000_000_000  # dom0's /proc/uptime
            else:
                start = dom.start_time(xc, domid)
                if start is None:
                    continue
                up = now - start
            name = xc.host.name_of(domid)
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
    with session(ctx, write=clear) as xc:
        out("".join(line + "\n" for line in xc.host.dmesg()))
        if clear:
            xc.host.clear_dmesg()
    return 0

