"""xl's usbctrl-*, usbdev-* and usb-list (tools/xl/xl_usb.c)."""

from __future__ import annotations

import click

from pyxl.cli.base import err, need_args, out, session, xl_command
from pyxl.toolstack.device import DeviceError as LibxlDeviceError


def _atoi(text: str) -> int:
    from pyxl.toolstack.usb import _atoi as atoi

    return atoi(text)


@xl_command("usbctrl-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_usbctrl_attach(ctx, args):
    need_args("usbctrl-attach", args, 1)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        ctrl, error = libxl.usbctrl_parse(args[1:])
        if error:
            err(error)
            return 1
        try:
            libxl.device_usbctrl_add(domid, ctrl)
        except LibxlDeviceError:
            err("libxl_device_usbctrl_add failed.")
            return 1
    return 0


@xl_command("usbctrl-detach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_usbctrl_detach(ctx, args):
    need_args("usbctrl-detach", args, 2)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        devid = _atoi(args[1])
        if libxl.devid_to_device_usbctrl(domid, devid) is None:
            err(f"Unknown device {args[1]}.")
            return 1
        try:
            libxl.device_usbctrl_remove(domid, devid)
        except LibxlDeviceError:
            err("libxl_device_usbctrl_remove failed.")
            return 1
    return 0


@xl_command("usbdev-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_usbdev_attach(ctx, args):
    need_args("usbdev-attach", args, 2)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        dev, error = libxl.usbdev_parse(args[1:])
        if error:
            err(error)
            return 1
        try:
            libxl.device_usbdev_add(domid, dev)
        except LibxlDeviceError:
            err("libxl_device_usbdev_add failed.")
            return 1
    return 0


@xl_command("usbdev-detach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_usbdev_detach(ctx, args):
    need_args("usbdev-detach", args, 3)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        ctrl, port = _atoi(args[1]), _atoi(args[2])
        if len(args) > 3:
            err("Invalid arguments.")
            return 1
        dev = libxl.ctrlport_to_device_usbdev(domid, ctrl, port)
        if dev is None:
            err(f"Unknown device at controller {ctrl} port {port}.")
            return 1
        try:
            libxl.device_usbdev_remove(domid, dev)
        except LibxlDeviceError:
            err("libxl_device_usbdev_remove failed.")
            return 1
    return 0


@xl_command("usb-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_usb_list(ctx, as_json, args):
    need_args("usb-list", args, 1)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        if len(args) > 1:
            err("Invalid arguments.")
            return 255
        ctrls = libxl.device_usbctrl_list(domid)
    if as_json:
        from pyxl.cli.base import dumps

        out(dumps([_usbctrl_fields(info, ports) for info, ports in ctrls]))
        return 0
    for info, ports in ctrls:
        out(f"{'Devid':<6} {'Type':<12} {'BE':<3} {'state':<5} {'usb-ver':<7} "
            f"{'ports':<5}\n")
        out(f"{info.devid:<6d} {info.type:<12} {info.backend_id:<3d} {info.state:<5d} "
            f"{info.version:<7d} {info.ports:<5d}\n")
        for port, dev in ports.items():
            tail = f" Bus {dev.hostbus:03x} Device {dev.hostaddr:03x}" if dev else ""
            out(f"  Port {port}:{tail}\n")
    return 0


def _usbctrl_fields(info, ports: dict) -> dict:
    """One controller and its ports as docs/json.md names them."""
    return {"devid": info.devid, "type": info.type, "backend_id": info.backend_id,
            "state": info.state, "version": info.version, "ports": info.ports,
            "devices": [{"port": port,
                         "hostbus": dev.hostbus if dev else None,
                         "hostaddr": dev.hostaddr if dev else None}
                        for port, dev in ports.items()]}
