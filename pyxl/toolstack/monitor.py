"""xl's monitoring process: what happens when a guest shuts down or crashes.

`xl create` (without -e) leaves a background process per domain that waits
for the domain to shut down and then applies the config's on_poweroff /
on_reboot / on_watchdog / on_crash / on_soft_reset action
(handle_domain_death in xl_vmcontrol.c). Here the host calls `on_step` after
the guests at every simulation step, so the action happens at the simulated
moment the guest shut down: a domain whose action is destroy is gone by the
time anyone looks. The monitor's state is its own, kept by the host beside
the domain (`Host.monitored`, `Host.monitor_log`): domains created with -e
have no monitor and are left as they are, as are dom0 and domains whose
monitor already exited.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pyxl.hv.model import (SHUTDOWN_CRASH, SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT,
                           SHUTDOWN_SOFT_RESET, SHUTDOWN_SUSPEND, SHUTDOWN_WATCHDOG)

if TYPE_CHECKING:
    from pyxl.sim.host import Host

REASON_KEY = {SHUTDOWN_POWEROFF: "on_poweroff", SHUTDOWN_REBOOT: "on_reboot",
              SHUTDOWN_CRASH: "on_crash", SHUTDOWN_WATCHDOG: "on_watchdog",
              SHUTDOWN_SOFT_RESET: "on_soft_reset"}
# libxl enum names -> the names xl's log uses (get_action_on_shutdown_name).
ACTION_NAME = {"destroy": "destroy", "restart": "restart", "restart_rename": "rename-restart",
               "preserve": "preserve", "coredump_destroy": "coredump-destroy",
               "coredump_restart": "coredump-restart", "soft_reset": "soft-reset"}


def start(host: "Host") -> None:
    """xl's monitors run beside every command (as background processes would):
    they act at each simulation step, and at once on a shutdown the realtime
    clock's catch-up has just simulated. The xl side of the toolstack (the
    command's session) starts them; libxl's context knows nothing of them."""
    if on_step not in host.on_step:
        host.on_step.append(on_step)
    if host.writable and host.hv_loaded:
        on_step(host, host.now_ns)


def on_step(host: "Host", now: int) -> None:
    """The host's hook: act on every monitored domain that has shut down."""
    domains = host.hv.domains
    for domid in domains.shut_down():
        d = domains.get(domid)
        if d is None or domid == 0 or not d.shutdown or d.dying:
            continue
        if host.monitored(domid):
            handle_domain_death(host, domid, d.shutdown_reason)


def _log(host: "Host", domid: int, line: str) -> None:
    """A line of xl's monitor log (/var/log/xen/xl-<name>.log)."""
    host.log_monitor(domid, line)


def handle_domain_death(host: "Host", domid: int, reason: int | None) -> None:
    from pyxl.toolstack.ctx import Ctx
    from pyxl.toolstack.domain_config import DomainConfig

    host.set_monitored(domid, False)  # this monitor's job ends here, whatever happens
    _log(host, domid, f"Domain {domid} has shut down, reason code {reason} 0x{reason or 0:x}")
    if reason == SHUTDOWN_SUSPEND:
        _log(host, domid, "Domain has suspended.")
        return
    raw = host.config(domid)
    if raw is None:
        return
    cfg = DomainConfig.from_json_dict(raw)
    key = REASON_KEY.get(reason)
    action = getattr(cfg, key) if key else "destroy"
    _log(host, domid, f"Action for shutdown reason code {reason} is {ACTION_NAME[action]}")
    ctx = Ctx(host)
    if action in ("coredump_destroy", "coredump_restart"):
        _log(host, domid, f"dumping core to /var/lib/xen/dump/{cfg.name}")
        _core_dump(host, domid)
        action = "destroy" if action == "coredump_destroy" else "restart"
    if action == "preserve":
        _log(host, domid, "Done. Exiting now")
        return
    if action in ("restart", "restart_rename"):
        raw = _reload_domain_config(ctx, domid, raw)
    if action == "restart_rename":
        _preserve_renamed(ctx, domid, cfg)
        _recreate(ctx, raw, keep_uuid=True)
        return
    if action == "soft_reset":
        # A soft reset keeps the domain's memory and restarts its kernel.
        from pyxl.sim import guest as guestos

        host.hv.domctl_resumedomain(domid)
        host.xs(0).resume(domid)
        host.set_monitored(domid, True)
        guestos.soft_reset(host, host.hv.domains[domid], host.guest(domid))
        return
    _log(host, domid, f"Domain {domid} needs to be cleaned up: destroying the domain")
    from pyxl.toolstack import domain as dom

    dom.destroy(ctx, domid)
    if action == "restart":
        _recreate(ctx, raw, keep_uuid=True)


