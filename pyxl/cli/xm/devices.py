"""xm network-list and block-list: xm's columns (or SXP with --long)."""

from __future__ import annotations

import sys

from pyxl.cli.xm.common import find_domain, getopt, session


def _devices(host, args, name: str, kind: str):
    from pyxl.cli.xm.main import XmUsage

    options, params = getopt(args, name, "l", ["long"])
    if len(params) != 1:
        raise XmUsage(f"'xm {name}' requires 1 argument.\n", name)
    with session(host, write=False) as libxl:
        rows = libxl.device_list(find_domain(libxl, params[0]), kind)
    return bool(options), rows


def xm_network_list(host, args):
    long_form, rows = _devices(host, args, "network-list", "vif")
    if long_form:
        from pyxl.cli.xm.sxp import pretty

        sys.stdout.write("".join(pretty(
            [i.devid, ["backend-id", i.backend_id], ["mac", i.mac], ["handle", i.devid],
             ["state", i.state], ["event-channel", i.evtch], ["tx-ring-ref", i.rref],
             ["rx-ring-ref", i.rref_rx], ["backend", i.backend]]) for i in rows))
        return 0
    lines = ["Idx BE     MAC Addr.     handle state evt-ch tx-/rx-ring-ref BE-path\n"] \
        if rows else []
    lines += [f"{i.devid:<3d} {i.backend_id:<3d}{i.mac:<17}    {i.devid:<3d}   "
              f"{i.state:<3d}    {i.evtch:<3d}   {i.rref:<5d}/{i.rref_rx:<5d}   "
              f"{i.backend:<30}  \n" for i in rows]
    sys.stdout.write("".join(lines))
    return 0


def xm_block_list(host, args):
    long_form, rows = _devices(host, args, "block-list", "vbd")
    if long_form:
        from pyxl.cli.xm.sxp import pretty

        sys.stdout.write("".join(pretty(
            [i.devid, ["backend-id", i.backend_id], ["virtual-device", i.devid],
             ["state", i.state], ["event-channel", i.evtch], ["ring-ref", i.rref],
             ["backend", i.backend]]) for i in rows))
        return 0
    lines = ["Vdev  BE handle state evt-ch ring-ref BE-path\n"] if rows else []
    lines += [f"{i.devid:<5d}  {i.backend_id:<3d}  {i.devid:<3d}   {i.state:<3d}    "
              f"{i.evtch:<3d}    {i.rref:<5d} {i.backend:<30}  \n" for i in rows]
    sys.stdout.write("".join(lines))
    return 0
