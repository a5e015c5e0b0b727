"""xl qemu-monitor-command (xl_misc.c): an HMP command to a domain's device model."""

from __future__ import annotations

import click

from pyxl.cli.base import err, need_args, out, session, xl_command
from pyxl.errors import LibxlError


@xl_command("qemu-monitor-command")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_qemu_monitor_command(ctx, args):
    need_args("qemu-monitor-command", args, 2)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        if len(args) > 2:
            err("Invalid arguments.")
            return 1
        try:
            output = libxl.qemu_monitor_command(domid, args[1])
        except LibxlError:
            return 1
    out(output + "\n")
    return 0
