"""xl remus (xl_migrate.c's main_remus): Remus HA over xl's migration protocol.

The primary migrates the domain live to the backup (`migrate-receive -r`),
keeps it running, and checkpoints it each time its clock has moved by the
interval: on a realtime clock every interval of wall time, on a manual clock
whenever another command advances it (one checkpoint however far it moved).
It runs until the primary domain is destroyed ("Remus: Primary domain has
been destroyed.", exit 0), its host is destroyed (it dies with it, silently,
exit 1), or the backup fails; the stream then ends and the backup fails over
to the last complete checkpoint (docs/migration.md).
"""

from __future__ import annotations

import sys
import time

import click

from pyxl.cli.base import globals_of, need_args, session, xl_command
from pyxl.cli.migrate import err
from pyxl.errors import PyxlError

POLL_S = 0.05
ERROR_GUEST_TIMEDOUT = -8
UNSAFE = ("libxl: error: libxl_domain.c:446:libxl_domain_remus_start: Domain {}:Unsafe mode "
          "must be enabled to replicate to /dev/null,disable network buffering and disk "
          "replication")
NO_COLO = ("libxl: error: libxl_no_colo.c:42:libxl__colo_save_setup: Domain {}:"
           "COLO is not supported")


class _HostGone(Exception):
    """The primary's host was destroyed under us: we die with it."""


def _atoi(text: str) -> int:
    """C's atoi: the leading decimal number, 0 without one."""
    s = text.lstrip()
    sign = -1 if s[:1] == "-" else 1
    s = s[1:] if s[:1] in "+-" else s
    digits = ""
    for ch in s:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


