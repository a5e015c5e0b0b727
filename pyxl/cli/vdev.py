"""xl's vkb-*, vtpm-*, vdispl-* and vsnd-* commands (tools/xl/xl_vkb.c,
xl_vtpm.c, xl_vdispl.c, xl_vsnd.c)."""

from __future__ import annotations

import re

import click

from pyxl.cli.base import err, globals_of, need_args, out, session, xl_command
from pyxl.toolstack.device import DeviceError as LibxlDeviceError

ERROR_FAIL = 253  # libxl's ERROR_FAIL (-3) as xl's exit status


def _qualifier_to_domid(libxl, qualifier: str) -> int | None:
    """libxl_domain_qualifier_to_domid, whose failure the caller words."""
    from pyxl.errors import PyxlError

    try:
        return libxl.domain_qualifier_to_domid(qualifier)
    except PyxlError:
        return None


def _attach(ctx, kind: str, domid_of, parse, args) -> int:
    """Resolve the guest, parse its spec, then dry-run JSON or libxl's add."""
    from pyxl.toolstack import vdev

    g = globals_of(ctx)
    with session(ctx, write=not g.dryrun) as libxl:
        domid = domid_of(libxl, args[0])
        if domid is None:
            return 1
        dev: dict = {}
        parse(dev, list(args[1:]))
        if g.dryrun:
            out(f"{kind}: {vdev.to_json(kind, dev)}\n")
            return 0
        try:
            libxl.vdev_add(domid, kind, dev)
        except LibxlDeviceError:
            err(f"libxl_device_{kind}_add failed.")
            return 1 if kind == "vtpm" else ERROR_FAIL
    return 0


def _find_domain(libxl, qualifier: str) -> int:
    return libxl.domain_qualifier_to_domid(qualifier)


def _checked_domid(libxl, qualifier: str) -> int | None:
    domid = _qualifier_to_domid(libxl, qualifier)
    if domid is None:
        err(f"{qualifier} is an invalid domain identifier")
    return domid


def _detach(ctx, kind: str, args) -> int:
    """vkb-/vdispl-/vsnd-detach: a devid (atoi) the guest has, then libxl's remove."""
    from pyxl.toolstack.device import _atoi
    from pyxl.toolstack.vdev import KIND

    need_args(f"{kind}-detach", args, 2)
    with session(ctx, write=True) as libxl:
        domid = _find_domain(libxl, args[0])
        devid = libxl.vdev_find(domid, kind, args[1])
        if devid is None:
            err(f"Error: Device {_atoi(args[1])} not connected.")
            return ERROR_FAIL
        try:
            libxl.device_remove(domid, KIND[kind], devid)
        except LibxlDeviceError:
            err(f"libxl_device_{kind}_remove failed.")
            return ERROR_FAIL
    return 0


def _json(rows: list) -> None:
    from pyxl.cli.base import dumps

    out(dumps(rows))


def _s(value) -> str:
    """printf's %s of a NULL string."""
    return "(null)" if value is None else value


def _list_json(ctx, kind: str, domid_of, args) -> int:
    """<kind>-list --json: the getinfo each table line is printed from, per
    domain asked for (one that does not resolve is skipped as the table skips it)."""
    rows = []
    with session(ctx, write=True) as libxl:
        for qualifier in args:
            domid = domid_of(libxl, qualifier)
            if domid is not None:
                rows.extend(libxl.vdev_list(domid, kind))
    _json(rows)
    return 0


# --- vkb ---

def _parse_vkb(vkb: dict, specs: list[str]) -> None:
    from pyxl.toolstack import vdev

    for spec in specs:
        vdev.parse_vkb_token(vkb, spec)
    vdev.check_vkb(vkb)


