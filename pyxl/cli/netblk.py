"""xl's network-*, block-*, channel-list and cd-insert/cd-eject
(tools/xl/xl_nic.c, xl_block.c, xl_cdrom.c, xl_console.c)."""

from __future__ import annotations

import os

import click

from pyxl.cli.base import err, globals_of, need_args, out, session, xl_command
from pyxl.toolstack.device import DeviceError as LibxlDeviceError


def _find_domain(libxl, qualifier: str) -> int:
    return libxl.domain_qualifier_to_domid(qualifier)


def _json(rows: list) -> None:
    from pyxl.cli.base import dumps

    out(dumps(rows))


def nic_fields(i) -> dict:
    """One vif as libxl_nicinfo names it (docs/json.md)."""
    return {"devid": i.devid, "backend_id": i.backend_id, "frontend_id": i.frontend_id,
            "mac": i.mac, "state": i.state, "evtch": i.evtch, "rref_tx": i.rref,
            "rref_rx": i.rref_rx, "backend": i.backend}


def disk_fields(i) -> dict:
    """One vbd as libxl_diskinfo names it (docs/json.md)."""
    return {"devid": i.devid, "backend_id": i.backend_id, "frontend_id": i.frontend_id,
            "state": i.state, "evtch": i.evtch, "rref": i.rref, "backend": i.backend}


# --- vifs ---

