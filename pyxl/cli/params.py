"""xl set-parameters (xl_misc.c): Xen's runtime parameters, through libxl."""

from __future__ import annotations

import click

from pyxl.cli.base import err, need_args, session, xl_command
from pyxl.errors import LibxlError


@xl_command("set-parameters")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_set_parameters(ctx, args):
    need_args("set-parameters", args, 1)
    with session(ctx, write=True) as libxl:
        try:
            libxl.set_parameters(args[0])
        except LibxlError:
            err(f"cannot set parameters: {args[0]}")
            return 1
    return 0
