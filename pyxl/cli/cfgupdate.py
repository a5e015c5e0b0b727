"""xl config-update (xl_misc.c): replace the config a running domain is
rebuilt from when it reboots (libxl userdata "xl").

xl reads the domain before any option, and an optional file name right
after it; getopt then runs under the name "config_update", so `-h` prints
`command "config_update" not implemented` (and exits 0).
"""

from __future__ import annotations

import sys

import click

from pyxl.cli.base import err, globals_of, help_text, out, session
from pyxl.cli.cmdtable import lookup
from pyxl.errors import ERROR_FAIL, LibxlError, PyxlError, UsageError

_RAW = {"ignore_unknown_options": True, "allow_interspersed_args": False}
_WARNING = ("WARNING: xl now has better capability to manage domain configuration, "
            "avoid using this command when possible")


class _Help(Exception):
    """getopt met -h/--help."""


def _getopt(args: list[str]) -> tuple[bool, str | None, list[str]]:
    """getopt_long over "dqf:" and --defconfig (GNU permutation):
    (debug, -f's file, the other words)."""
    debug, filename, rest = False, None, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i + 1:])
            break
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            matches = [n for n in ("defconfig", "help") if n.startswith(name)] if name else []
            if len(matches) != 1:
                raise UsageError("option `\0' not supported.")
            if matches[0] == "help":
                raise _Help
            if not has_value:
                if i + 1 >= len(args):
                    raise UsageError("option `f' not supported.")
                i += 1
                value = args[i]
            filename = value
        elif arg.startswith("-") and arg != "-":
            for j, letter in enumerate(arg[1:], 1):
                if letter == "h":
                    raise _Help
                if letter in "dq":
                    debug = debug or letter == "d"
                    continue
                if letter != "f":
                    raise UsageError(f"option `{letter}' not supported.")
                if j + 1 < len(arg):
                    filename = arg[j + 1:]
                elif i + 1 < len(args):
                    i += 1
                    filename = args[i]
                else:
                    raise UsageError("option `f' not supported.")
                break
        else:
            rest.append(arg)
        i += 1
    return debug, filename, rest


@click.command("config-update", add_help_option=False, context_settings=_RAW)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def cmd_config_update(ctx, argv):
    from pyxl.toolstack import read_config

    if not argv:
        err("xl config-update requires a domain argument")
        sys.stdout.write(help_text(lookup("config-update")))
        return 1
    err(_WARNING)
    dryrun = globals_of(ctx).dryrun
    with session(ctx, write=not dryrun) as libxl:
        domid = libxl.domain_qualifier_to_domid(argv[0])
        args = list(argv[1:])
        filename = None
        if args and not args[0].startswith("-") and "=" not in args[0]:
            filename = args.pop(0)
        try:
            debug, f_file, words = _getopt(args)
        except _Help:
            out('command "config_update" not implemented\n')
            return 0
        filename = f_file or filename
        extra = []
        for word in words:
            if "=" in word:
                extra.append(word)
            elif filename is None:
                filename = word
            else:
                sys.stdout.write(help_text(lookup("create")))
                return 2
        if filename is None:
            err("Config file not specified")
            return 1
        try:
            text = read_config(filename, extra)
        except PyxlError as e:   # config-update returns ERROR_FAIL itself
            raise PyxlError(e.message, ERROR_FAIL & 0xFF) from None
        loaded = libxl.parse_config(text, filename)
        for warning in loaded.warnings:
            err(warning)
        if debug or dryrun:
            from pyxl.toolstack.libxl import printf_info_json

            out(printf_info_json(loaded.config))
        if dryrun:
            return 0
        err(f"setting dom{domid} configuration")
        try:
            libxl.userdata_store_xl(domid, text.encode("utf-8", "surrogateescape"))
        except LibxlError:
            err("failed to update configuration")
            return 1
    return 0

