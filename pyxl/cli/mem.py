"""xl mem-max and mem-set (xl_mem.c)."""

from __future__ import annotations

import click

from pyxl.cli.base import need_args, session, xl_command
from pyxl.errors import PyxlError
from pyxl.toolstack import parse_mem_size_kb


def _set_memory(ctx: click.Context, name: str, args: tuple, which: str, apply) -> int:
    """Both commands: parse xl's size syntax, call libxl, report as xl_mem.c does."""
    need_args(name, args, 2)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        kb = parse_mem_size_kb(args[1])
        if kb == -1:
            raise PyxlError(f"invalid memory size: {args[1]}")
        if apply(libxl, domid, kb):
            raise PyxlError(f"cannot set domid {domid} {which} memory to : {args[1]}")
    return 0


@xl_command("mem-max")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_mem_max(ctx, args):
    return _set_memory(ctx, "mem-max", args, "static max",
                       lambda libxl, domid, kb: libxl.domain_setmaxmem(domid, kb))


@xl_command("mem-set")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_mem_set(ctx, args):
    return _set_memory(ctx, "mem-set", args, "dynamic max",
                       lambda libxl, domid, kb: libxl.set_memory_target(
                           domid, kb, relative=False, enforce=True))
