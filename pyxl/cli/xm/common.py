"""What pyxm's commands share: the toolstack session, domain lookup, getopt."""

from __future__ import annotations

import sys

from pyxl.errors import PyxlError

CRASH = 3                    # SHUTDOWN_crash
ERROR_INVALID_DOMAIN = 3     # xend's fault code, which xm passed on as its exit status


class NoSuchDomain(PyxlError):
    """xend's ERROR_INVALID_DOMAIN: xm said so and exited 3."""

    xm_code = ERROR_INVALID_DOMAIN

    def __init__(self, qualifier: str):
        super().__init__(f"Domain '{qualifier}' does not exist.", ERROR_INVALID_DOMAIN)


def session(host: str | None, *, write: bool):
    """A `Libxl` on the host, libxl's log lines on stderr as xl shows them."""
    from pyxl.toolstack import open_libxl

    return open_libxl(host, write=write, logger=lambda line: sys.stderr.write(line + "\n"))


def quiet_session(host: str | None):
    """A write session whose libxc progress lines go where xend's did (its
    log), not to the terminal: xm's save, restore and migrate print nothing."""
    from pyxl.toolstack import open_libxl

    def logger(line: str) -> None:
        if not line.startswith("xc: info: "):
            sys.stderr.write(line + "\n")

    return open_libxl(host, write=True, logger=logger)


def find_domain(libxl, qualifier: str, managed=None) -> int:
    """A running domain by name or id (xend's lookup), else xm's error."""
    domid = libxl.name_to_domid(qualifier)
    if domid is None and qualifier.isascii() and qualifier.isdigit() and len(qualifier) < 6:
        # xend looked the id up among its domains: no libxl log line for one it lacks
        if any(i.domid == int(qualifier) for i in libxl.list_domain()):
            domid = int(qualifier)
    if domid is None:
        raise NoSuchDomain(qualifier)
    return domid


def arg_check(args: list[str], name: str, lo: int, hi: int = -1) -> None:
    """xm's arg_check: the count of arguments, else its error and the usage."""
    from pyxl.cli.xm.main import XmUsage

    n = len([a for a in args if a != "--"])
    if hi == -1 and n != lo:
        raise XmUsage(f"'xm {name}' requires {lo} argument{'' if lo == 1 else 's'}.\n", name)
    if hi != -1 and not lo <= n <= hi:
        raise XmUsage(f"'xm {name}' requires between {lo} and {hi} arguments.\n", name)


def getopt(args: list[str], name: str, shorts: str, longs: list[str], gnu: bool = True):
    """Python's getopt, as xm called it; a bad option is xm's error and usage."""
    import getopt as _getopt

    from pyxl.cli.xm.main import XmUsage

    try:
        fn = _getopt.gnu_getopt if gnu else _getopt.getopt
        return fn(args, shorts, longs)
    except _getopt.GetoptError as e:
        raise XmUsage(str(e), name) from None


def xl(host: str | None, argv: list[str]) -> int:
    """Run one of pyxl's xl commands on the same host (xm's command that
    does the same thing, with xl's behaviour where xend's is not modelled)."""
    from pyxl.cli.main import run

    return run((["--host", host] if host else []) + argv)


def xm_state(i) -> str:
    """xend's six flags, in the order r b p s c d ('-' where off)."""
    crashed = bool(i.shutdown) and i.shutdown_reason == CRASH
    flags = (i.running, i.blocked, i.paused, i.shutdown and not crashed, crashed, i.dying)
    return "".join(letter if on else "-" for letter, on in zip("rbpscd", flags))


def read_xm_config(args: list[str], command: str) -> tuple[dict, str, str]:
    """create.py's parseCommandLine, for `xm create` and `xm new`: the
    options, the config file and the xl.cfg text its Python became."""
    from pyxl.toolstack.xm_config import xm_config_to_xl

    options, params = getopt(args, command, "cpnqf:F:",
                             ["console_autoconnect", "paused", "dryrun", "quiet",
                              "defconfig=", "config="])
    opts = dict(options)
    config_file = opts.get("-f") or opts.get("--defconfig")
    variables: dict[str, str] = {}
    for param in params:
        name, eq, value = param.partition("=")
        if eq and name.isidentifier():
            variables[name] = value
        elif config_file is None:
            config_file = param
        else:
            from pyxl.cli.xm.main import XmUsage

            raise XmUsage(f"Invalid argument: {param}", command)
    if config_file is None:
        raise PyxlError("Unable to open config file: /etc/xen/xmdefconfig")
    text = _read(config_file)
    if "-q" not in opts and "--quiet" not in opts:
        sys.stdout.write(f'Using config file "{config_file}".\n')
    return opts, config_file, xm_config_to_xl(text, config_file, variables)


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="surrogateescape")
    except OSError:
        raise PyxlError(f"Unable to open config file: {path}") from None