def _reload_domain_config(ctx, domid: int, raw: dict) -> dict:
    """xl's reload_domain_config: a config that `config-update` stored is
    parsed and used for the new domain; otherwise the domain's own."""
    from pyxl.errors import PyxlError
    from pyxl.toolstack.create import parse_config
    from pyxl.toolstack.retrieve import XL_USERDATA

    text = raw.get(XL_USERDATA)
    if not text:
        return raw
    _log(ctx.host, domid, '"xl" configuration found, using it')
    try:
        return parse_config(ctx, text, "<updated>").config.to_json_dict()
    except PyxlError:   # xl's parse would exit its monitor; keep the old one
        return raw


def _recreate(ctx, raw: dict, keep_uuid: bool) -> int | None:
    """Build the domain again from its config. A failure ends this monitor, as it
    ends xl's, leaving the domain gone, without failing the command that ran it."""
    from pyxl.errors import PyxlError
    from pyxl.toolstack.domain_config import DomainConfig
    from pyxl.toolstack.create import create_domain

    cfg = DomainConfig.from_json_dict(raw)
    if not keep_uuid:
        cfg.uuid = None
    try:
        with ctx.host.attempt():
            return create_domain(ctx, cfg, monitored=True)
    except PyxlError:
        return None


def _preserve_renamed(ctx, domid: int, cfg) -> None:
    """libxl_domain_preserve: the dead domain keeps running under a new name
    (suffix -YYYYmmddTHHMMZ, UTC) and a new UUID."""
    from pyxl.toolstack import domain as dom
    from pyxl.toolstack.create import new_uuid

    host = ctx.host
    suffix = time.strftime("-%Y%m%dT%H%MZ", time.gmtime(host.wall_time()))
    d = host.hv.domain(domid)
    old_name, old_uuid = d.name, d.uuid
    _log(host, domid, f"Preserving domain {domid} {old_name} with suffix{suffix}")
    dom.rename(ctx, domid, old_name + suffix, old_name)
    uuid = new_uuid(ctx)
    xs = ctx.xs()
    vm_old, vm_new = f"/vm/{old_uuid}", f"/vm/{uuid}"
    for entry in xs.walk(vm_old):
        if entry.value is not None:
            xs.write(vm_new + entry.path[len(vm_old):], entry.value)
    xs.set_perms(vm_new, xs.get_perms(vm_old))
    xs.write(vm_new + "/uuid", uuid.encode())
    xs.rm(vm_old)
    xs.write(f"/local/domain/{domid}/vm", vm_new.encode())
    d.uuid = uuid


def _core_dump(host: "Host", domid: int) -> None:
    """Write a (token) core file where the host keeps its state.

    xl names the file after the domain, but a name is the guest's to choose
    (and may hold '/' or '..'), so on disk it is dump/<domid>-<uuid>.core.
    """
    import os
    import uuid as uuidlib

    from pyxl.errors import PyxlError
    from pyxl.state.paths import host_path

    d = host.hv.domain(domid)
    try:
        filename = f"{domid}-{uuidlib.UUID(d.uuid)}.core"
        folder = host_path(host.name, "dump")
        folder.mkdir(exist_ok=True)
        path = host_path(host.name, "dump", filename)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
                     | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with open(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(f"pyxl simulated core dump\ndomid {domid}\nname {d.name!r}\n"
                    f"uuid {d.uuid}\nmemory_kb {d.tot_memkb}\nvcpus {len(d.vcpus)}\n")
    except (OSError, ValueError, PyxlError):
        _log(host, domid, "core dump failed (rc=-3).")
