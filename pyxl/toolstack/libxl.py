"""The toolstack's face to the command line, shaped like libxl's API.

xl calls `libxl_domain_pause(ctx, domid)`; pyxl's CLI calls
`libxl.domain_pause(domid)` on the `Libxl` that `open_libxl` gives it for one
command (one transaction on one host). Methods are named after the libxl (or
libxenstore, xs_*) call where there is one, return plain values for the CLI
to render, and raise PyxlError with xl's words. Each imports its
implementation when called, so importing this module costs nothing.

Waiting spans several commands' transactions, so the waits are functions
that take a way to open a new `Libxl` for each poll.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, TypeVar

from pyxl.errors import LibxlError, PyxlError

if TYPE_CHECKING:
    from pyxl.toolstack.ctx import Ctx

T = TypeVar("T")
Opener = Callable[[], AbstractContextManager["Libxl"]]


class Libxl:
    """libxl_ctx for one command: every query and operation the CLI makes."""

    def __init__(self, ctx: Ctx):
        self._ctx = ctx

    # --- domains ---

    def domain_qualifier_to_domid(self, qualifier: str) -> int:
        """All digits is a domid (unchecked), else a name that must exist."""
        from pyxl.toolstack.ctx import find_domain

        return find_domain(self._ctx, qualifier)

    def name_to_domid(self, name: str) -> int | None:
        from pyxl.toolstack import domain

        return domain.domid_of(self._ctx, name)

    def domid_to_name(self, domid: int) -> str | None:
        from pyxl.toolstack import domain

        return domain.name_of(self._ctx, domid)

    def domain_info(self, domid: int):
        """libxl_dominfo of the domain, or None (logged, as libxl) if there is none."""
        from pyxl.toolstack import domain

        try:
            return domain.domain_info(self._ctx, domid)
        except LibxlError:
            return None

    def list_domain(self) -> list:
        """libxl_dominfo of every domain, by domid."""
        from pyxl.toolstack import domain

        return domain.list_domains(self._ctx)

    def list_long_json(self, domids: list[int]) -> str:
        """`xl list -l`: each domain's configuration as it is now, in libxl's JSON."""
        from pyxl.toolstack.retrieve import list_long_json

        return list_long_json(self._ctx, domids)

    def vm_get_start_time(self, domid: int) -> int | None:
        from pyxl.toolstack import domain

        return domain.start_time(self._ctx, domid)

    def domain_destroy(self, domid: int) -> None:
        from pyxl.toolstack import domain

        domain.destroy(self._ctx, domid)

    def domain_pause(self, domid: int) -> None:
        from pyxl.toolstack import domain

        domain.pause(self._ctx, domid)

    def domain_unpause(self, domid: int) -> None:
        from pyxl.toolstack import domain

        domain.unpause(self._ctx, domid)

    def domain_rename(self, domid: int, new_name: str, qualifier: str) -> None:
        from pyxl.toolstack import domain

        domain.rename(self._ctx, domid, new_name, qualifier)

    def parse_config(self, text: str, source: str):
        """xl's parse_config_data for this host: the config and xl's warnings."""
        from pyxl.toolstack.create import parse_config

        return parse_config(self._ctx, text, source)

    def domain_create_new(self, config, *, paused: bool = False, monitored: bool = True) -> int:
        from pyxl.toolstack.create import create_domain

        return create_domain(self._ctx, config, paused=paused, monitored=monitored)

    # --- save, restore, migration (pyxl/toolstack/saverestore.py) ---

    def retrieve_domain_configuration(self, domid: int, preserve_domid: bool = False):
        """What xl save embeds: (typed config, libxl's JSON of it), or None."""
        from pyxl.toolstack.saverestore import config_for_save

        return config_for_save(self._ctx, domid, preserve_domid)

    def config_to_json(self, config) -> bytes:
        """libxl_domain_config_to_json of a parsed config."""
        from pyxl.toolstack.saverestore import libxl_json

        return libxl_json(config)

    def domain_suspend_image(self, domid: int, out, config, override: bool = False) -> int:
        """libxl_domain_suspend's stream, once the guest has suspended."""
        from pyxl.toolstack.saverestore import write_image

        return write_image(self._ctx, domid, out, config, override)

    def domain_resume(self, domid: int, suspend_cancel: bool = True) -> int:
        """libxl_domain_resume; the libxl rc (xl ignores it, libxl logs it)."""
        from pyxl.toolstack.saverestore import domain_resume

        try:
            domain_resume(self._ctx, domid, suspend_cancel)
        except LibxlError as e:
            return e.rc
        return 0

    def restore_config(self, image, libxl_obj):
        """The config a restore builds from a save file's JSON and image."""
        from pyxl.toolstack.saverestore import config_from_image

        return config_from_image(image, libxl_obj)

    def domain_create_restore(self, config, image, *, paused: bool = False,
                              monitored: bool = True, domid: int | None = None) -> int:
        from pyxl.toolstack.saverestore import restore_domain

        return restore_domain(self._ctx, config, image, paused=paused, monitored=monitored,
                              domid=domid)

    def console_log(self, domid: int, ctype: str | None, num: int) -> list[str] | None:
        """What the console has shown, or None where xl could not attach."""
        from pyxl.toolstack.console import console_log

        return console_log(self._ctx, domid, ctype, num)

    # --- shutdown, reboot, triggers ---

    def domain_shutdown(self, domid: int) -> int:
        """Ask the guest to power off (PV control); the libxl rc."""
        return self._pvcontrol(domid, "poweroff")

    def domain_reboot(self, domid: int) -> int:
        return self._pvcontrol(domid, "reboot")

    def _pvcontrol(self, domid: int, cmd: str) -> int:
        from pyxl.toolstack import lifecycle

        try:
            lifecycle.pvcontrol_request(self._ctx, domid, cmd)
        except LibxlError as e:
            return e.rc
        return 0

    def domain_death_event(self, domid: int):
        """The death or shutdown libxl would report for the domain now, or None."""
        from pyxl.toolstack import lifecycle

        return lifecycle.death_event(self._ctx, domid)

    def shutdown_targets(self) -> list[int]:
        """`shutdown -a`: every domain but dom0."""
        from pyxl.toolstack import lifecycle

        return lifecycle.shutdown_targets(self._ctx)

    def send_trigger(self, domid: int, trigger: str, vcpuid: int = 0) -> int:
        from pyxl.toolstack import lifecycle

        return lifecycle.send_trigger(self._ctx, domid, trigger, vcpuid)

    def send_sysrq(self, domid: int, key: str) -> None:
        from pyxl.toolstack import lifecycle

        lifecycle.send_sysrq(self._ctx, domid, key)

    # --- memory ---

    def domain_setmaxmem(self, domid: int, max_memkb: int) -> int:
        """libxl_domain_setmaxmem; the libxl rc (failures logged)."""
        from pyxl.toolstack import memory

        return self._mem_rc(lambda: memory.set_max_memory(self._ctx, domid, max_memkb))

    def set_memory_target(self, domid: int, target_memkb: int, *, relative: bool = False,
                          enforce: bool = True) -> int:
        from pyxl.toolstack import memory

        return self._mem_rc(lambda: memory.set_memory_target(
            self._ctx, domid, target_memkb, relative=relative, enforce=enforce))

    @staticmethod
    def _mem_rc(op: Callable[[], object]) -> int:
        try:
            op()
        except LibxlError as e:
            return e.rc
        return 0

    # --- vCPUs ---

    def list_vcpu(self, domid: int) -> list:
        """libxl_vcpuinfo of each vCPU; [] (logged) if the domain is gone."""
        from pyxl.toolstack.vcpu import list_vcpus

        return list_vcpus(self._ctx, domid)

    def set_vcpuaffinity(self, domid: int, vcpuid: int | None, hard: set[int] | None,
                         soft: set[int] | None) -> bool:
        """vcpuid None: every vCPU (libxl_set_vcpuaffinity_all). False if any failed."""
        from pyxl.toolstack.vcpu import vcpu_pin

        return vcpu_pin(self._ctx, domid, vcpuid, hard, soft)

    def set_vcpuonline(self, domid: int, count: int) -> int:
        """vCPUs 0..count-1 online, the rest offline; the libxl rc."""
        from pyxl.toolstack.vcpu import vcpu_set

        return vcpu_set(self._ctx, domid, count)

    # --- the host ---

    def get_physinfo(self):
        return self._ctx.host.physinfo

    def info_uname(self) -> list[tuple[str, str]]:
        """`xl info`'s sections, as (key, text after the colon) pairs."""
        from pyxl.toolstack import info

        return info.uname(self._ctx)

    def info_physinfo(self) -> list[tuple[str, str]]:
        from pyxl.toolstack import info

        return info.physinfo(self._ctx)

    def info_xeninfo(self) -> list[tuple[str, str]]:
        from pyxl.toolstack import info

        return info.xeninfo(self._ctx)

    def get_cpu_topology(self) -> list[tuple[int, int, int, int]]:
        """(cpu, core, socket, node) of every pCPU."""
        from pyxl.toolstack import info

        return info.cpu_topology(self._ctx)

    def get_numainfo(self) -> list[tuple[int, int, int, list[int]]]:
        """(node, memsize MiB, memfree MiB, distances) of every NUMA node."""
        from pyxl.toolstack import info

        return info.numa_info(self._ctx)

    def xen_console_read(self, clear: bool = False) -> list[str]:
        from pyxl.toolstack import info

        return info.xen_console_read(self._ctx, clear)

    def clock(self):
        """The host's clock: mode, simulated ns since boot, calendar time."""
        from pyxl.toolstack import clock

        return clock.clock(self._ctx)

    def advance_clock(self, delta_ns: int):
        """Run the simulation `delta_ns` forward (what `pyxl clock advance` does)."""
        from pyxl.toolstack import clock

        return clock.advance_clock(self._ctx, delta_ns)

    def top_sample(self, delay_ns: int = 0):
        """xentop's view of the host `delay_ns` after the last one. On a
        manual clock nothing would change while top sleeps, so the clock is
        moved on by the delay, as `clock advance` would; on a realtime clock
        the wait itself is the delay."""
        from pyxl.toolstack.top import sample

        if delay_ns and self._ctx.host.clock == "manual":
            self.advance_clock(delay_ns)
        return sample(self._ctx)

    # --- cpupools ---

    def list_cpupool(self) -> list:
        from pyxl.toolstack import cpupool

        return cpupool.list_pools(self._ctx)

    def cpupoolid_to_name(self, poolid: int) -> str | None:
        from pyxl.toolstack import cpupool

        return cpupool.cpupoolid_to_name(self._ctx, poolid)

    def name_to_cpupoolid(self, name: str) -> int | None:
        from pyxl.toolstack import cpupool

        return cpupool.pool_by_name(self._ctx, name)

    def cpupool_qualifier_to_cpupoolid(self, qualifier: str) -> int | None:
        """An id or a name of an existing pool, else None."""
        from pyxl.toolstack import cpupool

        return cpupool.pool_qualifier(self._ctx, qualifier)

    def require_cpupool(self, qualifier: str) -> int:
        """The pool's id, or xl's "unknown cpupool" error."""
        from pyxl.toolstack import cpupool

        return cpupool.require_pool(self._ctx, qualifier)

    def parse_cpurange(self, text: str) -> set[int]:
        """xl's CPU list syntax (`0-3,^2`, `node:1`, `all`) over this host."""
        from pyxl.toolstack import cpupool

        return cpupool.parse_cpus(self._ctx, text)

    def parse_cpupool_config(self, text: str, filename: str | None):
        from pyxl.toolstack import cpupool

        return cpupool.parse_pool_config(self._ctx, text, filename)

    def cpupool_create(self, spec) -> int:
        from pyxl.toolstack import cpupool

        return cpupool.create_pool(self._ctx, spec)

    def cpupool_destroy(self, poolid: int) -> bool:
        from pyxl.toolstack import cpupool

        return cpupool.destroy_pool(self._ctx, poolid)

    def cpupool_rename(self, poolid: int, name: str) -> None:
        from pyxl.toolstack import cpupool

        cpupool.rename_pool(self._ctx, poolid, name)

    def cpupool_cpuadd_cpumap(self, poolid: int, cpus: set[int]) -> bool:
        from pyxl.toolstack import cpupool

        return cpupool.cpu_add(self._ctx, poolid, cpus)

    def cpupool_cpuremove_cpumap(self, poolid: int, cpus: set[int]) -> bool:
        from pyxl.toolstack import cpupool

        return cpupool.cpu_remove(self._ctx, poolid, cpus)

    def cpupool_movedomain(self, poolid: int, domid: int) -> None:
        from pyxl.toolstack import cpupool

        cpupool.move_domain(self._ctx, poolid, domid)

    def cpupool_numa_split(self) -> None:
        from pyxl.toolstack import cpupool

        cpupool.numa_split(self._ctx)

    # --- schedulers ---

    def domain_sched_params_get(self, domid: int, sched: str) -> dict:
        from pyxl.toolstack import sched as ts

        return ts.get_domain_params(self._ctx, domid, sched)

    def domain_sched_params_set(self, domid: int, sched: str, changes: dict) -> dict:
        from pyxl.toolstack import sched as ts

        return ts.set_domain_params(self._ctx, domid, sched, changes)

    def vcpu_sched_params_get(self, domid: int, vcpuids: list[int] | None) -> list:
        from pyxl.toolstack import sched as ts

        return ts.get_vcpu_params(self._ctx, domid, vcpuids)

    def vcpu_sched_params_set(self, domid: int, settings: list) -> None:
        from pyxl.toolstack import sched as ts

        ts.set_vcpu_params(self._ctx, domid, settings)

    def sched_params_get(self, poolid: int, sched: str) -> dict | None:
        """A pool's scheduler-wide parameters (None: libxl could not get them)."""
        from pyxl.toolstack import sched as ts

        return ts.get_pool_params(self._ctx, poolid, sched)

    def sched_params_set(self, poolid: int, sched: str, changes: dict) -> dict:
        from pyxl.toolstack import sched as ts

        return ts.set_pool_params(self._ctx, poolid, sched, changes)

    def cpupools_running(self, sched: str, only: int | None = None) -> list:
        """(poolid, name, domids) of each pool that runs `sched`, as xl walks them."""
        from pyxl.toolstack import sched as ts

        return ts.pools_running(self._ctx, sched, only)

    def get_workload(self, domid: int) -> list[str]:
        from pyxl.toolstack import sched as ts

        return ts.get_workload(self._ctx, domid)

    def set_workload(self, domid: int, spec: str) -> list[str]:
        from pyxl.toolstack import sched as ts

        return ts.set_workload(self._ctx, domid, spec)

    def sched_trace(self, duration_ns: int, poolid: int = 0, buckets: int = 50):
        """Run the pool's scheduler forward and keep what it decided, and why."""
        from pyxl.toolstack.schedtrace import run_trace

        return run_trace(self._ctx, duration_ns, poolid, buckets=buckets)

    # --- PCI passthrough (libxl_pci.c; xl's spec parser from libxlu_pci.c) ---

    @staticmethod
    def pci_parse_spec_string(text: str):
        """xlu_pci_parse_spec_string: (device or None, what libxlu printed)."""
        from pyxl.toolstack.pci import parse_spec_string

        return parse_spec_string(text)

    @staticmethod
    def pci_parse_bdf(text: str):
        """xlu_pci_parse_bdf: the device, or None if `text` is no BDF."""
        from pyxl.toolstack.pci import parse_pci_bdf

        return parse_pci_bdf(text)

    @staticmethod
    def pci_named(name: str):
        """A device given by the name pci-assignable-add -n gave it."""
        from pyxl.toolstack.pci import DevicePci

        return DevicePci(name=name)

    def device_pci_add(self, domid: int, pci) -> None:
        from pyxl.toolstack import pci as pcimod

        pcimod.pci_add(self._ctx, domid, pci)

    def device_pci_remove(self, domid: int, pci, force: bool = False) -> None:
        """libxl_device_pci_remove, or libxl_device_pci_destroy when forced."""
        from pyxl.toolstack import pci as pcimod

        pcimod.device_pci_remove(self._ctx, domid, pci, force)

    def device_pci_list(self, domid: int) -> list:
        from pyxl.toolstack import pci as pcimod

        return pcimod.device_pci_list(self._ctx, domid)

    def device_pci_assignable_add(self, pci, rebind: bool = True) -> None:
        from pyxl.toolstack import pci as pcimod

        pcimod.assignable_add(self._ctx, pci, rebind)

    def device_pci_assignable_remove(self, pci, rebind: bool = False) -> None:
        from pyxl.toolstack import pci as pcimod

        pcimod.assignable_remove(self._ctx, pci, rebind)

    def device_pci_assignable_list(self) -> list[tuple[str, str | None]]:
        """(BDF, name or None) of each device a guest may be given."""
        from pyxl.toolstack import pci as pcimod

        return pcimod.assignable_list(self._ctx)

    # --- XenStore (libxenstore), as the caller of this command ---

    def xs_read(self, path: str, t: int = 0) -> bytes:
        return self._ctx.xs().read(path, t)

    def xs_write(self, path: str, value: bytes, t: int = 0) -> None:
        self._ctx.xs().write(path, value, t)

    def xs_rm(self, path: str, t: int = 0) -> None:
        self._ctx.xs().rm(path, t)

    def xs_directory(self, path: str, t: int = 0) -> list[str]:
        return self._ctx.xs().directory(path, t)

    def xs_set_permissions(self, path: str, perms, t: int = 0) -> None:
        self._ctx.xs().set_perms(path, perms, t)

    def xs_walk(self, path: str, t: int = 0) -> list:
        """Every node below `path` with its value and permissions, in xenstore-ls order."""
        return self._ctx.xs().walk(path, t)

    def xs_transaction_start(self) -> int:
        return self._ctx.xs().transaction_start()

    def xs_transaction_end(self, t: int, abort: bool = False) -> None:
        """Commit (or abort) transaction `t`; EAGAIN if it conflicted."""
        self._ctx.xs().transaction_end(t, not abort)

    def shared_info(self, qualifier: str, vcpu: int | None = None) -> dict:
        """The domain's shared_info page, decoded and as its 4096 bytes (pyxl)."""
        from pyxl.toolstack import pages

        return pages.shared_info(self._ctx, qualifier, vcpu)

    def start_info(self, qualifier: str) -> dict:
        """A PV domain's start_info page, decoded and as its 4096 bytes (pyxl)."""
        from pyxl.toolstack import pages

        return pages.start_info(self._ctx, qualifier)

    def guest_hypercall(self, qualifier: str, op: str, sub: str | None, args: dict) -> dict:
        """One hypercall made as the domain's kernel: Xen's checks, its return (pyxl)."""
        from pyxl.toolstack import hypercall

        return hypercall.issue(self._ctx, qualifier, op, sub, args)

    def domain_core_dump(self, domid: int, filename: str) -> None:
        """libxl_domain_core_dump: xc_domain_dumpcore's ELF core of the domain."""
        from pyxl.toolstack import dumpcore

        dumpcore.core_dump(self._ctx, domid, filename)

    @property
    def psr(self):
        """libxl_psr_*: PSR monitoring and allocation (pyxl/toolstack/psr.py)."""
        from pyxl.toolstack.psr import Psr

        return Psr(self._ctx)

    # --- FLASK, runtime parameters, the device model (xl_flask.c, xl_misc.c) ---

    def flask_getenforce(self) -> tuple[int, str | None]:
        """libxl_flask_getenforce: (the mode, None), or (-1, the errno name)."""
        from pyxl.hv.errors import HypercallError
        from pyxl.toolstack import flask

        try:
            return flask.getenforce(self._ctx), None
        except HypercallError as e:
            return -1, e.errno

    def flask_setenforce(self, mode: int) -> str | None:
        """libxl_flask_setenforce: None, or the errno name of its failure."""
        from pyxl.hv.errors import HypercallError
        from pyxl.toolstack import flask

        try:
            flask.setenforce(self._ctx, mode)
        except HypercallError as e:
            return e.errno
        return None

    def flask_loadpolicy(self, policy: bytes) -> str | None:
        """libxl_flask_loadpolicy: None, or the errno name of its failure."""
        from pyxl.hv.errors import HypercallError
        from pyxl.toolstack import flask

        try:
            flask.load(self._ctx, policy)
        except HypercallError as e:
            return e.errno
        return None

    def set_parameters(self, params: str) -> None:
        """libxl_set_parameters (logged; ErrorFail on the first refusal)."""
        from pyxl.toolstack import params as hypfs_params

        hypfs_params.set_parameters(self._ctx, params)

    def qemu_monitor_command(self, domid: int, command_line: str) -> str:
        """libxl_qemu_monitor_command: the device model's HMP answer (logged
        ErrorFail where there is no QMP socket to reach)."""
        from pyxl.toolstack import qmp

        return qmp.monitor_command(self._ctx, domid, command_line)

    def vncviewer_args(self, domid: int, autopass: bool) -> list[str]:
        """What libxl_vncviewer_exec would exec (logged ErrorFail without a VNC port)."""
        from pyxl.toolstack import qmp

        return qmp.vncviewer_args(self._ctx, domid, autopass)

    def userdata_store_xl(self, domid: int, config_text: bytes) -> None:
        """libxl_userdata_store(domid, "xl"): the config xl rebuilds from at reboot."""
        from pyxl.toolstack.retrieve import store_xl_userdata

        store_xl_userdata(self._ctx, domid, config_text)

    def xs_quota_get(self, domid: int | None) -> list[tuple[str, int]]:
        """Every xenstored quota, globally (None) or for one domain; ErrorFail."""
        from pyxl.toolstack import xsquota

        return xsquota.quota_get(self._ctx, domid)

    def xs_quota_set(self, domid: int | None, items: list[tuple[str, int]]) -> None:
        from pyxl.toolstack import xsquota

        xsquota.quota_set(self._ctx, domid, items)

    def xs_open(self, client: str):
        """A connection of this process's own, which outlives this command."""
        from pyxl.toolstack import xs

        return xs.xs_open(self._ctx, client)

    def xs_watch(self, handle, path: str, token: str, depth: int | None = None) -> None:
        self._ctx.xs(handle.conn_id).watch(path, token, depth)

    def xs_check_watch(self, handle, since_seq: int) -> list:
        """The events of the handle's watches after change `since_seq`."""
        return self._ctx.xs(handle.conn_id).pending_events(since_seq=since_seq)

    # --- event channels and grant tables (pyxl's evtchn-list, grant-list) ---

    def evtchn_list(self, domain: str) -> dict:
        """The domain's event channels and its vCPUs' pending bits."""
        from pyxl.toolstack import channels

        return channels.evtchn_list(self._ctx, domain)

    def grant_list(self, domain: str) -> dict:
        """The domain's grant table and the grants of others it maps."""
        from pyxl.toolstack import channels

        return channels.grant_list(self._ctx, domain)

    def send_debug_keys(self, keys: str) -> None:
        """libxl_send_debug_keys: Xen's dumps for these keys go to its console."""
        from pyxl.toolstack import channels

        channels.send_debug_keys(self._ctx, keys)

    # --- split devices: vifs and vbds (libxl_device_nic_*, libxl_device_disk_*) ---

    def device_nic_add(self, domid: int, nic) -> int:
        """libxl_device_nic_add; DeviceError where libxl fails. Returns the devid."""
        from pyxl.toolstack import device
        from pyxl.toolstack.create import new_uuid

        return device.nic_add(self._ctx, domid, nic, new_uuid)

    def device_disk_add(self, domid: int, disk) -> int:
        from pyxl.toolstack import device

        return device.disk_add(self._ctx, domid, disk)

    def device_list(self, domid: int, kind: str) -> list:
        """libxl_device_{nic,disk}_list with each one's getinfo ("vif" or "vbd")."""
        from pyxl.toolstack import device

        return device.list_devices(self._ctx, domid, kind)

    def device_find(self, domid: int, kind: str, which: str) -> int | None:
        """libxl_devid_to_device_nic / mac_to_device_nic / vdev_to_device_disk."""
        from pyxl.toolstack import device

        return device.find_devid(self._ctx, domid, kind, which)

    def device_remove(self, domid: int, kind: str, devid: int) -> None:
        """libxl_device_{nic,disk}_remove: Closing, Closed, then the nodes go."""
        from pyxl.toolstack import device

        device.remove(self._ctx, domid, kind, devid)

    def cdrom_insert(self, domid: int, disk) -> None:
        from pyxl.toolstack import device

        device.cdrom_insert(self._ctx, domid, disk)

    # --- vkb, vtpm, vdispl, vsnd (libxl_vkb.c, libxl_vtpm.c, ...) ---

    def vdev_add(self, domid: int, kind: str, dev: dict) -> int:
        """libxl_device_<kind>_add ("vkb", "vtpm", "vdispl", "vsnd");
        DeviceError where libxl fails. Returns the devid."""
        from pyxl.toolstack import vdev
        from pyxl.toolstack.create import new_uuid

        return vdev.add(self._ctx, domid, kind, dev, new_uuid)

    def vdev_list(self, domid: int, kind: str) -> list[dict]:
        """libxl_device_<kind>_list with each one's getinfo."""
        from pyxl.toolstack import vdev

        return vdev.list_devices(self._ctx, domid, kind)

    def vdev_find(self, domid: int, kind: str, which: str) -> int | None:
        """libxl_devid_to_device_<kind> (a vtpm also by uuid)."""
        from pyxl.toolstack import vdev
        from pyxl.toolstack.device import _atoi

        if kind == "vtpm":
            return vdev.find_vtpm(self._ctx, domid, which)
        devid = _atoi(which)
        return devid if devid in vdev.devids(self._ctx, domid, kind) else None

    # --- USB passthrough (libxl_usb.c; xl's spec parsers from xl_parse.c) ---

    @staticmethod
    def usbctrl_parse(tokens) -> tuple:
        """(libxl_device_usbctrl, xl's error line or None)."""
        from pyxl.toolstack import usb

        ctrl = usb.UsbCtrl()
        return ctrl, next((e for t in tokens if (e := usb.parse_usbctrl_config(ctrl, t))), None)

    @staticmethod
    def usbdev_parse(tokens) -> tuple:
        """(libxl_device_usbdev, xl's error line or None)."""
        from pyxl.toolstack import usb

        dev = usb.UsbDev()
        return dev, next((e for t in tokens if (e := usb.parse_usbdev_config(dev, t))), None)

    def device_usbctrl_add(self, domid: int, ctrl) -> int:
        from pyxl.toolstack import usb

        return usb.usbctrl_add(self._ctx, domid, ctrl)

    def devid_to_device_usbctrl(self, domid: int, devid: int):
        from pyxl.toolstack import usb

        return usb.usbctrl_find(self._ctx, domid, devid)

    def device_usbctrl_remove(self, domid: int, devid: int) -> None:
        from pyxl.toolstack import usb

        usb.usbctrl_remove(self._ctx, domid, devid)

    def device_usbctrl_list(self, domid: int) -> list:
        """Each controller's libxl_usbctrlinfo, with its devices by port."""
        from pyxl.toolstack import usb

        return [(usb.usbctrl_info(self._ctx, domid, c),
                 {p: usb.usbdev_at(self._ctx, domid, c.devid, p) for p in range(1, c.ports + 1)})
                for c in usb.ctrl_list(self._ctx, domid)]

    def device_usbdev_add(self, domid: int, dev) -> None:
        from pyxl.toolstack import usb

        usb.usbdev_add(self._ctx, domid, dev)

    def ctrlport_to_device_usbdev(self, domid: int, ctrl: int, port: int):
        from pyxl.toolstack import usb

        return usb.usbdev_at(self._ctx, domid, ctrl, port)

    def device_usbdev_remove(self, domid: int, dev) -> None:
        from pyxl.toolstack import usb

        usb.usbdev_remove(self._ctx, domid, dev)

    def domain_type(self, domid: int) -> str | None:
        d = self._ctx.hv.domains.get(domid)
        return None if d is None else d.type

    def xs_close(self, handle) -> None:
        from pyxl.toolstack import xs

        xs.xs_close(self._ctx, handle)


@contextmanager
def open_libxl(host: str | None = None, *, write: bool, commit: bool = True, caller: int = 0,
               privileged: bool = True, logger: Callable[[str], None] | None = None,
               verbose: int = 0, tracer=None) -> Iterator[Libxl]:
    """libxl_ctx_alloc for one command on `host`: see ctx.open_ctx."""
    from pyxl.toolstack.session import open_ctx

    with open_ctx(host, write=write, commit=commit, caller=caller, privileged=privileged,
                  logger=logger, verbose=verbose, tracer=tracer) as ctx:
        yield Libxl(ctx)


class LibxlPeek:
    """The queries a command can answer from the host's stored state alone,
    when no simulation has to run first (see `peek_libxl`), as they stand
    at `now_ns` (None: not known to the caller that built it)."""

    def __init__(self, conn, now_ns: int | None = None):
        self._conn = conn
        self.now_ns = now_ns

    def name_to_domid(self, name: str) -> int | None:
        from pyxl.toolstack import domain

        return domain.peek_domid(self._conn, name)

    def domid_to_name(self, domid: int) -> str | None:
        from pyxl.toolstack import domain

        return domain.peek_name(self._conn, domid)

    def list_domain(self, qualifier: str | None = None) -> list | None:
        """`xl list`'s view (sim.view.Listed, by domid) of every domain, or of
        the one `qualifier` names (as domain_qualifier_to_domid reads it);
        None when the full path must answer: a pool whose scheduler must run
        first, a row the model would refuse, or a qualifier that names no
        domain (libxl's errors are the full path's)."""
        from pyxl.sim.view import list_domains

        if self.now_ns is None:
            return None
        domid = None
        if qualifier is not None:
            domid = self._qualified_domid(qualifier)
            if domid is None:
                return None
        listed = list_domains(self._conn, self.now_ns, domid)
        return listed or None

    def _qualified_domid(self, qualifier: str) -> int | None:
        """libxl_domain_qualifier_to_domid, None where it would fail."""
        if qualifier.isdigit() and qualifier.isascii():
            from pyxl.cnum import domid_from_digits

            return domid_from_digits(qualifier)
        return self.name_to_domid(qualifier)

    def xs_read(self, path: str) -> bytes:
        """xs_read by dom0 outside a transaction (XenStoreError as Libxl's)."""
        from pyxl.sim.view import xs_read

        return xs_read(self._conn, path, 0)


@contextmanager
def peek_libxl(host: str | None = None, *, caller: int = 0) -> Iterator[LibxlPeek | None]:
    """A quick look at `host` for a read-only query, without loading the
    hypervisor or the guests: a `LibxlPeek`, or None when the query must go
    through `open_libxl` after all (a realtime clock has time to catch up, the
    host is not booted yet, or the caller is a domU, which xl refuses there)."""
    if caller != 0:
        yield None
        return
    from pyxl.sim.peek import peek_host

    with peek_host(host) as peek:
        yield None if peek is None else LibxlPeek(peek.conn, peek.now_ns)


def require_privileged(caller: int) -> None:
    """The error xl gives in a domU, where it cannot get a libxl context."""
    from pyxl.toolstack import ctx

    ctx.require_privileged(caller)


# --- waiting, across commands' transactions ---


@contextmanager
def _ctx_of(opened: AbstractContextManager[Libxl]) -> Iterator[Ctx]:
    with opened as libxl:
        yield libxl._ctx


def wait_for(reopen: Opener, domids: list[int], check: Callable[[Libxl], T | None]) -> T | None:
    """Poll `check` until it returns something; None if 600 s of simulated
    time passed first. A manual clock is moved along to the watched guests'
    next events; a realtime one moves by itself."""
    from pyxl.toolstack import lifecycle

    return lifecycle.wait_for(lambda: _ctx_of(reopen()), domids,
                              lambda ctx: check(Libxl(ctx)), lifecycle.WAIT_LIMIT_NS)


def wait_for_pvcontrol_ack(reopen: Opener, domid: int) -> int:
    """libxl's wait (60 s) for the guest to acknowledge a shutdown or reboot
    request: 0, or ERROR_TIMEDOUT (logged)."""
    from pyxl.toolstack import lifecycle

    def acked(ctx: Ctx) -> bool | None:
        return True if lifecycle.pvcontrol_acked(ctx, domid) else None

    if lifecycle.wait_for(lambda: _ctx_of(reopen()), [domid], acked,
                          lifecycle.PVCONTROL_TIMEOUT_NS) is not None:
        return 0
    with _ctx_of(reopen()) as ctx:
        lifecycle.log_ack_timeout(ctx)
    return lifecycle.ERROR_TIMEDOUT


def domain_suspend(reopen: Opener, domid: int) -> int:
    """libxl's suspend of a domain: the request, then up to 60 s of waiting
    for SCHEDOP_shutdown(suspend); 0, or the libxl rc (logged)."""
    from pyxl.toolstack import lifecycle, saverestore

    with _ctx_of(reopen()) as ctx:
        try:
            saverestore.suspend_request(ctx, domid)
        except LibxlError as e:
            return e.rc
    got = lifecycle.wait_for(lambda: _ctx_of(reopen()), [domid],
                             lambda ctx: saverestore.suspend_state(ctx, domid),
                             saverestore.SUSPEND_TIMEOUT_NS)
    if got is not None:
        return got
    with _ctx_of(reopen()) as ctx:
        return saverestore.suspend_timed_out(ctx, domid)


def domain_save_live(reopen: Opener, domid: int, out, config, override: bool = False,
                     report=None) -> tuple[int, dict | None]:
    """libxl_domain_suspend with LIBXL_SUSPEND_LIVE (xl migrate): pre-copy
    rounds while the guest runs, then its suspend and the stop-and-copy
    round; (0, the figures) or (the libxl rc, None)."""
    from pyxl.toolstack import precopy

    return precopy.save_live(lambda: _ctx_of(reopen()), lambda: domain_suspend(reopen, domid),
                             domid, out, config, override, report)


def remus_resume_primary(reopen: Opener, domid: int) -> int:
    """Remus's primary runs on after the initial save: 0 or the libxl rc."""
    from pyxl.toolstack import remus

    return remus.resume_primary(lambda: _ctx_of(reopen()), domid)


def remus_checkpoint(reopen: Opener, domid: int, out, config, last_ns: int):
    """One Remus checkpoint into `out` (pyxl/toolstack/remus.py)."""
    from pyxl.toolstack import remus

    return remus.checkpoint(lambda: _ctx_of(reopen()), lambda: domain_suspend(reopen, domid),
                            domid, out, config, last_ns)


def remus_primary_state(reopen: Opener, domid: int) -> tuple[bool, int]:
    from pyxl.toolstack import remus

    return remus.primary_state(lambda: _ctx_of(reopen()), domid)


def remus_apply_checkpoint(libxl: Libxl, domid: int, name: str, image) -> None:
    """The backup's NAME--incoming becomes a complete checkpoint."""
    from pyxl.toolstack import remus

    remus.replace_incoming(libxl._ctx, domid, name, image)


@contextmanager
def existing_host(name: str | None, opener: Opener) -> Iterator[Libxl]:
    """`opener()` on a host that must already be there: HostGone, rather than
    a new host booted, once `host destroy` has removed it (its lock, held
    shared meanwhile, keeps it from going while we use it)."""
    from pyxl.state.db import host_lock
    from pyxl.state.paths import db_path, host_dir
    from pyxl.toolstack import hosts

    name = hosts.current_host_name(name)
    if not host_dir(name).is_dir():
        raise HostGone(name)
    with host_lock(name, exclusive=False):
        if not db_path(name).exists():
            raise HostGone(name)
        with opener() as libxl:
            yield libxl


class HostGone(PyxlError):
    """The host was destroyed under a command that was using it."""


def wait_for_death(reopen: Opener, domid: int) -> None:
    """xl's monitor for create -F: until the domain is gone, however long it
    takes; a manual clock is left for other commands to move."""
    from pyxl.toolstack import lifecycle

    lifecycle.wait_for_death(lambda: _ctx_of(reopen()), domid)


# --- what needs no host ---


def read_config(path: str | None, extra: list[str]) -> str:
    """An xl.cfg file's text with the command line's `key=value` settings appended."""
    from pyxl.toolstack.create import read_config

    return read_config(path, extra)


def read_config_text(path: str) -> str:
    from pyxl.toolstack.create import read_config_text

    return read_config_text(path)


def printf_info_json(config) -> str:
    """xl's printf_info(..., -1, config): {"domid": null, "config": ...}."""
    from pyxl.toolstack.libxl_json import domain_config_json_obj, render

    return render({"domid": None, "config": domain_config_json_obj(config)})


def dryrun_json(config) -> str:
    """A parsed config as `xl create -n` prints it."""
    from pyxl.toolstack.libxl_json import dryrun_json

    return dryrun_json(config)


def parse_mem_size_kb(text: str) -> int:
    """xl's memory size syntax (no unit: MiB); -1 if it is not one."""
    from pyxl.toolstack.memory import parse_mem_size_kb

    return parse_mem_size_kb(text)


def trigger_from_string(name: str) -> str | None:
    """libxl_trigger_from_string: the trigger's name (any case), or None."""
    from pyxl.toolstack.lifecycle import TRIGGERS

    name = name.lower()
    return name if name in TRIGGERS else None


def parse_duration(text: str) -> int:
    """A duration as `clock advance` reads it (1.5s, 250ms, 1m30s), in ns."""
    from pyxl.units import parse_duration_ns

    return parse_duration_ns(text)


def cpu_pct(domain, prev, now_ns: int) -> float:
    """xentop's CPU(%) of a domain between the previous sample and now."""
    from pyxl.toolstack.top import cpu_pct

    return cpu_pct(domain, prev, now_ns)


def summary_counts(sample) -> dict[str, int]:
    from pyxl.toolstack.top import summary_counts

    return summary_counts(sample)


# --- simulated hosts (pyxl's own) ---


def boot_host(name: str | None, *, cpus: int, nodes: int, memory_mib: int,
              dom0_mem: str | None = None, sched: str, clock: str | None = None,
              pci: tuple | None = None, usb: tuple | None = None,
              flask: str = "disabled", psr: str = "", link_mbps: int = 1000):
    """Boot a new host; (its name, the boot options it got). `dom0_mem`:
    Xen's dom0_mem= (a bare number is MiB, with that as the limit too);
    `pci`/`usb`: the machine's devices instead of the default sets;
    `flask`: Xen's flask= mode; `psr`: the PSR features its CPUs offer."""
    from pyxl.sim.boot import (DEFAULT_DOM0_MEM, DEFAULT_PCI, DEFAULT_USB, BootOptions,
                               default_boot_options)
    from pyxl.toolstack import hosts

    if dom0_mem is None:
        dom0_mem = DEFAULT_DOM0_MEM
    elif dom0_mem.isascii() and dom0_mem.isdigit():
        dom0_mem = f"{int(dom0_mem)}M,max:{int(dom0_mem)}M"
    opts = BootOptions(cpus=cpus, nodes=nodes, memory_mib=memory_mib, dom0_mem=dom0_mem,
                       sched=sched, clock=clock or default_boot_options().clock,
                       pci=tuple(pci) if pci is not None else DEFAULT_PCI,
                       usb=tuple(usb) if usb is not None else DEFAULT_USB,
                       flask=flask, psr=psr, link_mbps=link_mbps)
    return hosts.boot_host(name, opts), opts


def list_hosts() -> list:
    from pyxl.toolstack import hosts

    return hosts.summaries()


def reset_host(name: str | None):
    from pyxl.toolstack import hosts

    return hosts.reset_host(name)


def destroy_host(name: str | None) -> str:
    from pyxl.toolstack import hosts

    return hosts.destroy_host(name)


def clock_show(host: str | None):
    from pyxl.toolstack import hosts

    return hosts.clock_show(host)


def clock_advance(host: str | None, delta_ns: int, tracer=None):
    """Run the host's simulation forward; `tracer` sees each hypercall (--trace)."""
    from pyxl.toolstack import hosts

    return hosts.clock_advance(host, delta_ns, tracer=tracer)
