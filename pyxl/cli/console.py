"""xl console: the guest's console, as xenconsoled logged it.

A real `xl console` attaches interactively; pyxl prints what the simulated
guest has written to the console up to now (its boot log, its login
prompt), which is what a student wants to see and what a script can read.
"""

from __future__ import annotations

import click

from pyxl.cli.base import need_args, out, session, xl_command
from pyxl.cnum import atoi
from pyxl.errors import PyxlError

CONSOLE_TYPES = ("pv", "serial", "vuart")


@xl_command("console")
@click.option("-t", "ctype")
@click.option("-n", "num", default="0")
@click.option("-e", "escape")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_console(ctx, ctype, num, escape, args):
    if ctype is not None and ctype not in CONSOLE_TYPES:
        raise PyxlError("console type supported are: pv, serial, vuart")
    need_args("console", args, 1)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        lines = libxl.console_log(domid, ctype, atoi(num))
    if lines is None:
        raise PyxlError("Unable to attach console")
    out("".join(line + "\n" for line in lines))
    return 0
