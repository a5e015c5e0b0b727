"""xl migrate and migrate-receive (xl_migrate.c): both ends of xl's protocol.

The sender migrates live, as xl always does: pre-copy rounds while the guest
runs, then its suspend and the stop-and-copy round (pyxl/toolstack/precopy.py,
docs/migration.md).
"""

from __future__ import annotations

import sys

import click

from pyxl.cli import base
from pyxl.cli.base import globals_of, need_args, print_help_and_fail, session, xl_command
from pyxl.errors import PyxlError

RECEIVER_STREAM = "migration receiver stream"
INCOMING = "<incoming migration stream>"
FAILED_BADLY = (
    "** Migration failed during final handshake **\n"
    "Domain state is now undefined !\n"
    "Please CHECK AT BOTH ENDS for running instances, before renaming and\n"
    " resuming at most one instance.  Two simultaneous instances of the domain\n"
    " would probably result in SEVERE DATA LOSS and it is now your\n"
    " responsibility to avoid that.  Sorry.")


def err(text: str) -> None:
    """A message on stderr; once stderr is gone, xl (which ignores SIGPIPE)
    carries on without it, and so does a migration half done."""
    try:
        base.err(text)
    except (OSError, ValueError):
        pass


class _Failed(Exception):
    """A step of the sender failed; `how` is where xl's code goes next."""

    def __init__(self, how: str):
        super().__init__(how)
        self.how = how


@xl_command("migrate")
@click.option("-C", "config_file")
@click.option("-D", "preserve_domid", is_flag=True)
@click.option("-F", "foreground", is_flag=True)
@click.option("-e", "no_monitor", is_flag=True)
@click.option("-p", "paused", is_flag=True)
@click.option("-s", "ssh_command", default=None)
@click.option("--debug", "debug", is_flag=True)
@click.option("--live", "live", is_flag=True)  # xm's; accepted and ignored, as xl does
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_migrate(ctx, config_file, preserve_domid, foreground, no_monitor, paused,
                ssh_command, debug, live, args):
    from pyxl.toolstack import migrate as mig

    need_args("migrate", args, 2)
    g = globals_of(ctx)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        name = libxl.domid_to_name(domid)
    host = args[1]
    flags = mig.ReceiverFlags(tty=g.progress_cr or sys.stderr.isatty(), timestamps=g.timestamps,
                              verbose=g.verbose, no_monitor=no_monitor or foreground,
                              debug=debug, paused=paused)
    if ssh_command is None and mig.local_host(host):
        command = mig.local_rune(host, flags)
    else:
        command = mig.rune("ssh" if ssh_command is None else ssh_command, host, flags)
    return migrate_domain(ctx, domid, name, preserve_domid, command, config_file)


def open_stream(command: str, data: bytes):
    """xl's migrate preamble (migrate and remus): run the receiver, wait for
    its banner, send the save-file header. The receiver, or None once its
    failure is reported."""
    from pyxl.toolstack import migrate as mig
    from pyxl.toolstack.stream import encode_save_header, save_header

    child = mig.Child(command, err)
    try:
        _expect(child, mig.RECEIVER_BANNER, "banner")
    except _Failed:
        child.close_send()
        _child_report(child)
        return None
    header = save_header(data)
    try:
        child.send.write(encode_save_header(header))
        child.send.flush()
    except OSError:
        pass  # the stream's write that follows fails the same way, and says so
    err(f"Saving to migration stream new xl format (info {header.info})")
    return child


def migrate_domain(ctx, domid: int, name: str | None, preserve_domid: bool, command: str,
                   config_file: str | None) -> int:
    """xl's migrate_domain: preamble, suspend into the pipe, then the handshake."""
    from pyxl.cli.saverestore import save_config
    from pyxl.toolstack import migrate as mig

    with session(ctx, write=False) as libxl:
        try:
            config, data = save_config(libxl, domid, preserve_domid, config_file)
        except PyxlError as e:
            if config_file is None:
                raise PyxlError("No config file stored for running domain and none supplied"
                                " - cannot migrate.") from None
            raise e
    child = open_stream(command, data)
    if child is None:
        return 1
    rc, figures = _save_live(ctx, domid, child.send, config, config_file is not None)
    try:
        if rc:
            err(f"migration sender: libxl_domain_suspend failed (rc={rc})")
            raise _Failed("suspend" if rc == -8 else "resume")
        err(summary(figures))
        _expect(child, mig.RECEIVER_READY, "ready message")
        err("migration sender: Target has acknowledged transfer.")
        away = f"{name}--migratedaway" if name else None
        if away:
            with session(ctx, write=True) as libxl:
                try:
                    libxl.domain_rename(domid, away, name)
                except PyxlError:
                    raise _Failed("resume") from None
        err("migration sender: Giving target permission to start.")
        _send(child, mig.PERMISSION_TO_GO)
        _expect(child, mig.REPORT, "success/failure report message", badly=True)
        status = mig.read_exactly(child.recv, 1)
        if len(status) != 1:
            err("libxl: error: libxl_utils.c:494:libxl_read_exactly: file/stream truncated "
                "reading success/failure status from migration ack stream")
            raise _Failed("badly")
        if status[0]:
            return _target_failed(ctx, child, domid, name, away, status[0])
    except _Failed as f:
        return _failed(ctx, child, domid, f.how)
    err("migration sender: Target reports successful startup.")
    with session(ctx, write=True) as libxl:
        libxl.domain_destroy(domid)
    err("Migration successful.")
    child.finish()
    return 0


