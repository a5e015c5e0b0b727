"""xl's cpupool-* commands (xl_cpupool.c): output and messages as xl prints them."""

from __future__ import annotations

import click

from pyxl.cli.base import err, globals_of, need_args, out, print_help_and_fail, session, xl_command
from pyxl.cnum import domid_from_digits
from pyxl.errors import PyxlError


@xl_command("cpupool-list")
@click.option("-c", "--cpus", "show_cpus", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.argument("pools", nargs=-1)
@click.pass_context
def cmd_cpupool_list(ctx, show_cpus, as_json, pools):
    with session(ctx, write=False) as libxl:
        only = None
        if pools:
            only = libxl.name_to_cpupoolid(pools[0])
            if only is None:
                raise PyxlError(f"Pool '{pools[0]}' does not exist")
        listed = [p for p in libxl.list_cpupool() if only is None or p.poolid == only]
    if as_json:
        from pyxl.cli.base import dumps

        out(dumps([{"name": p.name, "poolid": p.poolid, "cpus": list(p.cpus),
                    "n_cpus": len(p.cpus), "sched": p.sched, "active": True,
                    "n_dom": p.n_dom} for p in listed]))
        return 0
    lines = [f"{'Name':<19}" + ("CPU list" if show_cpus else
                                "CPUs   Sched     Active   Domain count")]
    for p in listed:
        if show_cpus:
            lines.append(f"{p.name:<19}" + ",".join(str(c) for c in p.cpus))
        else:
            lines.append(f"{p.name:<19}{len(p.cpus):>3} {p.sched:>9}       y       "
                         f"{p.n_dom:>4}")
    out("\n".join(lines) + "\n")
    return 0


@xl_command("cpupool-create")
@click.option("-f", "--defconfig", "defconfig")
@click.option("-n", "--dryrun", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_create(ctx, defconfig, dryrun, args):
    from pyxl.toolstack import read_config_text

    dryrun = dryrun or globals_of(ctx).dryrun
    filename, extra = defconfig, []
    for arg in args:
        if "=" in arg:
            extra.append(arg)
        elif filename is None:
            filename = arg
        else:
            return print_help_and_fail("cpupool-create")
    text = ""
    if filename is not None:
        try:
            text = read_config_text(filename)
        except PyxlError as e:
            raise PyxlError(e.message, 1) from None
    if extra:
        text += "".join("\n" + a for a in extra) + "\n"
    with session(ctx, write=not dryrun) as libxl:
        spec = libxl.parse_cpupool_config(text, filename)
        out(f'Using config file "{spec.source}"\n'
            f"cpupool name:   {spec.name}\n"
            f"scheduler:      {spec.sched}\n"
            f"number of cpus: {len(spec.cpus)}\n")
        if not dryrun:
            libxl.cpupool_create(spec)
    return 0


@xl_command("cpupool-destroy")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_destroy(ctx, args):
    need_args("cpupool-destroy", args, 1)
    with session(ctx, write=True) as libxl:
        poolid = libxl.require_cpupool(args[0])
        if not libxl.cpupool_destroy(poolid):
            raise PyxlError(f"Can't destroy cpupool '{args[0]}'")
    return 0


@xl_command("cpupool-rename")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_rename(ctx, args):
    need_args("cpupool-rename", args, 2)
    with session(ctx, write=True) as libxl:
        poolid = libxl.require_cpupool(args[0])
        libxl.cpupool_rename(poolid, args[1])
    return 0


def _cpus_and_pool(libxl, args):
    cpus = libxl.parse_cpurange(args[1])  # xl parses the CPU list before the pool
    return libxl.require_cpupool(args[0]), cpus


@xl_command("cpupool-cpu-add")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_cpu_add(ctx, args):
    need_args("cpupool-cpu-add", args, 2)
    with session(ctx, write=True) as libxl:
        poolid, cpus = _cpus_and_pool(libxl, args)
        if not libxl.cpupool_cpuadd_cpumap(poolid, cpus):
            err(f"some cpus may not have been added to {args[0]}")
    return 0


@xl_command("cpupool-cpu-remove")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_cpu_remove(ctx, args):
    need_args("cpupool-cpu-remove", args, 2)
    with session(ctx, write=True) as libxl:
        poolid, cpus = _cpus_and_pool(libxl, args)
        if not libxl.cpupool_cpuremove_cpumap(poolid, cpus):
            err(f"Some cpus may have not or only partially been removed from "
                      f"'{args[0]}'.")
            err(f"If a cpu can't be added to another cpupool, add it to "
                      f"'{args[0]}' again and retry.")
    return 0


@xl_command("cpupool-migrate")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_migrate(ctx, args):
    need_args("cpupool-migrate", args, 2)
    dom, pool = args[0], args[1]
    with session(ctx, write=True) as libxl:
        if dom.isdigit() and dom.isascii():
            domid = domid_from_digits(dom)
        else:
            domid = libxl.name_to_domid(dom)
        if domid is None or libxl.domid_to_name(domid) is None:
            raise PyxlError(f"unknown domain '{dom}'")
        poolid = libxl.require_cpupool(pool)
        libxl.cpupool_movedomain(poolid, domid)
    return 0


@xl_command("cpupool-numa-split")
@click.pass_context
def cmd_cpupool_numa_split(ctx):
    with session(ctx, write=True) as libxl:
        libxl.cpupool_numa_split()
    return 0
