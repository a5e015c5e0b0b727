"""PCI passthrough: xl's pci-attach, pci-detach, pci-list and the
pci-assignable-* commands (tools/xl/xl_pci.c)."""

from __future__ import annotations

import click

from pyxl.cli.base import need_args, out, session, xl_command
from pyxl.errors import ERROR_NOTFOUND, LibxlError, UsageError


@xl_command("pci-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_pci_list(ctx, as_json, args):
    need_args("pci-list", args, 1)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        pcis = libxl.device_pci_list(domid)
    if as_json:
        from pyxl.cli.base import dumps

        out(dumps([{"vdev": _vdev(p), "vdevfn": p.vdevfn, "bdf": p.bdf} for p in pcis]))
    elif pcis:
        out("Vdev Device\n" + "".join(f"{_vdev(p)} {p.bdf}\n" for p in pcis))
    return 0


def _vdev(p) -> str:
    """The guest's slot.function, as pci-list prints it."""
    return f"{(p.vdevfn >> 3) & 0x1F:02x}.{p.vdevfn & 7:01x}"


def _spec(libxl, name: str, text: str):
    """The device a PCI_SPEC_STRING names; a malformed one exits 2."""
    pci, report = libxl.pci_parse_spec_string(text)
    if pci is None:
        raise UsageError(f'{report}{name}: malformed PCI_SPEC_STRING "{text}"')
    return pci


@xl_command("pci-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_pci_attach(ctx, args):
    need_args("pci-attach", args, 2)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        libxl.device_pci_add(domid, _spec(libxl, "pci-attach", args[1]))
    return 0


@xl_command("pci-detach")
@click.option("-f", "force", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_pci_detach(ctx, force, args):
    need_args("pci-detach", args, 2)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        libxl.device_pci_remove(domid, _spec(libxl, "pci-detach", args[1]), force)
    return 0


@xl_command("pci-assignable-list")
@click.option("-n", "--show-names", "show_names", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_pci_assignable_list(ctx, show_names, args):
    with session(ctx, write=False) as libxl:
        rows = libxl.device_pci_assignable_list()
    out("".join(f"{bdf} {(name if show_names else None) or ''}\n" for bdf, name in rows))
    return 0


@xl_command("pci-assignable-add")
@click.option("-n", "--name", "name", default=None)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_pci_assignable_add(ctx, name, args):
    need_args("pci-assignable-add", args, 1)
    with session(ctx, write=True) as libxl:
        pci = libxl.pci_parse_bdf(args[0])
        if pci is None:
            raise UsageError(f'pci-assignable-add: malformed BDF "{args[0]}"')
        pci.name = name
        libxl.device_pci_assignable_add(pci, rebind=True)
    return 0


@xl_command("pci-assignable-remove")
@click.option("-r", "rebind", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_pci_assignable_remove(ctx, rebind, args):
    """By name first; only a name libxl does not know is read as a BDF."""
    need_args("pci-assignable-remove", args, 1)
    ident = args[0]
    with session(ctx, write=True) as libxl:
        try:
            libxl.device_pci_assignable_remove(libxl.pci_named(ident), rebind)
            return 0
        except LibxlError as e:
            if getattr(e, "rc", None) != ERROR_NOTFOUND:
                raise
        pci = libxl.pci_parse_bdf(ident)
        if pci is None:
            raise UsageError(f"pci-assignable-remove: malformed BDF '{ident}'")
        libxl.device_pci_assignable_remove(pci, rebind)
    return 0
