"""xl devd (xl_misc.c): the daemon a driver domain runs to serve backends.

Real xl daemonizes (or, with -F, stays in the foreground) and waits for
device events for ever. pyxl's Domain-0 serves every backend itself and
has no driver domains, so there is nothing for devd to wait for: it does
what xl does up to the wait and returns at once, 0, as libxl's handler
does when it ends without error. The pidfile gets this process's pid, as
the daemon's would; a failure to write it goes, as in xl, to the daemon's
log (/var/log/xen/xldevd.log), not to the terminal.
"""

from __future__ import annotations

import click

from pyxl.cli.base import xl_command


@xl_command("devd")
@click.option("-F", "foreground", is_flag=True)
@click.option("-p", "--pidfile", default=None)
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_devd(ctx, foreground, pidfile, ignored):
    if not foreground and pidfile:
        import os

        try:
            fd = os.open(pidfile, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                os.write(fd, f"{os.getpid()}\n".encode())
            finally:
                os.close(fd)
        except OSError:
            pass
    return 0
