"""xl vncviewer (xl_console.c): exec a VNC viewer at the domain's display.

xl replaces itself with the viewer and prints nothing; pyxl has no VNC
server to view, so where the exec would happen it prints what it would have
run, in the place xl prints libxl__exec's failure, and exits as that
failure does (255).
"""

from __future__ import annotations

import click

from pyxl.cli.base import err, need_args, session, xl_command
from pyxl.errors import LibxlError


@xl_command("vncviewer")
@click.option("-a", "--autopass", "--vncviewer-autopass", "autopass", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vncviewer(ctx, autopass, args):
    need_args("vncviewer", args, 1)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        try:
            argv = libxl.vncviewer_args(domid, autopass)
        except LibxlError:
            return 1
    err(f"libxl: cannot execute {argv[0]}: pyxl simulates no VNC server "
        f"(would run: {' '.join(argv)})")
    return 255
