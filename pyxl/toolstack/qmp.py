"""The device model as libxl reaches it: QMP's human-monitor-command
(libxl_qmp.c) and the VNC server that libxl_vncviewer_exec points a viewer at.

pyxl runs no QEMU. An HVM guest's device model is simulated far enough to
answer the HMP `info` commands whose answers the simulation knows; a guest
without one (PV, PVH) has no QMP socket, so libxl fails to connect.
"""

from __future__ import annotations

from pyxl.errors import ErrorFail, strerror
from pyxl.toolstack.ctx import Ctx
from pyxl.toolstack.domain_config import DomainConfig

RUN_DIR = "/var/run/xen"
# The QEMU that a Xen 4.23 tree builds (qemu-xen).
QEMU_VERSION = "9.2.0"


def _config(ctx: Ctx, domid: int) -> DomainConfig | None:
    stored = ctx.host.config(domid) if domid in ctx.hv.domains else None
    return None if stored is None else DomainConfig.from_json_dict(stored)


def monitor_command(ctx: Ctx, domid: int, command_line: str) -> str:
    """HMP's answer, lines ending "\\r\\n" as QEMU's monitor writes them."""
    from pyxl.toolstack.memory import _lock_domain_userdata

    ctx.require_privileged()
    _lock_domain_userdata(ctx, domid)   # libxl__ev_qmp takes the domain's lock first
    config = _config(ctx, domid)
    if config is None or config.type != "hvm":
        ctx.log("error", "libxl_qmp.c:1387:qmp_ev_lock_aquired",
                f"Failed to connect to QMP socket {RUN_DIR}/qmp-libxl-{domid}", domid,
                strerror("ENOENT"))
        raise ErrorFail
    ctx.hv.trace("QMP human-monitor-command", domid=domid, command_line=command_line)
    words = command_line.split()
    answers = {
        ("info", "version"): QEMU_VERSION,
        # xl pause stops the vCPUs in Xen; QEMU's own run state stays running
        ("info", "status"): "VM status: running",
        ("info", "name"): ctx.hv.domain(domid).name,
        ("info", "uuid"): ctx.hv.domain(domid).uuid,
        ("info", "kvm"): "kvm support: disabled",
    }
    if not words:
        return ""
    answer = answers.get(tuple(words))
    if answer is None:
        return f"unknown command: '{' '.join(words[:2])}'\r\n"
    return answer + "\r\n"


def vncviewer_args(ctx: Ctx, domid: int, autopass: bool) -> list[str]:
    """libxl_vncviewer_exec's argv: `vncviewer HOST:DISPLAY` (and -autopass
    when there is a password). The VNC port is the one QEMU would report for
    a guest with VNC on (an HVM guest's default, a PV guest's vfb): its
    vncdisplay, moved past the displays of lower domids when vncunused."""
    import os

    port = _vnc_display(ctx, domid)
    if port is None:
        ctx.log("error", "libxl_console.c:215:libxl_vncviewer_exec", "Cannot get vnc-port",
                domid)
        raise ErrorFail
    vnc = _vnc_of(_config(ctx, domid))
    listen = vnc.get("listen") or "127.0.0.1"
    args = [os.environ.get("VNCVIEWER") or "vncviewer", f"{listen}:{port}"]
    if autopass and vnc.get("passwd"):
        args.append("-autopass")
    return args


def _vnc_of(config: DomainConfig | None) -> dict:
    """The guest's VNC settings, {} when it has no VNC server."""
    if config is None:
        return {}
    if config.type == "hvm":
        vnc = config.type_info.get("vnc") or {}
        return {} if vnc.get("enable") is False else vnc
    for vfb in config.vfbs:
        if (vfb.get("vnc") or {}).get("enable"):
            return vfb["vnc"]
    return {}


def _vnc_display(ctx: Ctx, domid: int) -> int | None:
    vnc = _vnc_of(_config(ctx, domid))
    if not vnc:
        return None
    display = vnc.get("display") or 0
    if vnc.get("findunused") is False:
        return display
    taken = set()
    for other in sorted(ctx.hv.domains):
        if other >= domid:
            break
        theirs = _vnc_of(_config(ctx, other))
        if theirs:
            taken.add(_vnc_display(ctx, other))
    while display in taken:
        display += 1
    return display
