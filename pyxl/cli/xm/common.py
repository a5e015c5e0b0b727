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


def find_domain(libxl, qualifier: str, managed=None) -> int:
    """A running domain by name or id (xend's lookup), else xm's error."""
    domid = libxl.name_to_domid(qualifier)
    if domid is None and qualifier.isascii() and qualifier.isdigit() and len(qualifier) < 6:
        if libxl.domain_info(int(qualifier)) is not None:
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