@xl_command("vkb-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vkb_attach(ctx, args):
    need_args("vkb-attach", args, 2)
    return _attach(ctx, "vkb", _find_domain, _parse_vkb, args)


@xl_command("vkb-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vkb_list(ctx, as_json, args):
    need_args("vkb-list", args, 1)
    if as_json:
        return _list_json(ctx, "vkb", _find_domain, args)
    out(f"{'Idx':<3} {'BE':<2} {'handle':<6} {'state':<5} {'evt-ch':<6} {'ref':>6} "
        f"{'ID':<10} {'BE-type':<10} {'BE-path':<30}\n")
    with session(ctx, write=True) as libxl:
        for qualifier in args:
            domid = _find_domain(libxl, qualifier)
            out("".join(
                f"{i['devid']:<3d} {i['backend_id']:<2d} {i['devid']:6d} {i['state']:5d} "
                f"{i['evtch']:6d} {i['rref']:6d} {_s(i['unique_id']):<10} "
                f"{i['backend_type']:<10} {i['backend']:<30}\n"
                for i in libxl.vdev_list(domid, "vkb")))
    return 0


@xl_command("vkb-detach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vkb_detach(ctx, args):
    return _detach(ctx, "vkb", args)


# --- vtpm ---

def _parse_vtpm(vtpm: dict, specs: list[str]) -> None:
    from pyxl.toolstack import vdev

    for spec in specs:
        vdev.parse_vtpm_token(vtpm, spec)


@xl_command("vtpm-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vtpm_attach(ctx, args):
    need_args("vtpm-attach", args, 1)
    return _attach(ctx, "vtpm", _checked_domid, _parse_vtpm, args)


@xl_command("vtpm-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vtpm_list(ctx, as_json, args):
    need_args("vtpm-list", args, 1)
    if as_json:
        return _list_json(ctx, "vtpm", _checked_domid, args)
    out(f"{'Idx':<3} {'BE':<2} {'Uuid':<36} {'handle':<6} {'state':<5} {'evt-ch':<6} "
        f"{'ring-ref':<5} {'BE-path':<10}\n")
    with session(ctx, write=True) as libxl:
        for qualifier in args:
            domid = _checked_domid(libxl, qualifier)
            if domid is None:
                continue
            out("".join(
                f"{i['devid']:<3d} {i['backend_id']:<2d} {i['uuid']} {i['devid']:6d} "
                f"{i['state']:5d} {i['evtch']:6d} {i['rref']:8d} {i['backend']:<30}\n"
                for i in libxl.vdev_list(domid, "vtpm")))
    return 0


@xl_command("vtpm-detach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vtpm_detach(ctx, args):
    need_args("vtpm-detach", args, 2)
    with session(ctx, write=True) as libxl:
        domid = _find_domain(libxl, args[0])
        devid = libxl.vdev_find(domid, "vtpm", args[1])
        if devid is None:
            err(f"Unknown device {args[1]}.")
            return 1
        try:
            libxl.device_remove(domid, "vtpm", devid)
        except LibxlDeviceError:
            err("libxl_device_vtpm_remove failed.")
            return ERROR_FAIL
    return 0


# --- vdispl ---

def _parse_vdispl(vdispl: dict, specs: list[str]) -> None:
    from pyxl.errors import PyxlError
    from pyxl.toolstack import vdev

    for spec in specs:
        for line in vdev.parse_vdispl_token(vdispl, spec):
            err(line)
    if not vdispl.get("connectors"):
        raise PyxlError("At least one connector should be specified.", ERROR_FAIL)


@xl_command("vdispl-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vdispl_attach(ctx, args):
    need_args("vdispl-attach", args, 1)
    return _attach(ctx, "vdispl", _find_domain, _parse_vdispl, args)


@xl_command("vdispl-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vdispl_list(ctx, as_json, args):
    need_args("vdispl-list", args, 1)
    if as_json:
        return _list_json(ctx, "vdispl", _checked_domid, args)
    with session(ctx, write=True) as libxl:
        for qualifier in args:
            domid = _checked_domid(libxl, qualifier)
            if domid is None:
                continue
            for i in libxl.vdev_list(domid, "vdispl"):
                out(_vdispl_lines(i))
    return 0


def _vdispl_lines(i: dict) -> str:
    """One vdispl and its connectors; nothing if a connector is malformed
    (libxl's getinfo fails)."""
    lines = [f"DevId: {i['devid']}, BE: {i['backend_id']}, handle: {i['frontend_id']}, "
             f"state: {i['state']}, be-alloc: {i['be_alloc']}, BE-path: {i['backend']}, "
             f"FE-path: {_s(i['frontend'])}\n"]
    for n, c in enumerate(i["connectors"]):
        m = re.match(r"\s*\+?(\d+)x\s*\+?(\d+)", c["resolution"] or "")
        if c["unique_id"] is None or m is None:
            return ""
        lines.append(f"\tConnector: {n}, id: {c['unique_id']}, width: {int(m.group(1))}, "
                     f"height: {int(m.group(2))}, req-rref: {c['req_rref']}, "
                     f"req-evtch: {c['req_evtch']}, evt-rref: {c['evt_rref']}, "
                     f"evt-evtch: {c['evt_evtch']}\n")
    return "".join(lines)


@xl_command("vdispl-detach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vdispl_detach(ctx, args):
    return _detach(ctx, "vdispl", args)


# --- vsnd ---

def _parse_vsnd(vsnd: dict, specs: list[str]) -> None:
    from pyxl.toolstack import vdev

    for spec in specs:
        vdev.parse_vsnd_item(vsnd, spec)


@xl_command("vsnd-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vsnd_attach(ctx, args):
    need_args("vsnd-attach", args, 2)
    return _attach(ctx, "vsnd", _find_domain, _parse_vsnd, args)


def _params(p: dict) -> str:
    """xl's print_params (the formats too are labelled sample-rates, as in xl)."""
    text = ""
    for key, field in (("channels-min", "channels_min"), ("channels-max", "channels_max"),
                       ("buffer-size", "buffer_size")):
        if p.get(field):
            text += f", {key}: {p[field]}"
    if p.get("sample_rates"):
        text += ", sample-rates: " + ";".join(map(str, p["sample_rates"]))
    if p.get("sample_formats"):
        text += ", sample-rates: " + ";".join(p["sample_formats"])
    return text + "\n"


def _vsnd_lines(i: dict) -> str:
    text = (f"\ndevid: {i['devid']}, be-domid: {i['backend_id']}, handle: {i['frontend_id']}, "
            f"state: {i['state']}, be-path: {i['backend']}, fe-path: {_s(i['frontend'])}\n"
            f'short-name: "{_s(i["short_name"])}", long-name: "{_s(i["long_name"])}"'
            + _params(i["params"]))
    for n, pcm in enumerate(i["pcms"]):
        text += f'\tpcm: {n}, name: "{_s(pcm["name"])}"' + _params(pcm["params"])
        for k, st in enumerate(pcm["streams"]):
            text += (f'\t\tstream: {k}, unique-id: "{_s(st["unique_id"])}", '
                     f'type: {_s(st["type"])}' + _params(st["params"])
                     + f"\t\t\tevent-channel: {st['evtch']}, ring-ref: {st['rref']}\n")
    return text


@xl_command("vsnd-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vsnd_list(ctx, as_json, args):
    need_args("vsnd-list", args, 1)
    if as_json:
        return _list_json(ctx, "vsnd", _checked_domid, args)
    with session(ctx, write=True) as libxl:
        for qualifier in args:
            domid = _checked_domid(libxl, qualifier)
            if domid is None:
                continue
            out("".join(_vsnd_lines(i) for i in libxl.vdev_list(domid, "vsnd")))
    return 0


@xl_command("vsnd-detach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vsnd_detach(ctx, args):
    return _detach(ctx, "vsnd", args)
