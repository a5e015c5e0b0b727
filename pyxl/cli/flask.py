"""xl's FLASK commands (xl_flask.c): getenforce, setenforce, loadpolicy.

None of them runs getopt: their words are taken as they come, so `-h` is
only an argument. Each returns libxl's value as its exit status, as xl
does: getenforce exits 1 when enforcing, and -1 (255) on a host without
FLASK.
"""

from __future__ import annotations

import sys

import click

from pyxl.cli.base import err, help_text, out, session
from pyxl.cli.cmdtable import lookup

_RAW = {"ignore_unknown_options": True, "allow_interspersed_args": False}


def _help_and_fail(name: str) -> int:
    sys.stdout.write(help_text(lookup(name)))
    return 2


@click.command("getenforce", add_help_option=False, context_settings=_RAW)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def cmd_getenforce(ctx, argv):
    with session(ctx, write=False) as libxl:
        mode, errno = libxl.flask_getenforce()
    if errno == "ENOSYS":
        out("Flask XSM Disabled\n")
    elif errno is not None:
        err("Failed to get enforcing mode")
    else:
        out("Enforcing\n" if mode == 1 else "Permissive\n")
    return mode & 0xFF


@click.command("setenforce", add_help_option=False, context_settings=_RAW)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def cmd_setenforce(ctx, argv):
    if not argv:
        return _help_and_fail("setenforce")
    word = argv[0]
    modes = {"0": 0, "1": 1}
    mode = modes.get(word, {"permissive": 0, "enforcing": 1}.get(word.lower()))
    if mode is None:
        return _help_and_fail("setenforce")
    with session(ctx, write=True) as libxl:
        errno = libxl.flask_setenforce(mode)
    if errno == "ENOSYS":
        err("Flask XSM disabled")
    elif errno is not None:
        err("error occurred while setting enforcing mode (-1)")
    return 0 if errno is None else 255


@click.command("loadpolicy", add_help_option=False, context_settings=_RAW)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def cmd_loadpolicy(ctx, argv):
    if not argv:
        return _help_and_fail("loadpolicy")
    policy = _read_policy(argv[0])
    if policy is None:
        return 255
    with session(ctx, write=True) as libxl:
        errno = libxl.flask_loadpolicy(policy)
    if errno == "ENOSYS":
        err("Flask XSM disabled")
        return 255
    if errno is not None:
        # xl sets errno to -ret, and ret is xc's -1: strerror(1)
        err("Unable to load new Flask policy: Operation not permitted")
        return 255
    out("Successfully loaded policy.\n")
    return 0


def _read_policy(path: str) -> bytes | None:
    """open, stat and read the file as xl does; None once xl's message is out."""
    import os

    from pyxl.errors import strerror

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        err(f"Error occurred opening policy file '{path}': {_os_strerror(e, strerror)}")
        return None
    try:
        return os.read(fd, os.fstat(fd).st_size) if os.fstat(fd).st_size else b""
    except OSError as e:
        err(f"Unable to read new Flask policy file: {_os_strerror(e, strerror)}")
        return None
    finally:
        os.close(fd)


def _os_strerror(e: OSError, strerror) -> str:
    import errno as errnos

    name = errnos.errorcode.get(e.errno or 0, "")
    return strerror(name) if name else (e.strerror or str(e))