@xl_command("remus")
@click.option("-i", "interval", default=None)
@click.option("-u", "no_compression", is_flag=True)
@click.option("-s", "ssh_command", default=None)
@click.option("-e", "no_daemon", is_flag=True)
@click.option("-N", "netbufscript", default=None)
@click.option("-F", "allow_unsafe", is_flag=True)
@click.option("-b", "blackhole", is_flag=True)
@click.option("-n", "no_netbuf", is_flag=True)
@click.option("-d", "no_diskbuf", is_flag=True)
@click.option("-c", "colo", is_flag=True)
@click.option("-p", "colo_proxy", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_remus(ctx, interval, no_compression, ssh_command, no_daemon, netbufscript,
              allow_unsafe, blackhole, no_netbuf, no_diskbuf, colo, colo_proxy, args):
    need_args("remus", args, 2)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
    host = args[1]
    interval_ms = _atoi(interval) if interval is not None else 0
    if not colo and not interval_ms:
        interval_ms = 200
    if colo_proxy and not colo:
        sys.stderr.write("Option -p must be used in conjunction with -c")
        sys.stderr.flush()
        return 255
    if colo:
        if interval_ms or blackhole or no_netbuf or no_diskbuf:
            err("option -c is conflict with -i, -d, -n or -b: Success")
            return 255
        if not no_compression:
            err("COLO can't be used with memory compression. Disable memory checkpoint "
                "compression now...: Success")
    script = netbufscript or ("colo-proxy-setup" if colo else "remus-netbuf-setup")
    if blackhole:
        return _blackhole(ctx, domid, allow_unsafe)
    rune = _rune(ctx, ssh_command, host, colo, script, colo_proxy, not no_daemon)
    return _remus(ctx, domid, rune, interval_ms, colo,
                  unsafe=not allow_unsafe and (no_netbuf or no_diskbuf))


def _rune(ctx, ssh_command, host: str, colo: bool, script: str, proxy: bool,
          daemonize: bool) -> str:
    """main_remus's command for the backup; a host of this state directory
    (no -s) runs pyxl's receiver there, as migrate does."""
    import shlex

    from pyxl.toolstack import migrate as mig

    if ssh_command == "":
        return host
    tail = "" if daemonize else " -e"
    if ssh_command is None and mig.local_host(host):
        argv = [sys.executable, "-m", "pyxl", "--host", host, "migrate-receive"]
        argv += ["--colo", "--coloft-script", script] if colo else ["-r"]
        argv += ["--userspace-colo-proxy"] if colo and proxy else []
        return "exec " + " ".join(shlex.quote(a) for a in argv) + tail
    ssh = ssh_command or "ssh"
    if not colo:
        return f"exec {ssh} {host} xl migrate-receive -r {tail}"
    return (f"exec {ssh} {host} xl migrate-receive --colo --coloft-script {script} "
            f"{'--userspace-colo-proxy' if proxy else ''} {tail}")


def _blackhole(ctx, domid: int, allow_unsafe: bool) -> int:
    """-b: checkpoints into /dev/null, no backup."""
    import os

    with open(os.devnull, "wb") as out:
        rc = _start(ctx, domid, out, None, 200, colo=False, unsafe=not allow_unsafe)
        return _after(ctx, domid, rc, colo=False)


def _remus(ctx, domid: int, rune: str, interval_ms: int, colo: bool, unsafe: bool) -> int:
    """The preamble (banner, save header), then libxl_domain_remus_start."""
    from pyxl.cli.migrate import open_stream
    from pyxl.cli.saverestore import save_config

    with session(ctx, write=False) as libxl:
        try:
            config, data = save_config(libxl, domid, False, None)
        except PyxlError:
            raise PyxlError("No config file stored for running domain and none supplied"
                            " - cannot start remus.") from None
    child = open_stream(rune, data)
    if child is None:
        return 1
    try:
        rc = _start(ctx, domid, child.send, config, interval_ms, colo=colo, unsafe=unsafe)
    except _HostGone:
        child.close_send()
        child.finish(timeout=30)
        return 1
    child.close_send()
    child.finish(timeout=30)  # the backup has failed over by the time we return
    return _after(ctx, domid, rc, colo)


def _after(ctx, domid: int, rc: int, colo: bool) -> int:
    """main_remus once libxl_domain_remus_start returns."""
    ha = "COLO" if colo else "Remus"
    with session(ctx, write=True) as libxl:
        if libxl.domid_to_name(domid) is None:
            err(f"{ha}: Primary domain has been destroyed.")
            return 0
        if rc == ERROR_GUEST_TIMEDOUT:
            err("Failed to suspend domain at primary.")
        else:
            err(f"{ha}: Backup failed? resuming domain at primary.")
            libxl.domain_resume(domid)
    return 1


def _start(ctx, domid: int, out, config, interval_ms: int, *, colo: bool,
           unsafe: bool) -> int:
    """libxl_domain_remus_start: the checks, the initial live save, then a
    checkpoint per interval until something ends it; the libxl rc."""
    from pyxl.errors import ERROR_FAIL
    from pyxl.toolstack import libxl as lx

    if unsafe:
        err(UNSAFE.format(domid))
        return ERROR_FAIL
    if colo:
        err(NO_COLO.format(domid))
        return ERROR_FAIL
    g = globals_of(ctx)

    def reopen():
        return lx.existing_host(g.host, lambda: session(ctx, write=True))

    try:
        rc, _figures = lx.domain_save_live(reopen, domid, out, config or _config(ctx, domid))
        if rc:
            return rc
        rc = lx.remus_resume_primary(reopen, domid)
        if rc:
            return rc
        return _checkpoints(reopen, domid, out, config or _config(ctx, domid),
                            interval_ms * 1_000_000)
    except lx.HostGone:
        raise _HostGone from None


def _config(ctx, domid: int):
    from pyxl.cli.saverestore import save_config

    with session(ctx, write=False) as libxl:
        return save_config(libxl, domid, False, None)[0]


def _checkpoints(reopen, domid: int, out, config, interval_ns: int) -> int:
    """Checkpoint each time the primary's clock has moved by the interval."""
    from pyxl.toolstack import libxl as lx

    _alive, last_ns = lx.remus_primary_state(reopen, domid)
    while True:
        alive, now = lx.remus_primary_state(reopen, domid)
        if not alive:
            return 0
        if now - last_ns < interval_ns:
            time.sleep(min(POLL_S, (last_ns + interval_ns - now) / 1e9))
            continue
        rc, figures = lx.remus_checkpoint(reopen, domid, out, config, last_ns)
        if rc == "gone":
            return 0
        if rc:
            return rc
        last_ns = figures["end_ns"]