@xl_command("network-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_network_attach(ctx, args):
    from pyxl.toolstack.devices import NicDefaults, parse_nic_spec
    from pyxl.toolstack.libxl_json import nic_json
    from pyxl.toolstack.xl_conf import host_global_config

    need_args("network-attach", args, 1)
    g = globals_of(ctx)
    with session(ctx, write=not g.dryrun) as libxl:
        domid = _find_domain(libxl, args[0])
        defaults = NicDefaults.from_global(host_global_config(g.host))
        nic, notes = parse_nic_spec(list(args[1:]), "command line", defaults, strict=True)
        for line in notes:  # xl's parser prints them as it reads (netdev=, accel=)
            err(line)
        if g.dryrun:
            out(f"vif: {nic_json(nic)}\n")
            return 0
        try:
            libxl.device_nic_add(domid, nic)
        except LibxlDeviceError:
            err("libxl_device_nic_add failed.")
            return 1
    return 0


@xl_command("network-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_network_list(ctx, as_json, args):
    need_args("network-list", args, 1)
    if not as_json:
        out(f"{'Idx':<3} {'BE':<2} {'Mac Addr.':<17} {'handle':<6} {'state':<5} "
            f"{'evt-ch':<6} {'tx-':>5}/{'rx-ring-ref':<5} {'BE-path':<30}\n")
    rows = []
    with session(ctx, write=True) as libxl:
        for qualifier in args:
            domid = _find_domain(libxl, qualifier)
            nics = libxl.device_list(domid, "vif")
            if as_json:
                rows.extend(nic_fields(i) for i in nics)
                continue
            out("".join(
                f"{i.devid:<3d} {i.backend_id:<2d} {i.mac}{i.devid:6d} {i.state:5d} "
                f"{i.evtch:6d} {i.rref:5d}/{i.rref_rx:<11d} {i.backend:<30}\n"
                for i in nics))
    if as_json:
        _json(rows)
    return 0


@xl_command("network-detach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_network_detach(ctx, args):
    need_args("network-detach", args, 2)
    with session(ctx, write=True) as libxl:
        domid = _find_domain(libxl, args[0])
        devid = libxl.device_find(domid, "vif", args[1])
        if devid is None:
            err(f"Unknown device {args[1]}.")
            return 1
        try:
            libxl.device_remove(domid, "vif", devid)
        except LibxlDeviceError:
            err("libxl_device_nic_del failed.")
            return 1
    return 0


# --- vbds ---

@xl_command("block-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_block_attach(ctx, args):
    from pyxl.toolstack.devices import parse_disk_spec
    from pyxl.toolstack.libxl_json import disk_json

    need_args("block-attach", args, 2)
    g = globals_of(ctx)
    with session(ctx, write=not g.dryrun) as libxl:
        domid = _qualifier_to_domid(libxl, args[0])
        if domid is None:
            err(f"{args[0]} is an invalid domain identifier")
            return 1
        disk = parse_disk_spec(list(args[1:]), "command line")
        if g.dryrun:
            out(f"disk: {disk_json(disk)}\n")
            return 0
        try:
            libxl.device_disk_add(domid, disk)
        except LibxlDeviceError:
            err("libxl_device_disk_add failed.")
            return 1
    return 0


def _qualifier_to_domid(libxl, qualifier: str) -> int | None:
    """libxl_domain_qualifier_to_domid, whose failure the caller words."""
    from pyxl.errors import PyxlError

    try:
        return libxl.domain_qualifier_to_domid(qualifier)
    except PyxlError:
        return None


@xl_command("block-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_block_list(ctx, as_json, args):
    need_args("block-list", args, 1)
    if not as_json:
        out(f"{'Vdev':<5} {'BE':<3} {'handle':<6} {'state':<5} {'evt-ch':<6} "
            f"{'ring-ref':<8} {'BE-path':<30}\n")
    rows = []
    with session(ctx, write=True) as libxl:
        for qualifier in args:
            domid = _qualifier_to_domid(libxl, qualifier)
            if domid is None:
                err(f"{qualifier} is an invalid domain identifier")
                continue
            disks = libxl.device_list(domid, "vbd")
            if as_json:
                rows.extend(disk_fields(i) for i in disks)
                continue
            out("".join(
                f"{i.devid:<5d} {i.backend_id:<3d} {i.frontend_id:<6d} {i.state:<5d} "
                f"{i.evtch:<6d} {i.rref:<8d} {i.backend:<30}\n"
                for i in disks))
    if as_json:
        _json(rows)
    return 0


@xl_command("block-detach")
@click.option("-f", "--force", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_block_detach(ctx, force, args):
    need_args("block-detach", args, 2)
    with session(ctx, write=True) as libxl:
        domid = _find_domain(libxl, args[0])
        devid = libxl.device_find(domid, "vbd", args[1])
        if devid is None:
            err(f"Error: Device {args[1]} not connected.")
            return 1
        try:
            libxl.device_remove(domid, "vbd", devid)
        except LibxlDeviceError:
            err(f"libxl_device_disk_{'destroy' if force else 'safe_remove'} failed.")
            return 1
    return 0


# --- channels ---

@xl_command("channel-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_channel_list(ctx, as_json, args):
    """pyxl's domains have no channel= devices: the header, for each domain nothing."""
    need_args("channel-list", args, 1)
    if not as_json:
        out(f"{'Idx':<3} {'BE':<2} {'state':<5} {'evt-ch':<6} {'ring-ref':>8} "
            f"{'connection':<10} {'':<30}\n")
    with session(ctx, write=False) as libxl:
        for qualifier in args:
            _find_domain(libxl, qualifier)
    if as_json:
        _json([])
    return 0


# --- cd-insert / cd-eject ---

def _cd_insert(ctx, domain: str, vdev: str, target: str | None) -> int:
    from pyxl.toolstack.devices import parse_disk_spec

    with session(ctx, write=True) as libxl:
        domid = _find_domain(libxl, domain)
        disk = parse_disk_spec(f"vdev={vdev},access=r,devtype=cdrom,target={target or ''}",
                               "command line")
        if disk.format != "empty" and not os.path.exists(disk.pdev_path or ""):
            err(f"Cannot stat file: {disk.pdev_path}")
            return 1
        try:
            libxl.cdrom_insert(domid, disk)
        except LibxlDeviceError:
            return 1
    return 0


@xl_command("cd-insert")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cd_insert(ctx, args):
    need_args("cd-insert", args, 3)
    return _cd_insert(ctx, args[0], args[1], args[2])


@xl_command("cd-eject")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_cd_eject(ctx, args):
    need_args("cd-eject", args, 2)
    return _cd_insert(ctx, args[0], args[1], None)