def _save_live(ctx, domid: int, out, config, override: bool):
    """libxl_domain_suspend(LIBXL_SUSPEND_LIVE), as xl migrate always asks:
    (rc, the pre-copy's figures). xl hides libxc's progress meanwhile; on a
    terminal pyxl draws each round's bar instead."""
    from pyxl.toolstack.libxl import domain_save_live

    report = _RoundBars() if sys.stderr.isatty() else None
    return domain_save_live(lambda: session(ctx, write=True), domid, out, config, override,
                            report)


class _RoundBars:
    """A finished rich progress bar per pre-copy round (the simulation sends
    a round at once, so there is nothing to animate)."""

    def __init__(self):
        from rich.console import Console

        self.console = Console(stderr=True)

    def __call__(self, what: str, iteration: int, pages: int, ns: int) -> None:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        if what != "round":
            if what == "suspended":
                self.console.print("xc: progress: Domain now suspended", highlight=False)
            return
        row = Table.grid(padding=(0, 1))
        row.add_row(f"Frames iteration {iteration}", ProgressBar(total=max(pages, 1),
                    completed=max(pages, 1), width=30),
                    f"{pages} pages", f"{ns / 1e9:.3f} s")
        self.console.print(row)


def summary(figures: dict) -> str:
    """pyxl's account of the pre-copy (xl prints none): rounds, pages,
    total time and the guest's downtime."""
    return (f"migration sender: pre-copy: {figures['rounds']} rounds, {figures['pages']} "
            f"pages sent, {figures['total_ns'] / 1e9:.3f} s in all, downtime "
            f"{figures['downtime_ns'] / 1e6:.1f} ms")


def _expect(child, message: bytes, what: str, badly: bool = False) -> None:
    """migrate_read_fixedmessage from the receiver; _Failed if it is not there."""
    from pyxl.toolstack.migrate import read_exactly

    got = read_exactly(child.recv, len(message))
    if len(got) < len(message):
        err("libxl: error: libxl_utils.c:494:libxl_read_exactly: file/stream truncated "
            f"reading {what} from {RECEIVER_STREAM}")
        raise _Failed("badly" if badly else "resume")
    if got != message:
        err(f"{RECEIVER_STREAM} contained unexpected data instead of {what}")
        err(f"(command run was: {child.command} )")
        raise _Failed("badly" if badly else "resume")


def _send(child, message: bytes) -> None:
    try:
        child.send.write(message)
        child.send.flush()
    except OSError as e:
        err(f"libxl: error: libxl_utils.c:485:libxl_write_exactly: failed to write GO message"
            f" from migration stream: {e.strerror or e}")
        raise _Failed("badly") from None


def _target_failed(ctx, child, domid: int, name, away, status: int) -> int:
    """The receiver could not start its copy: it destroys it and, once it
    has, gives us permission to resume ours."""
    from pyxl.toolstack.migrate import PERMISSION_TO_GO

    err(f"migration sender: Target reports startup failure (status code {status}).")
    try:
        _expect(child, PERMISSION_TO_GO, "permission for sender to resume", badly=True)
    except _Failed:
        return _failed(ctx, child, domid, "badly")
    err("migration sender: Trying to resume at our end.")
    with session(ctx, write=True) as libxl:
        if away:
            try:
                libxl.domain_rename(domid, name, away)
            except PyxlError:
                pass
        rc = libxl.domain_resume(domid)
    if not rc:
        err("migration sender: Resumed OK.")
    err("Migration failed due to problems at target.")
    child.finish()
    return 1


def _failed(ctx, child, domid: int, how: str) -> int:
    """xl's failed_suspend, failed_resume and failed_badly."""
    if how == "badly":
        err(FAILED_BADLY)
        child.close_send()
        _child_report(child)
        return 1
    child.close_send()
    _child_report(child)
    if how == "suspend":
        err("Migration failed, failed to suspend at sender.")
        return 1
    err("Migration failed, resuming at sender.")
    with session(ctx, write=True) as libxl:
        libxl.domain_resume(domid)
    return 1


def _child_report(child) -> None:
    """migration_child_report: the transport's exit status, if it failed."""
    status = child.finish()
    if status is None:
        err(f"migration child [{child.pid}] not exiting, no longer waiting "
            "(exit status will be unreported)")
    elif status:
        err(f"migration transport process [{child.pid}] exited with error status {status}")


