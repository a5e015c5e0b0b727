"""Managing simulated hosts and their clocks (pyxl's own commands).

A host is a folder with one database; booting it is the analogue of
powering on a machine with Xen's boot parameters, resetting it is a power
cycle with the same parameters, destroying it throws the machine away.
Reset and destroy hold the host's lock alone, so a command running meanwhile
sees the host before or after, never half of it.
"""

from __future__ import annotations


from pyxl.errors import PyxlError, StateError
from pyxl.sim.boot import (BootOptions, boot, default_boot_options, meta_boot_options,
                           read_boot_file, reboot)
from pyxl.sim.peek import current_host_name
from pyxl.sim.schema import MIGRATIONS, SCHEMA_VERSION
from pyxl.toolstack.clock import ClockInfo, advance_clock, clock
from pyxl.toolstack.session import open_ctx
from pyxl.state.db import Database, StateDamaged, host_lock
from pyxl.state.paths import BOOT_NAME, db_path, host_dir, list_hosts


# Plain classes, not dataclasses: the clock commands define them at start-up,
# where a dataclass costs ~30 times more to define.
class HostSummary:
    """One line of `host list`."""

    def __init__(self, name: str, cpus: int | None, memory_mib: int | None,
                 sched: str | None, clock: str | None, domains: int | None,
                 error: str | None = None, damaged: bool = False):
        self.name = name
        self.cpus = cpus
        self.memory_mib = memory_mib
        self.sched = sched
        self.clock = clock
        self.domains = domains
        self.error = error
        self.damaged = damaged  # the way out is `host reset`


def boot_host(name: str | None, opts: BootOptions) -> str:
    name = current_host_name(name)
    opts.validate()  # before the lock makes the host's folder
    with host_lock(name, exclusive=False):
        boot(name, opts, must_be_new=True)
    return name


def _exists(name: str) -> bool:
    """Whether the host has a database or a host.toml (refusing a host folder
    that is a symbolic link)."""
    path = db_path(name)
    try:
        return path.is_file() or path.with_name(BOOT_NAME).is_file()
    except OSError:
        return True  # opening it will say what the OS refuses


def _db_boot(name: str) -> BootOptions | None:
    """The boot options kept in the host's database, if it has one (the caller
    holds the host's lock)."""
    path = db_path(name)
    if not path.exists():
        return None
    db = Database.open(path, name, SCHEMA_VERSION, MIGRATIONS)
    try:
        with db.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'boot'").fetchone()
            return meta_boot_options(row[0] if row else None)
    finally:
        db.close()


def _read_boot(name: str) -> BootOptions:
    """The host's boot options: from host.toml, else from its database."""
    with host_lock(name, exclusive=False):
        opts = read_boot_file(name) or _db_boot(name)
    if opts is None:
        raise PyxlError(f"host '{name}' does not exist")
    return opts


class Reset:
    """What `host reset` did."""

    def __init__(self, name: str, opts: BootOptions, defaults: bool):
        self.name = name
        self.opts = opts
        self.defaults = defaults  # the boot options were lost: booted with the defaults


def reset_host(name: str | None) -> Reset:
    """Power-cycle: the same boot options, every guest and all state gone.

    The options are read and checked before anything changes; the new
    database is built beside the old one and renamed over it.
    """
    name = current_host_name(name)
    if not _exists(name):
        raise PyxlError(f"host '{name}' does not exist")
    with host_lock(name, exclusive=True):
        if not _exists(name):  # destroyed while we waited
            raise PyxlError(f"host '{name}' does not exist")
        opts, defaults = _reset_options(name)
        reboot(name, opts)
    return Reset(name, opts, defaults)


def _reset_options(name: str) -> tuple[BootOptions, bool]:
    """host.toml's options (a bad file stops the reset), else the database's;
    if both are lost, the defaults."""
    opts = read_boot_file(name)
    if opts is not None:
        return opts, False
    try:
        opts = _db_boot(name)
    except StateDamaged:
        opts = None
    if opts is not None:
        return opts, False
    return default_boot_options().validate(), True


def destroy_host(name: str | None) -> str:
    """Remove the host's folder; a symbolic link in its place is removed, never
    what it points to."""
    name = current_host_name(name)
    folder = host_dir(name)
    try:
        if folder.is_symlink():
            folder.unlink()
            return name
        if not folder.is_dir():
            raise PyxlError(f"host '{name}' does not exist")
        with host_lock(name, exclusive=True):
            import shutil

            shutil.rmtree(folder)
    except OSError as e:
        raise StateError(f"pyxl: cannot remove {folder}: {e.strerror or e}") from None
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
            out.append(HostSummary(name, None, None, None, None, None, error=e.message,
                                   damaged=isinstance(e, StateDamaged)))
    return out


def clock_show(name: str | None) -> ClockInfo:
    with open_ctx(name, write=False, privileged=False) as ctx:
        return clock(ctx)


def clock_advance(name: str | None, delta_ns: int, tracer=None) -> ClockInfo:
    with open_ctx(name, write=True, privileged=False, tracer=tracer) as ctx:
        return advance_clock(ctx, delta_ns)
