"""Managing simulated hosts and their clocks (pyxl's own commands).

A host is a folder with one database; booting it is the analogue of
powering on a machine with Xen's boot parameters, resetting it is a power
cycle with the same parameters, destroying it throws the machine away.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

from pyxl.errors import PyxlError
from pyxl.sim.boot import BootOptions, boot, read_boot_file
from pyxl.sim.host import current_host_name
from pyxl.sim.schema import MIGRATIONS, SCHEMA_VERSION
from pyxl.toolstack.ctx import open_ctx
from pyxl.state.db import Database
from pyxl.state.paths import db_path, host_dir, list_hosts


@dataclass
class HostSummary:
    name: str
    cpus: int | None
    memory_mib: int | None
    sched: str | None
    clock: str | None
    domains: int | None
    error: str | None = None


def boot_host(name: str | None, opts: BootOptions) -> str:
    name = current_host_name(name)
    boot(name, opts, must_be_new=True)
    return name


def _read_boot(name: str) -> BootOptions:
    """The host's boot options: from host.toml, else from its database."""
    opts = read_boot_file(name)
    if opts is not None:
        return opts
    path = db_path(name)
    if not path.exists():
        raise PyxlError(f"host '{name}' does not exist")
    db = Database.open(path, name, SCHEMA_VERSION, MIGRATIONS)
    try:
        with db.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'boot'").fetchone()
    finally:
        db.close()
    return BootOptions(**json.loads(row[0]))


def reset_host(name: str | None) -> str:
    """Power-cycle: the same boot options, every guest and all state gone."""
    name = current_host_name(name)
    opts = _read_boot(name)
    destroy_host(name)
    boot(name, opts, must_be_new=True)
    return name


def destroy_host(name: str | None) -> str:
    name = current_host_name(name)
    folder = host_dir(name)
    if not folder.exists():
        raise PyxlError(f"host '{name}' does not exist")
    shutil.rmtree(folder)
    return name


def summaries() -> list[HostSummary]:
    out = []
    for name in list_hosts():
        try:
            opts = _read_boot(name)
            with open_ctx(name, write=False, privileged=False) as ctx:
                n = len(ctx.hv.domains)
            out.append(HostSummary(name, opts.cpus, opts.memory_mib, opts.sched, opts.clock, n))
        except PyxlError as e:
            out.append(HostSummary(name, None, None, None, None, None, error=e.message))
    return out


@dataclass
class ClockInfo:
    mode: str
    now_ns: int
    wall: float  # the host's calendar time now


def clock_show(name: str | None) -> ClockInfo:
    with open_ctx(name, write=False, privileged=False) as ctx:
        h = ctx.host
        return ClockInfo(h.clock, h.now_ns, h.wall_time())


def clock_advance(name: str | None, delta_ns: int) -> ClockInfo:
    """Move simulated time forward; everything that happens meanwhile happens."""
    if delta_ns < 0:
        raise PyxlError("the clock only moves forward")
    # Through the toolstack's context, so that xl's monitors act on whatever
    # the guests do meanwhile (a crash with on_crash=restart, say).
    with open_ctx(name, write=True, privileged=False) as ctx:
        h = ctx.host
        h.advance_to(h.now_ns + delta_ns)
        return ClockInfo(h.clock, h.now_ns, h.wall_time())
