"""xl's xenstore-quota-get and xenstore-quota-set (xl_xsquota.c).

They read their arguments as they come, without getopt: `-g` means the
global quotas, anything else is a domain, and `-h` is not special.
"""

from __future__ import annotations

import sys

import click

from pyxl.cli.base import err, help_text, out, session
from pyxl.cli.cmdtable import lookup
from pyxl.cnum import ERANGE, strtoul
from pyxl.errors import LibxlError

_RAW = {"ignore_unknown_options": True, "allow_interspersed_args": False}


def _domain(libxl, arg: str) -> int | None:
    return None if arg == "-g" else libxl.domain_qualifier_to_domid(arg)


@click.command("xenstore-quota-get", add_help_option=False, context_settings=_RAW)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def cmd_xenstore_quota_get(ctx, argv):
    if len(argv) != 1:
        err('Domain or "-g" must be specified.')
        return 1
    with session(ctx, write=False) as libxl:
        try:
            quotas = libxl.xs_quota_get(_domain(libxl, argv[0]))
        except LibxlError:
            err("Quota could not be obtained.")
            return 1
    out("Quota name           Quota value\n" + "-" * 32 + "\n"
        + "".join(f"{name:<20} {value:>8}\n" for name, value in quotas))
    return 0


def parse_item(text: str) -> tuple[str, int] | None:
    """xl's parse_xsquota_item: NAME=VALUE, the value as strtoul reads it
    (any base) and within an unsigned int; None, said on stderr, if not."""
    name, eq, value = text.partition("=")
    if not eq:
        err(f'Quota specification "{text}" lacks "=".')
        return None
    number, rest, errno = strtoul(value, 0)
    if errno == ERANGE or not value or rest or number is None or number >= 1 << 32:
        err(f'Quota specification "{text}" uses illegal value "{value}".')
        return None
    return name, number


@click.command("xenstore-quota-set", add_help_option=False, context_settings=_RAW)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def cmd_xenstore_quota_set(ctx, argv):
    if len(argv) < 2:
        err("Not enough parameters.")
        sys.stdout.write(help_text(lookup("xenstore-quota-set")))
        return 1
    items = []
    for text in argv[1:]:
        item = parse_item(text)
        if item is None:
            return 1
        items.append(item)
    with session(ctx, write=True) as libxl:
        try:
            libxl.xs_quota_set(_domain(libxl, argv[0]), items)
        except LibxlError:
            err("Quota could not be set.")
            return 1
    return 0
