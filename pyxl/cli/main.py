"""pyxl's entry point: xl's global options, command lookup and exit codes.

Like xl.c's main(): global options come before the subcommand (getopt's
"+vftTN"), the subcommand may be any unambiguous prefix of a command name,
`help` is handled here, and only the chosen command's module is imported.
This is the one place that turns errors into stderr lines and exit codes.
"""

from __future__ import annotations

import importlib
import os
import sys

from pyxl.cli.base import Globals, err, full_help, help_text, out
from pyxl.cli.cmdtable import lookup
from pyxl.errors import PyxlError

_LONG_WITH_VALUE = ("host", "as-domid")
# The command family that works inside a domU: the xenstore-* clients talk to
# /dev/xen/xenbus, which a guest has; everything else needs a libxl context.
_DOMU_FAMILY = "xenstore"


def _parse_globals(argv: list[str]) -> tuple[Globals, int]:
    """Parse global options; return them and the index of the subcommand."""
    g = Globals(host=None)
    env_domid = os.environ.get("PYXL_AS_DOMID")
    if env_domid:
        g.as_domid = _domid_option(env_domid, "PYXL_AS_DOMID")
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return g, i + 1
        if arg == "--trace":
            g.trace = True
        elif arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            if name not in _LONG_WITH_VALUE:
                raise PyxlError(f"xl: unrecognized option '{arg}'\nunknown global option")
            if not has_value:
                i += 1
                if i >= len(argv):
                    raise PyxlError(f"xl: option '--{name}' requires an argument\n"
                                    "unknown global option")
                value = argv[i]
            if name == "host":
                g.host = value
            else:
                g.as_domid = _domid_option(value, "--as-domid")
        elif arg.startswith("-") and len(arg) > 1:
            for letter in arg[1:]:
                if letter == "v":
                    g.verbose += 1
                elif letter == "N":
                    g.dryrun = True
                elif letter == "f":
                    g.force = True
                elif letter == "t":
                    g.progress_cr = True
                elif letter == "T":
                    g.timestamps = True
                else:
                    raise PyxlError(f"xl: invalid option -- '{letter}'\nunknown global option")
        else:
            return g, i
        i += 1
    return g, i


def _domid_option(value: str, what: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 5) or int(value) >= 0x7FF0:
        shown = value if value.isprintable() else ascii(value)[1:-1]
        raise PyxlError(f"invalid {what} '{shown}': a domain id is a number below 32752")
    return int(value)


def _refuse_in_domu(g: Globals, word: str, spec) -> None:
    """xl allocates its libxl context before it looks at the command, and in a
    domU that fails: so does every command but the xenstore-* clients (and
    `help`, which pyxl keeps answering)."""
    if not g.as_domid or word == "help" or (spec is not None and spec.module == _DOMU_FAMILY):
        return
    from pyxl.toolstack import require_privileged

    require_privileged(g.as_domid)


def run(argv: list[str]) -> int:
    g, i = _parse_globals(argv)
    if i >= len(argv):
        sys.stdout.write(full_help())
        return 1
    word, rest = argv[i], argv[i + 1:]
    spec = lookup(word)
    _refuse_in_domu(g, word, spec)
    if spec is None:
        if word == "help":
            return _help(rest)
        err("command not implemented")
        return 1
    if g.dryrun and not spec.can_dryrun:
        err("command does not implement -N (dryrun) option")
        return 1
    module = importlib.import_module(f"pyxl.cli.{spec.module}")
    command = getattr(module, spec.func_name)
    rc = command.main(args=rest, prog_name=spec.name, standalone_mode=False, obj=g)
    return rc or 0


def _help(rest: list[str]) -> int:
    if not rest or rest[0] == "help":
        out(full_help())
        return 0
    spec = lookup(rest[0])
    if spec is None:
        out(f'command "{rest[0]}" not implemented\n')  # the user's bytes, as given
    else:
        out(help_text(spec))
    return 0


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    verbose = "-v" in argv[:1] or any(a.startswith("-v") for a in argv[:3])
    try:
        code = run(argv)
    except PyxlError as e:
        if e.message:
            err(e.message)
        code = e.exit_code
    except BrokenPipeError:
        # `pyxl list | head`: the reader went away; say nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except KeyboardInterrupt:
        code = 130
    except Exception as e:  # a bug: one line, traceback only when asked for
        import click

        if isinstance(e, click.exceptions.Abort):
            sys.exit(130)
        if isinstance(e, click.ClickException):  # pyxl's own (non-xl) commands
            err(f"pyxl: {e.format_message()}")
            sys.exit(e.exit_code)
        if verbose:
            import traceback

            traceback.print_exc()
        err(f"pyxl: internal error: {type(e).__name__}: {e} "
            "(this is a bug in pyxl; run with -v for the traceback)")
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(code)
