"""What every pyxl command shares: xl's option-parsing behaviour and output.

Commands are click commands built with `xl_command(name)`, which gives them
xl's `-h`/`--help` (help on stdout, exit 0), xl's message for a bad option
(``option `x' not supported.``, exit 2) and xl's "requires at least N
arguments" rule. The command callback returns the exit status.
"""

from __future__ import annotations

import sys

import click

from pyxl.cli.cmdtable import CmdSpec, lookup
from pyxl.errors import UsageError


class Globals:
    """xl's global options (-v -N -f -t -T) and pyxl's own (--host, --as-domid).
    A plain class, as CmdSpec (cmdtable.py)."""

    def __init__(self, verbose: int = 0, dryrun: bool = False, force: bool = False,
                 progress_cr: bool = False, timestamps: bool = False,
                 host: str | None = None, as_domid: int = 0, trace: bool = False):
        self.verbose = verbose
        self.dryrun = dryrun
        self.force = force
        self.progress_cr = progress_cr
        self.timestamps = timestamps
        self.host = host
        self.as_domid = as_domid
        self.trace = trace  # --trace: show each hypercall the command makes


def help_text(spec: CmdSpec) -> str:
    """`xl help CMD` and `CMD -h`, byte for byte."""
    text = (f"Usage: xl [-vtT{'f' if spec.modifies else ''}{'N' if spec.can_dryrun else ''}] "
            f"{spec.name} {spec.usage}\n\n{spec.description}.\n\n")
    if spec.options is not None:
        text += f"Options:\n\n{spec.options}\n"
    return text


def full_help() -> str:
    """`xl help`: xl's commands as xl lists them, then pyxl's own under a
    heading of theirs (no leading space, so bash-completion's line filter
    still finds every name)."""
    from pyxl.cli.cmdtable import CMD_TABLE

    lines = ["Usage xl [-vfNtT] <subcommand> [args]\n\n", "xl full list of subcommands:\n\n"]
    for extension in (False, True):
        if extension:
            lines.append("\npyxl's own subcommands:\n\n")
        for spec in CMD_TABLE:
            if spec.extension != extension:
                continue
            lines.append(f" {spec.name:<19} ")
            if len(spec.name) > 19:
                lines.append(f"\n {'':<19} ")
            lines.append(f"{spec.description}\n")
    return "".join(lines)


def dumps(value) -> str:
    """pyxl's --json output (docs/json.md): one indented document and a newline."""
    import json

    return json.dumps(value, indent=4) + "\n"


def out(text: str) -> None:
    _write(sys.stdout, text)


def err(text: str) -> None:
    """One message on stderr; a newline is added unless the text ends with one."""
    _write(sys.stderr, text if text.endswith("\n") else text + "\n")


def _write(stream, text: str) -> None:
    """Bytes the user gave that are not UTF-8 (an argument, say) come back out
    as those same bytes, as xl would print them, not as an encoding error."""
    if text.isascii() or not any("\udc80" <= c <= "\udcff" for c in text):
        stream.write(text)
        return
    raw = text.encode("utf-8", "surrogateescape")
    buffer = getattr(stream, "buffer", None)
    if buffer is None:     # a text-only stream (a test's StringIO)
        stream.write(raw.decode("utf-8", "backslashreplace"))
        return
    stream.flush()
    buffer.write(raw)
    buffer.flush()


def need_args(name: str, args: tuple | list, count: int) -> None:
    """xl's SWITCH_FOREACH_OPT check on positional arguments (exit 2 with help)."""
    if len(args) < count:
        sys.stdout.write(help_text(lookup(name)))
        raise UsageError(f"'xl {name}' requires at least {count} argument"
                         f"{'s' if count > 1 else ''}.\n\n")


def print_help_and_fail(name: str, code: int = 1) -> int:
    """Several xl commands print their help and exit 1 on surplus arguments."""
    sys.stdout.write(help_text(lookup(name)))
    return code


