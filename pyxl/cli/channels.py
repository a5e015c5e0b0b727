"""Event channels and grant tables: pyxl's evtchn-list and grant-list, and
xl's debug-keys (whose `e` and `g` dump them into `xl dmesg`, as Xen does)."""

from __future__ import annotations

import json

import click

from pyxl.cli.base import need_args, out, session, xl_command


def _show(ctx, name: str, args, as_json: bool, fetch, text) -> int:
    """One domain's table, from `fetch(libxl, domain)`, as JSON or text."""
    need_args(name, args, 1)
    with session(ctx, write=False) as libxl:
        info = fetch(libxl, args[0])
    out(json.dumps(info, indent=4) + "\n" if as_json else text(info))
    return 0


@xl_command("evtchn-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_evtchn_list(ctx, as_json, args):
    return _show(ctx, "evtchn-list", args, as_json, lambda libxl, d: libxl.evtchn_list(d),
                 evtchn_text)


def _remote(p: dict) -> str:
    state = p["status"]
    if state == "interdomain":
        return f"dom {p['remote_domid']} port {p['remote_port']}"
    if state == "unbound":
        return f"dom {p['remote_domid']} (may bind)"
    if state == "virq":
        return f"{p['virq_name'] or 'VIRQ'} ({p['virq']})"
    if state == "pirq":
        return f"pirq {p['pirq']}"
    return "-"


def evtchn_text(info: dict) -> str:
    lines = [f"Event channels of {info['name']} ({info['domid']}), 2-level ABI",
             f"{'Port':>4} {'State':<11} {'VCPU':>4} {'Pending':>7} {'Masked':>6}  Remote"]
    for p in info["ports"]:
        lines.append(f"{p['port']:>4} {p['status']:<11} {p['vcpu']:>4} {p['pending']:>7d} "
                     f"{p['masked']:>6d}  {_remote(p)}")
    if not info["ports"]:
        lines.append("(no event channels in use)")
    lines.append(f"{'VCPU':>4} {'evtchn_pending_sel':<18} evtchn_upcall_pending")
    for v in info["vcpus"]:
        lines.append(f"{v['vcpu']:>4} 0x{v['evtchn_pending_sel']:016x} "
                     f"{v['evtchn_upcall_pending']}")
    return "".join(line + "\n" for line in lines)


@xl_command("grant-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_grant_list(ctx, as_json, args):
    return _show(ctx, "grant-list", args, as_json, lambda libxl, d: libxl.grant_list(d),
                 grant_text)


def grant_text(info: dict) -> str:
    frames = "frame" if info["nr_frames"] == 1 else "frames"
    lines = [f"Grant table of {info['name']} ({info['domid']}), v{info['version']}: "
             f"{info['nr_frames']} {frames} of {info['max_frames']} max",
             f"{'Ref':<7} {'Flags':<6} {'Domid':>5} {'Frame':<10} {'Mapped by':>9}  "
             f"{'Pin':<10}  Flag names"]
    for g in info["grants"]:
        mapper = "-" if g["mapped_by"] is None else str(g["mapped_by"])
        lines.append(f"0x{g['ref']:03x}   0x{g['flags']:02x}   {g['domid']:>5} "
                     f"0x{g['frame']:<8x} {mapper:>9}  0x{g['pin']:08x}  "
                     f"{'|'.join(g['flag_names'])}")
    if not info["grants"]:
        lines.append("(no grants)")
    lines.append("Mapped grants of other domains:")
    lines.append(f"{'Handle':>6} {'Domid':>5} {'Ref':<7} GNTMAP flags")
    for m in info["maps"]:
        lines.append(f"{m['handle']:>6} {m['domid']:>5} 0x{m['ref']:03x}   0x{m['flags']:x}")
    if not info["maps"]:
        lines.append("(none)")
    return "".join(line + "\n" for line in lines)


@xl_command("debug-keys")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_debug_keys(ctx, args):
    need_args("debug-keys", args, 1)
    with session(ctx, write=True) as libxl:
        libxl.send_debug_keys(args[0])
    return 0
