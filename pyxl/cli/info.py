"""xl's host and domain introspection: list, vm-list, info, uptime, dmesg."""

from __future__ import annotations

import time

import click

from pyxl.cli.base import (c_seconds, dumps, err, globals_of, out, print_help_and_fail,
                           session, xl_command)
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
@click.option("--json", "as_json", is_flag=True)
@click.argument("domains", nargs=-1)
@click.pass_context
def cmd_list(ctx, details, verbose, context, cpupool, numa, as_json, domains):
    if len(domains) > 1:
        return print_help_and_fail("list")
    shown = (verbose, context, cpupool, numa)
    render = _list_json if as_json and not details else (lambda rows: _list_text(rows, *shown))
    cpupool = cpupool or as_json
    listed = None if details else _peek_list(ctx, domains[0] if domains else None)
    if listed is not None:
        out(render([(i.name, i, i.pool_name) for i in listed]))
        return 0
    with session(ctx, write=False) as libxl:
        infos = _infos(libxl, domains)
        if details:
            out(libxl.list_long_json([i.domid for i in infos]))
            return 0
        out(render([(libxl.domid_to_name(i.domid) or "", i,
                     libxl.cpupoolid_to_name(i.cpupool) if cpupool else None)
                    for i in infos]))
    return 0


def list_fields(name: str, i) -> dict:
    """One `xl list` row as docs/json.md names it: the table's numbers unrounded."""
    return {"name": name, "domid": i.domid, "uuid": i.uuid,
            "memory_kb": i.current_memkb, "mem_mib": i.current_memkb // 1024,
            "vcpus": i.vcpu_online, "state": _state(i),
            "shutdown_reason": i.shutdown_reason if i.shutdown else None,
            "cpu_time_ns": i.cpu_time_ns}


def _list_json(rows) -> str:
    return dumps([dict(list_fields(name, i), cpupool=pool) for name, i, pool in rows])


def _infos(libxl, domains) -> list:
    """The one domain named (xl's error if it does not exist), else all of them."""
    if not domains:
        return libxl.list_domain()
    info = libxl.domain_info(libxl.domain_qualifier_to_domid(domains[0]))
    if info is None:
        raise PyxlError(f"Error: Domain '{domains[0]}' does not exist.")
    return [info]


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
@click.option("--json", "as_json", is_flag=True)
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_claims(ctx, as_json, ignored):
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
    if as_json:
        out(dumps([dict(list_fields(name, i), outstanding_memkb=0) for name, i, _ in rows]))
    else:
        out(_list_text(rows, False, False, False, False, claim=True))
    return 0


