"""xl trigger, sysrq and button-press (xl_misc.c), which exit 0 whatever libxl
says, and dump-core."""

from __future__ import annotations

import click

from pyxl.cli.base import err, need_args, print_help_and_fail, session, xl_command
from pyxl.cnum import c_uint32, strtol
from pyxl.errors import PyxlError
from pyxl.toolstack import trigger_from_string


@xl_command("trigger")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_trigger(ctx, args):
    need_args("trigger", args, 2)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        name = trigger_from_string(args[1])
        if name is None:
            err(f'Invalid trigger "{args[1]}"')
            return 1
        vcpuid = 0
        if len(args) > 2:
            vcpuid, _, _ = strtol(args[2], 10)
            if vcpuid is None:
                err("Invalid vcpuid, using default vcpuid=0.\n\n")
                vcpuid = 0
        libxl.send_trigger(domid, name, c_uint32(vcpuid))  # a uint32_t in libxl
    return 0


@xl_command("sysrq")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_sysrq(ctx, args):
    need_args("sysrq", args, 2)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        if len(args[1]) != 1:
            err("Invalid sysrq.\n\n")
            return print_help_and_fail("sysrq", 1)
        libxl.send_sysrq(domid, args[1])
    return 0


@xl_command("button-press")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_button_press(ctx, args):
    err('WARNING: "button-press" is deprecated. Please use "trigger"')
    need_args("button-press", args, 2)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        if args[1] not in ("power", "sleep"):
            raise PyxlError(f"{args[1]} is an invalid button identifier")
        libxl.send_trigger(domid, args[1], 0)
    return 0


@xl_command("dump-core")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_dump_core(ctx, args):
    """xl dump-core: libxl_domain_core_dump; its failure is xl's one line, exit 1."""
    from pyxl.errors import LibxlError

    need_args("dump-core", args, 2)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        try:
            libxl.domain_core_dump(domid, args[1])
        except LibxlError as e:
            err(f"core dump failed (rc={e.rc})")
            return 1
    return 0
