"""xl's cpupool-* commands (xl_cpupool.c): output and messages as xl prints them."""

from __future__ import annotations

import click

from pyxl.cli.base import err, globals_of, need_args, out, print_help_and_fail, session, xl_command
from pyxl.cnum import domid_from_digits
from pyxl.errors import PyxlError
from pyxl.toolstack import cpupool as cp
from pyxl.toolstack.domain import domid_of


@xl_command("cpupool-list")
@click.option("-c", "--cpus", "show_cpus", is_flag=True)
@click.argument("pools", nargs=-1)
@click.pass_context
def cmd_cpupool_list(ctx, show_cpus, pools):
    with session(ctx, write=False) as xc:
        only = None
        if pools:
            only = cp.pool_by_name(xc, pools[0])
            if only is None:
                raise PyxlError(f"Pool '{pools[0]}' does not exist")
        lines = [f"{'Name':<19}" + ("CPU list" if show_cpus else
                                    "CPUs   Sched     Active   Domain count")]
        for p in cp.list_pools(xc):
            if only is not None and p.poolid != only:
                continue
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
    from pyxl.toolstack.create import read_config_text

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
    with session(ctx, write=not dryrun) as xc:
        spec = cp.parse_pool_config(xc, text, filename)
        out(f'Using config file "{spec.source}"\n'
            f"cpupool name:   {spec.name}\n"
            f"scheduler:      {spec.sched}\n"
            f"number of cpus: {len(spec.cpus)}\n")
        if not dryrun:
            cp.create_pool(xc, spec)
    return 0


@xl_command("cpupool-destroy")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_destroy(ctx, args):
    need_args("cpupool-destroy", args, 1)
    with session(ctx, write=True) as xc:
        poolid = cp.require_pool(xc, args[0])
        if not cp.destroy_pool(xc, poolid):
            raise PyxlError(f"Can't destroy cpupool '{args[0]}'")
    return 0


@xl_command("cpupool-rename")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_rename(ctx, args):
    need_args("cpupool-rename", args, 2)
    with session(ctx, write=True) as xc:
        poolid = cp.require_pool(xc, args[0])
        cp.rename_pool(xc, poolid, args[1])
    return 0


def _cpus_and_pool(xc, args):
    cpus = cp.parse_cpus(xc, args[1])  # xl parses the CPU list before the pool
    return cp.require_pool(xc, args[0]), cpus


@xl_command("cpupool-cpu-add")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_cpu_add(ctx, args):
    need_args("cpupool-cpu-add", args, 2)
    with session(ctx, write=True) as xc:
        poolid, cpus = _cpus_and_pool(xc, args)
        if not cp.cpu_add(xc, poolid, cpus):
            err(f"some cpus may not have been added to {args[0]}")
    return 0


@xl_command("cpupool-cpu-remove")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cpupool_cpu_remove(ctx, args):
    need_args("cpupool-cpu-remove", args, 2)
    with session(ctx, write=True) as xc:
        poolid, cpus = _cpus_and_pool(xc, args)
        if not cp.cpu_remove(xc, poolid, cpus):
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
    with session(ctx, write=True) as xc:
        if dom.isdigit() and dom.isascii():
            domid = domid_from_digits(dom)
        else:
            domid = domid_of(xc, dom)
        if domid is None or xc.host.name_of(domid) is None:
            raise PyxlError(f"unknown domain '{dom}'")
        poolid = cp.require_pool(xc, pool)
        cp.move_domain(xc, poolid, domid)
    return 0


@xl_command("cpupool-numa-split")
@click.pass_context
def cmd_cpupool_numa_split(ctx):
    with session(ctx, write=True) as xc:
        cp.numa_split(xc)
    return 0