@xl_command("vm-list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def cmd_vm_list(ctx, as_json):
    with session(ctx, write=False) as libxl:
        rows = [{"uuid": i.uuid, "domid": i.domid, "name": libxl.domid_to_name(i.domid)}
                for i in libxl.list_domain()]
    if as_json:
        out(dumps(rows))
        return 0
    lines = ["UUID                                  ID    name"]
    lines.extend(f"{r['uuid']}  {r['domid']}    {r['name']:<30}" for r in rows)
    out("\n".join(lines) + "\n")
    return 0


@xl_command("info")
@click.option("-n", "--numa", is_flag=True)
@click.option("-x", "--xenstore", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.argument("name", required=False)
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_info(ctx, numa, xenstore, as_json, name, ignored):
    with session(ctx, write=False) as libxl:
        sections = info_sections(libxl, numa, xenstore)
    if as_json:
        out(dumps(_info_json(sections, None if numa else name)))
        return 0
    lines: list[str] = []
    for kind, body in sections:
        if kind == "pairs":
            lines.extend(f"{k:<23}:{v}\n" for k, v in body)
        elif kind == "cpu_topology":
            lines.append("cpu_topology           :\n")
            lines.append("cpu:    core    socket     node\n")
            lines.extend(f"{c:3d}:    {core:4d}     {s:4d}     {n:4d}\n" for c, core, s, n in body)
            lines.append("device topology        :\n")
            lines.append("device           node\n")
            lines.append("No device topology data available\n")
        else:
            lines.append("numa_info              :\n")
            lines.append("node:    memsize    memfree    distances\n")
            for node, size, free, dists in body:
                lines.append(f"{node:4d}:    {size:6d}     {free:6d}      "
                             + ",".join(str(d) for d in dists) + "\n")
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


def info_sections(libxl, numa: bool, xenstore: bool) -> list[tuple[str, list]]:
    """`xl info`'s data in its order: ("pairs", [(key, " value")]) and, with
    -n, ("cpu_topology", [(cpu, core, socket, node)]) and ("numa_info",
    [(node, memsize MiB, memfree MiB, distances)])."""
    sections = [("pairs", libxl.info_uname() + libxl.info_physinfo())]
    if numa:
        sections.append(("cpu_topology", libxl.get_cpu_topology()))
        sections.append(("numa_info", libxl.get_numainfo()))
    sections.append(("pairs", libxl.info_xeninfo()))
    if xenstore:
        sections.append(("pairs", [("xenstore_features", " 0x00000000")]))
    sections.append(("pairs", [("xend_config_format", " 4")]))
    return sections


def _info_value(text: str):
    """A value as `xl info` prints it, a number when it is one."""
    import re

    text = text.strip()
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"-?[0-9]+\.[0-9]+", text):
        return float(text)
    return text


def _info_json(sections, name: str | None) -> dict:
    doc: dict = {}
    for kind, body in sections:
        if kind == "pairs":
            doc.update((k, _info_value(v)) for k, v in body
                       if name is None or k.startswith(name))
        elif kind == "cpu_topology":
            doc[kind] = [{"cpu": c, "core": core, "socket": s, "node": n}
                         for c, core, s, n in body]
        else:
            doc[kind] = [{"node": node, "memsize_mib": size, "memfree_mib": free,
                          "distances": list(dists)} for node, size, free, dists in body]
    return doc


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
@click.option("--json", "as_json", is_flag=True)
@click.argument("domains", nargs=-1)
@click.pass_context
def cmd_uptime(ctx, short, as_json, domains):
    with session(ctx, write=False) as libxl:
        now, rows = uptime_rows(libxl, domains)
    if as_json:
        out(dumps([{"name": name, "domid": domid, "uptime_s": up} for name, domid, up in rows]))
        return 0
    clock = time.strftime("%H:%M:%S", time.localtime(now))
    lines = [] if short else [f"{'Name':<33} {'ID':>4} Uptime"]
    for name, domid, up in rows:
        if short:
            lines.append(f" {clock} up {_uptime_text(up, True)}, {name} ({domid})")
        else:
            lines.append(f"{name:<33} {domid:>4} {_uptime_text(up, False)}")
    out("".join(line + "\n" for line in lines))
    return 0


def uptime_rows(libxl, domains) -> tuple[int, list[tuple[str, int, int]]]:
    """The host's wall clock and (name, domid, seconds up) of each domain
    asked for (all when none), skipping one with no start time."""
    ids = [libxl.domain_qualifier_to_domid(q) for q in domains]
    host_clock = libxl.clock()
    now = int(host_clock.wall)
    if not ids:
        ids = [i.domid for i in libxl.list_domain()]
    rows = []
    for domid in ids:
        if domid == 0:
            up = host_clock.now_ns // 1_000_000_000  # dom0's /proc/uptime
        else:
            start = libxl.vm_get_start_time(domid)
            if start is None:
                continue
            up = now - start
        rows.append((libxl.domid_to_name(domid), domid, up))
    return now, rows


@xl_command("dmesg")
@click.option("-c", "--clear", is_flag=True)
@click.pass_context
def cmd_dmesg(ctx, clear):
    with session(ctx, write=clear) as libxl:
        out("".join(line + "\n" for line in libxl.xen_console_read(clear)))
    return 0



@xl_command("sharing")
@click.option("--json", "as_json", is_flag=True)
@click.argument("domains", nargs=-1)
@click.pass_context
def cmd_sharing(ctx, as_json, domains):
    """xl's main_sharing: each domain's memory and how much of it is shared.
    pyxl's Xen shares no pages between domains (no mem_sharing), so the
    Shared column is 0, as on a host that never ran xenpaging's sharing."""
    if len(domains) > 1:
        return print_help_and_fail("sharing")
    with session(ctx, write=False) as libxl:
        infos = _infos(libxl, domains)
        rows = [(libxl.domid_to_name(i.domid) or "", i) for i in infos]
    if as_json:
        out(dumps([{"name": name, "domid": i.domid, "memory_kb": i.current_memkb,
                    "mem_mib": i.current_memkb // 1024, "shared_memkb": 0}
                   for name, i in rows]))
        return 0
    lines = ["Name                                        ID   Mem Shared\n"]
    lines.extend(f"{name:<40} {i.domid:>5} {i.current_memkb // 1024:>5}  {0:>5}\n"
                 for name, i in rows)
    out("".join(lines))
    return 0