@xl_command("migrate-receive")
@click.option("-F", "foreground", is_flag=True)
@click.option("-d", "debug", is_flag=True)
@click.option("-e", "no_monitor", is_flag=True)
@click.option("-p", "paused", is_flag=True)
@click.option("-r", "remus", is_flag=True)
@click.option("--colo", "colo", is_flag=True)
@click.option("--coloft-script", "coloft_script", default=None)
@click.option("--userspace-colo-proxy", "colo_proxy", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_migrate_receive(ctx, foreground, debug, no_monitor, paused, remus, colo,
                        coloft_script, colo_proxy, args):
    if args:
        return print_help_and_fail("migrate-receive")
    return migrate_receive(ctx, sys.stdin.buffer, sys.stdout.buffer, debug=debug,
                           monitored=not no_monitor, pause_after=paused, remus=remus)


def migrate_receive(ctx, recv, send, *, debug: bool, monitored: bool, pause_after: bool,
                    remus: bool = False) -> int:
    """xl's migrate_receive: restore into NAME--incoming, paused; on "go",
    rename and unpause, and report."""
    from pyxl.cli.saverestore import restore_from
    from pyxl.toolstack import migrate as mig

    err("migration target: Ready to receive domain.")
    if not _write(send, mig.RECEIVER_BANNER):
        return 1
    try:
        domid, incoming = restore_from(ctx, recv, INCOMING, None, paused=True,
                                       monitored=monitored, debug=debug, incoming=True)
    except PyxlError as e:
        if e.message:
            err(e.message.rstrip("\n"))
        code = -6 if e.message.startswith(("File has", "Savefile", "Config file")) else -3
        err(f"migration target: Domain creation failed (code {code}).")
        return 1
    if remus:
        return _remus_backup(ctx, recv, domid, incoming)
    err("migration target: Transfer complete, requesting permission to start domain.")
    if not _write(send, mig.RECEIVER_READY):
        return 1
    got = mig.read_exactly(recv, len(mig.PERMISSION_TO_GO))
    rc = 0
    if got != mig.PERMISSION_TO_GO:
        if len(got) < len(mig.PERMISSION_TO_GO):
            err("libxl: error: libxl_utils.c:494:libxl_read_exactly: file/stream truncated "
                "reading GO message from migration stream")
        else:
            err("migration stream contained unexpected data instead of GO message")
        rc = 1
    else:
        err("migration target: Got permission, starting domain.")
        rc = _start(ctx, domid, incoming, pause_after)
        if not rc:
            err("migration target: Domain started successsfully.")
    if not _write(send, mig.REPORT + bytes([(-rc) & 0xFF])):
        return 1
    if rc:
        err("migration target: Failure, destroying our copy.")
        try:
            with session(ctx, write=True) as libxl:
                libxl.domain_destroy(domid)
        except PyxlError:
            err("migration target: Failed to destroy our copy (code -3).")
            return 1
        err("migration target: Cleanup OK, granting sender permission to resume.")
        if not _write(send, mig.PERMISSION_TO_GO):
            return 1
    return 0


def _remus_backup(ctx, recv, domid: int, incoming: str) -> int:
    """A Remus backup: NAME--incoming, paused, becomes each complete
    checkpoint; when the stream ends (the primary is gone) it fails over to
    the last one, renamed and unpaused, as xl's migrate_receive -r does."""
    from pyxl.errors import ERROR_INVAL, LibxlError
    from pyxl.toolstack import libxl as lx
    from pyxl.toolstack.saverestore import read_image
    from pyxl.toolstack.stream import StreamError

    while True:
        try:
            image = read_image(recv)
        except (StreamError, OSError, ValueError):
            break  # a checkpoint cut short is dropped: the last whole one stands
        try:
            with session(ctx, write=True) as libxl:
                lx.remus_apply_checkpoint(libxl, domid, incoming, image)
        except PyxlError:
            break
    err(f"migration target: Remus Failover for domain {domid}")
    name = incoming[:-len("--incoming")]
    rc = 0
    try:
        with session(ctx, write=True) as libxl:
            libxl.domain_rename(domid, name, incoming)
    except PyxlError as e:
        rc = e.rc if isinstance(e, LibxlError) else ERROR_INVAL
        err(f"migration target (Remus): Failed to rename domain from {incoming} to "
            f"{name}:{rc}")
    try:
        with session(ctx, write=True) as libxl:
            libxl.domain_unpause(domid)
    except PyxlError as e:
        rc = e.rc if isinstance(e, LibxlError) else -3
        err(f"migration target (Remus): Failed to unpause domain {name} (id: {domid}):{rc}")
        return 1
    return 0


def _start(ctx, domid: int, incoming: str, pause_after: bool) -> int:
    """Rename NAME--incoming to NAME and unpause: 0, or the libxl rc (a name
    taken on this host is libxl_domain_rename's ERROR_INVAL, logged)."""
    from pyxl.errors import ERROR_FAIL, ERROR_INVAL, LibxlError

    name = incoming[:-len("--incoming")]
    rc = 0
    try:
        with session(ctx, write=True) as libxl:
            rc = ERROR_INVAL
            libxl.domain_rename(domid, name, incoming)
            rc = ERROR_FAIL
            if not pause_after:
                libxl.domain_unpause(domid)
    except LibxlError as e:
        return e.rc
    except PyxlError:
        return rc
    return 0


def _write(f, data: bytes) -> bool:
    try:
        f.write(data)
        f.flush()
    except OSError:
        return False
    return True