def _show_help(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        sys.stdout.write(help_text(lookup(ctx.info_name)))
        ctx.exit(0)


class XlCommand(click.Command):
    """A click command that fails the way xl's getopt loop fails."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("add_help_option", False)
        super().__init__(*args, **kwargs)
        self.params.insert(0, click.Option(
            ["-h", "--help"], is_flag=True, expose_value=False, is_eager=True,
            callback=_show_help))

    def make_parser(self, ctx: click.Context):
        """click tries each `-x` as a long option first, and its failure
        builds a NoSuchOption (difflib's suggestions, gettext's catalogue
        search: ~3 ms on a command's first option) before the short-option
        lookup. _getopt_long hands click one `-x` token per option, so the
        letters are found by the first lookup."""
        parser = super().make_parser(ctx)
        parser._long_opt.update(parser._short_opt)
        return parser

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = _getopt_long(self.params, args)
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as e:
            raise UsageError(f"option `{_letter(e.option_name)}' not supported.") from None
        except click.BadOptionUsage as e:
            raise UsageError(f"option `{_letter(e.option_name)}' not supported.") from None


def _print_help(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


class _PlainHelp:
    """click's `--help` for pyxl's own commands (host, clock, lab), its text
    given here: click's own asks gettext for a translation, which searches
    the locale catalogues at every start (~3 ms) for a text pyxl never
    translates."""

    _plain_help = None

    def get_help_option(self, ctx: click.Context):
        names = self.get_help_option_names(ctx)
        if not names or not self.add_help_option:
            return None
        if self._plain_help is None:  # one object: click orders callbacks by identity
            self._plain_help = click.Option(
                names, is_flag=True, is_eager=True, expose_value=False,
                callback=_print_help, help="Show this message and exit.")
        return self._plain_help


class OwnCommand(_PlainHelp, click.Command):
    """One of pyxl's own subcommands (not xl's: click's parsing and help)."""


class OwnGroup(_PlainHelp, click.Group):
    """A group of pyxl's own subcommands (`pyxl host boot`, `pyxl clock advance`)."""

    command_class = OwnCommand


class _GetoptFailed(Exception):
    """getopt_long returned '?': ``optopt`` is the letter xl prints."""

    def __init__(self, optopt: str):
        super().__init__(optopt)
        self.optopt = optopt


def _getopt_long(params: list[click.Parameter], args: list[str]) -> list[str]:
    """Walk `args` as glibc's getopt_long walks argv for xl's def_getopt and
    return them for click to parse: long options spelled out, a cluster
    `-abc` (or `-dVALUE`) as one token per option (and one for the value).

    What glibc accepts (unambiguous long-option prefixes, `--opt=value`) is
    made plain; what makes it return '?' is xl's ``option `c' not supported.``
    (exit 2), with optopt 0, a NUL byte, for an unknown or ambiguous long
    option. `-h`/`--help` reached before any error is help, exit 0.
    """
    shorts, longs = _option_table(params)
    spelled: list[str] = []
    i = 0
    try:
        while i < len(args):
            arg = args[i]
            if arg == "--":
                spelled.extend(args[i:])
                break
            takes_next = False
            if arg.startswith("--"):
                name, has_value, _ = arg[2:].partition("=")
                full, takes_arg, letter = _long_option(longs, name)
                if letter == "h":
                    return ["--help"]
                if has_value and not takes_arg:
                    raise _GetoptFailed(letter)
                spelled.append("--" + full + arg[2 + len(name):])
                takes_next = takes_arg and not has_value
            elif arg.startswith("-") and arg != "-":
                tokens, takes_next = _short_options(shorts, arg)
                spelled.extend(tokens)
                letter = arg[-1]  # when the next argument is its value
            else:
                spelled.append(arg)
            if takes_next:
                if i + 1 >= len(args):
                    raise _GetoptFailed(letter)
                i += 1
                spelled.append(args[i])
            i += 1
    except _GetoptFailed as e:
        if e.optopt == "h":
            return ["--help"]
        raise UsageError(f"option `{e.optopt}' not supported.") from None
    return spelled


def _option_table(params: list[click.Parameter]):
    """Short letters and long names -> (takes an argument, optopt letter)."""
    shorts: dict[str, bool] = {}
    longs: dict[str, tuple[int, bool, str]] = {}
    for index, param in enumerate(params):
        if not isinstance(param, click.Option):
            continue
        takes_arg = not (param.is_flag or param.count)
        letters = [o[1] for o in param.opts if len(o) == 2 and o[0] == "-" and o != "--"]
        letter = letters[0] if letters else "\0"
        for opt in param.opts:
            if opt.startswith("--"):
                longs[opt[2:]] = (index, takes_arg, letter)
            elif len(opt) == 2:
                shorts[opt[1]] = takes_arg
    return shorts, longs


def _long_option(longs: dict, name: str) -> tuple[str, bool, str]:
    """getopt_long's match: the exact name, else the one option that `name`
    begins (names of a single option count once); unknown or ambiguous: NUL."""
    if name in longs:
        _index, takes_arg, letter = longs[name]
        return name, takes_arg, letter
    found = {}
    for full, (index, takes_arg, letter) in longs.items():
        if full.startswith(name):
            found.setdefault(index, (full, takes_arg, letter))
    if len(found) != 1 or not name:
        raise _GetoptFailed("\0")
    return next(iter(found.values()))


def _short_options(shorts: dict[str, bool], arg: str) -> tuple[list[str], bool]:
    """One `-abc` cluster as one `-x` token per letter (a value attached to
    the last letter its own token); True when the next argument is its value."""
    tokens = []
    for j, letter in enumerate(arg[1:], 1):
        takes_arg = shorts.get(letter)
        if takes_arg is None:
            raise _GetoptFailed(letter)
        if letter == "h":
            raise _GetoptFailed("h")     # help, whatever follows (xl exits 0)
        tokens.append("-" + letter)
        if takes_arg:
            if j + 1 < len(arg):
                tokens.append(arg[j + 1:])
                return tokens, False
            return tokens, True
    return tokens, False


def _letter(option: str) -> str:
    return option[1:] if option.startswith("-") and not option.startswith("--") else option


def xl_command(name: str, **kwargs):
    """Decorator: a click command for table entry `name`."""
    kwargs.setdefault("context_settings", {}).update(
        ignore_unknown_options=False, allow_interspersed_args=True,
        allow_extra_args=True)
    return click.command(name, cls=XlCommand, **kwargs)


def globals_of(ctx: click.Context) -> Globals:
    return ctx.obj if isinstance(ctx.obj, Globals) else Globals()


def session(click_ctx: click.Context, *, write: bool, privileged: bool = True,
            commit: bool = True):
    """This command's libxl context (a `Libxl`), opened with the user's globals."""
    from pyxl.toolstack import open_libxl

    g = globals_of(click_ctx)
    return open_libxl(g.host, write=write, commit=commit, caller=g.as_domid,
                      privileged=privileged,
                      logger=_stamped if g.timestamps else err, verbose=g.verbose,
                      tracer=show_hypercall if g.trace else None)


def show_hypercall(op: str, args: dict) -> None:
    """pyxl --trace: one stderr line per hypercall, as a student would read it."""
    shown = ", ".join(f"{k}={v}" for k, v in args.items())
    err(f"xen: {op}({shown})")


def _stamped(line: str) -> None:
    """xl -T: each library log line carries the date, time zone and pid."""
    import os
    import time

    err(time.strftime("%Y-%m-%d %H:%M:%S %Z ") + f"[{os.getpid()}] " + line)


def c_seconds(ns: int) -> float:
    """xl's `(float)ns / 1e9`: the nanoseconds are cast to single precision
    first, and the quotient is a double (250000009 ns prints as 0.3)."""
    import struct

    return struct.unpack("f", struct.pack("f", ns))[0] / 1e9


def print_bitmap(bits: set[int] | None, maplen: int) -> str:
    """xl's print_bitmap, with None for a map that has every bit set."""
    from pyxl.toolstack.cpumap import format_cpumap

    return format_cpumap(set(range(maplen)) if bits is None else bits, maplen)
