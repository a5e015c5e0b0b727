"""xl create: from an xl.cfg file to a running domain.

`load_config` does what xl does before it calls libxl (read the file, append
the command-line settings, parse). `create_domain` is libxl_domain_create_new:
make the domain in Xen and its skeleton in XenStore, size its vCPUs and
memory, place it in its cpupool with its scheduler parameters, build the
boot image, write the rest of XenStore, introduce it to xenstored, and
unpause it unless asked not to. All of it happens in the command's one
database transaction, so a failure at any step leaves nothing behind.
"""

from __future__ import annotations

import uuid as uuidlib

from pyxl.errors import ERROR_FAIL, ERROR_INVAL, ErrorFail, ErrorInval, LibxlError, PyxlError
from pyxl.hv.hypervisor import HypercallError
from pyxl.hv.model import HVM_MAX_VCPUS
from pyxl.sim import guest as guestos
from pyxl.toolstack import channels, xs_layout
from pyxl.toolstack.cpumap import node_cpus
from pyxl.toolstack.ctx import Ctx
from pyxl.toolstack.domain import check_new_name
from pyxl.toolstack.domain_config import DomainConfig, HostInfo
from pyxl.toolstack.libxlu_cfg import apply_overrides, parse_cfg
from pyxl.toolstack.setdefault import domain_config_setdefault
from pyxl.toolstack.xl_parse import parse_domain_config

LIBXL_MAXMEM_CONSTANT = 1024  # KiB Xen may give a domain beyond its target
# The simulated guests' kernel image: libxc must fit it in a PV/PVH guest's RAM.
KERNEL_IMAGE_KB = 4096


# A plain class, not a dataclass: every command defines it at start-up,
# where a dataclass costs ~30 times more to define.
class LoadedConfig:
    def __init__(self, config: DomainConfig, warnings: list[str], source: str) -> None:
        self.config = config
        self.warnings = warnings
        self.source = source


def read_config_text(path: str) -> str:
    """The config file's text; /dev/null is xl's way to say "only key=value args"."""
    if path == "/dev/null":
        return ""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="surrogateescape")
    except OSError as e:
        raise PyxlError(f"Failed to read config file: {path}: {e.strerror}", -ERROR_FAIL) from None


def read_config(path: str | None, extra: list[str]) -> str:
    """The file's text with the command line's `key=value` settings appended."""
    if path is None:
        raise PyxlError("Config file not specified and none in save file", -ERROR_INVAL)
    text = read_config_text(path)
    return apply_overrides(text, extra) if extra else text


def host_info(ctx: Ctx) -> HostInfo:
    """What xl's parser asks libxl about the host (physinfo, scheduler)."""
    from pyxl.toolstack.xl_conf import host_global_config

    p = ctx.host.physinfo
    return HostInfo(nr_cpus=p.nr_cpus, nr_nodes=p.nr_nodes, sched=ctx.host.boot.sched,
                    node_cpus=node_cpus(p.nr_cpus, p.nr_nodes),
                    global_cfg=host_global_config(ctx.host.name))


def parse_config(ctx: Ctx, text: str, source: str) -> LoadedConfig:
    """parse_config_data: the DomainConfig, plus the warnings xl prints."""
    config, warnings = parse_domain_config(parse_cfg(text, source), host_info(ctx),
                                           uuid_factory=lambda: new_uuid(ctx))
    return LoadedConfig(config, warnings, source)


def new_uuid(ctx: Ctx) -> str:
    """A fresh UUID, deterministic on a host: the same commands give the same ids."""
    n = ctx.host.next_seq("uuid_seq")
    digest = _sha256(f"pyxl:{ctx.host.meta['seed']}:{n}".encode())
    return str(uuidlib.UUID(bytes=digest[:16], version=4))


def _sha256(data: bytes) -> bytes:
    """SHA-256 from CPython's own module where it has one, as random.py does:
    importing hashlib loads OpenSSL, a few ms of every create."""
    try:
        from _sha256 import sha256  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # CPython 3.12 and later
        except ImportError:
            from hashlib import sha256
    return sha256(data).digest()


def create_domain(ctx: Ctx, config: DomainConfig, *, paused: bool = False,
                  monitored: bool = True, domid: int | None = None) -> int:
    """libxl_domain_create_new; returns the new domid. A restore asks for
    the saved domid (c_info.domid, xl save -D); otherwise Xen picks one."""
    from pyxl.hv.workload import parse_workload

    hv = ctx.hv
    cfg = domain_config_setdefault(config, host_info(ctx))
    poolid = _pool_id(ctx, cfg.pool_name)
    _check_avail_vcpus(ctx, cfg)
    workload = parse_workload(cfg.workload or "idle", cfg.max_vcpus)
    uuid = cfg.uuid or new_uuid(ctx)
    try:
        d = hv.domctl_createdomain(uuid, cfg.name, cfg.type, poolid=poolid, domid=domid,
                                   max_vcpus=cfg.max_vcpus,
                                   max_grant_frames=cfg.max_grant_frames,
                                   max_evtchn_port=cfg.event_channels or None,
                                   max_maptrack_frames=cfg.max_maptrack_frames)
    except HypercallError as e:
        ctx.log("error", "libxl_create.c:700:libxl__domain_make", "domain creation fail",
                errno=e.strerror)
        ctx.log("error", "libxl_create.c:1309:initiate_domain_create",
                f"cannot make domain: {ERROR_FAIL}")
        raise ErrorFail(exit_code=-ERROR_FAIL) from None
    domid = d.domid
    rc = check_new_name(ctx, cfg.name, domid)
    if rc:
        _unmake(ctx, domid, rc)
    try:
        _build(ctx, d, cfg)
    except _BuildFailed:
        ctx.log("error", "libxl_create.c:1653:domcreate_rebuild_done",
                f"cannot (re-)build domain: {ERROR_FAIL}", domid)
        raise ErrorFail(exit_code=-ERROR_FAIL) from None
    _check_disk_scripts(cfg)
    _add_devices(ctx, domid, cfg)
    guest_info = guestos.GuestInfo(
        name=cfg.name, type=cfg.type, vcpus=len(cfg.avail_vcpus),
        memory_mib=cfg.target_memkb // 1024, cmdline=cfg.cmdline or "",
        kernel=cfg.kernel or "", workload=workload)
    guest = guestos.new_state(guest_info)
    # libxl stores the config as xl gave it, before its defaults (what
    # `list -l` and save show), and pyxl the defaulted one beside it.
    ctx.host.add_domain(d, dict(cfg.to_json_dict(), libxl_saved=config.to_json_dict()),
                        guest)
    ctx.host.set_monitored(domid, monitored)
    if not paused:
        hv.domctl_unpausedomain(domid)
    return domid


class _BuildFailed(Exception):
    """A step of libxl__domain_build failed (its own lines already logged)."""


def _check_disk_scripts(dc: DomainConfig) -> None:
    """A disk whose hotplug script the host does not have fails the create
    (ERROR_FAIL), where libxl would fail to run it. A dry run never runs
    hotplug scripts, so it does not look."""
    if not dc.disks:
        return
    from pyxl.toolstack.devices import HOST_HOTPLUG_SCRIPTS

    for disk in dc.disks:
        script = disk.script
        if script is None or "/" in script or script in HOST_HOTPLUG_SCRIPTS:
            continue
        raise PyxlError(f"{dc.source}:{dc.lines.get('disk')}: disk '{disk.spec}': hotplug "
                        f"script /etc/xen/scripts/{script} not found", -ERROR_FAIL)


# libxl's device_type_tbl after the disks and vkbs: the order create
# attaches the rest in, and the kind each one's failure names.
_ATTACH_ORDER = (("nics", "vif"), ("vtpms", "vtpm"), ("usbctrls", "vusb"),
                 ("usbdevs", "vusb"), ("pcidevs", "pci"), ("vdispls", "vdispl"),
                 ("vsnds", "vsnd"))


def _add_devices(ctx: Ctx, domid: int, dc: DomainConfig) -> None:
    """libxl_create's device adds, in its order: the disks, the vkbs, then
    each kind of device_type_tbl, into XenStore for the drivers to connect
    once the guest's xenbus is up."""
    if not (dc.disks or dc.nics or dc.usbctrls or dc.pcidevs or dc.vkbs or dc.vtpms
            or dc.usbdevs or dc.vdispls or dc.vsnds):
        return
    from pyxl.toolstack import device

    try:
        for disk in dc.disks:
            device.disk_add(ctx, domid, disk)
    except device.DeviceError:
        ctx.log("error", "libxl_create.c:1685:domcreate_launch_dm",
                "unable to add disk devices", domid)
        raise ErrorFail(exit_code=-ERROR_FAIL) from None
    try:
        _add_vdevs(ctx, domid, "vkb", dc.vkbs)
    except device.DeviceError:
        raise ErrorFail(exit_code=-ERROR_FAIL) from None
    kind = "vif"
    try:
        for field, kind in _ATTACH_ORDER:
            if getattr(dc, field):
                _ADDERS[field](ctx, domid, getattr(dc, field))
    except device.DeviceError:
        ctx.log("error", "libxl_create.c:1940:domcreate_attach_devices",
                f"unable to add {kind} devices", domid)
        raise ErrorFail(exit_code=-ERROR_FAIL) from None


def _add_nics(ctx: Ctx, domid: int, nics) -> None:
    from pyxl.toolstack import device

    for nic in nics:
        device.nic_add(ctx, domid, nic, new_uuid)


def _add_vdevs(ctx: Ctx, domid: int, kind: str, devs: list[dict]) -> None:
    """vkb, vtpm, vdispl, vsnd: each config entry gets its devid (and a
    vtpm its uuid) in place, as libxl's setdefault fills the stored config."""
    if not devs:
        return
    from pyxl.toolstack import vdev

    for dev in devs:
        dev["devid"] = vdev.add(ctx, domid, kind, dev, new_uuid)


def _add_usbctrls(ctx: Ctx, domid: int, ctrls: list[dict]) -> None:
    from pyxl.toolstack import usb

    for ctrl in ctrls:
        usb.usbctrl_add(ctx, domid, usb.UsbCtrl(
            type=ctrl["type"], devid=ctrl["devid"], version=ctrl["version"],
            ports=ctrl["ports"]))


def _add_usbdevs(ctx: Ctx, domid: int, devs: list[dict]) -> None:
    """Each one onto its controller's port (or the first free one, which
    the config then records)."""
    from pyxl.toolstack import usb

    for entry in devs:
        dev = usb.UsbDev(ctrl=entry["ctrl"], port=entry["port"], hostbus=entry["hostbus"],
                         hostaddr=entry["hostaddr"])
        usb.usbdev_add(ctx, domid, dev)
        entry["ctrl"], entry["port"] = dev.ctrl, dev.port


def _add_pcis(ctx: Ctx, domid: int, pcidevs: list[dict]) -> None:
    from pyxl.toolstack.pci import add_pcis

    add_pcis(ctx, domid, pcidevs)


_ADDERS = {"nics": _add_nics, "vtpms": lambda c, d, v: _add_vdevs(c, d, "vtpm", v),
           "usbctrls": _add_usbctrls, "usbdevs": _add_usbdevs, "pcidevs": _add_pcis,
           "vdispls": lambda c, d, v: _add_vdevs(c, d, "vdispl", v),
           "vsnds": lambda c, d, v: _add_vdevs(c, d, "vsnd", v)}


def _check_avail_vcpus(ctx: Ctx, cfg: DomainConfig) -> None:
    """libxl__domain_build_info_setdefault: the online-vCPU bitmap may hold at
    most HVM_MAX_VCPUS bytes (1024 vCPUs), whatever the domain's type."""
    if (len(cfg.avail_vcpus) + 7) // 8 <= HVM_MAX_VCPUS:
        return
    ctx.log("error", "libxl_create.c:183:libxl__domain_build_info_setdefault",
            "avail_vcpus bitmap contains too many VCPUS")
    ctx.log("error", "libxl_create.c:1245:libxl__domain_config_setdefault",
            "Unable to set domain build info defaults")
    raise ErrorFail(exit_code=-ERROR_FAIL)


def _pool_id(ctx: Ctx, pool: str | None) -> int:
    """libxl__domain_config_setdefault: `pool` is a pool's name or id, and
    the pool must exist (no domid is given out otherwise)."""
    if not pool:
        return 0
    if pool.isdigit() and pool.isascii():     # libxl_cpupool_qualifier_to_cpupoolid
        from pyxl.cnum import domid_from_digits

        poolid = domid_from_digits(pool)
    else:
        poolid = next((p.poolid for p in sorted(ctx.hv.pools.values(), key=lambda p: p.poolid)
                       if p.name == pool), None)
    if poolid not in ctx.hv.pools:
        ctx.log("error", "libxl_create.c:1138:libxl__domain_config_setdefault",
                f"Illegal pool specified: {pool}")
        raise ErrorInval(exit_code=-ERROR_INVAL)
    return poolid


def _unmake(ctx: Ctx, domid: int, rc: int) -> None:
    """libxl__domain_make failed after Xen gave out `domid` (the name is
    taken): libxl destroys the domain, then xl's error path destroys it
    again and libxl logs that it is gone. The domid stays used up, so the
    error asks the CLI to keep the state (`keep_state`)."""
    from pyxl.toolstack.domain import destroy

    ctx.log("error", "libxl_create.c:1309:initiate_domain_create",
            f"cannot make domain: {rc}", domid)
    ctx.hv.domctl_destroydomain(domid)
    try:
        destroy(ctx, domid)
    except PyxlError:
        pass
    error = ErrorFail(exit_code=-ERROR_FAIL)
    error.keep_state = True
    raise error


def _build(ctx: Ctx, d, cfg: DomainConfig) -> None:
    """Everything between createdomain and unpause, in libxl's order."""
    hv, domid = ctx.hv, d.domid
    xs = ctx.xs()
    pool = hv.pools[d.poolid]
    b = xs_layout.BuildInfo(
        domid=domid, uuid=d.uuid, name=cfg.name, type=cfg.type,
        max_memkb=cfg.max_memkb, target_memkb=cfg.target_memkb,
        video_memkb=cfg.video_memkb, max_vcpus=cfg.max_vcpus,
        online_vcpus=len(cfg.avail_vcpus), store_port=0, console_port=0,
        store_mfn=0, console_mfn=0,
        start_time=ctx.host.wall_time(), kernel=cfg.kernel, ramdisk=cfg.ramdisk,
        cmdline=cfg.cmdline, acpi=_ti_flag(cfg, "acpi", True),
        acpi_s3=_ti_flag(cfg, "acpi_s3", True), acpi_s4=_ti_flag(cfg, "acpi_s4", True),
        acpi_laptop_slate=_ti_flag(cfg, "acpi_laptop_slate", False),
        rtc_timeoffset=str(cfg.rtc_timeoffset) if cfg.rtc_timeoffset else "",
        xend_suspend_evtchn_compat=bool(cfg.c_info_extra.get("xend_suspend_evtchn_compat")),
        driver_domain=bool(cfg.driver_domain))
    xs_layout.domain_make(xs, b)
    # vCPUs get their scheduler parameters from the domain's putinfo below.
    hv.domctl_max_vcpus(domid, cfg.max_vcpus, len(cfg.avail_vcpus), {},
                        ["idle"] * cfg.max_vcpus)
    _set_affinities(ctx, d, cfg)
    _sched_set_params(ctx, domid, pool.sched, cfg)
    hv.domctl_max_mem(domid, cfg.target_memkb + LIBXL_MAXMEM_CONSTANT)
    b.store_port, b.console_port = channels.build_pre(ctx, domid)
    b.store_mfn, b.console_mfn = _build_image(ctx, d, cfg, b.store_port, b.console_port)
    channels.seed_grants(ctx, domid, b.console_mfn, b.store_mfn)
    xs_layout.build_post(xs, b)
    xs.introduce_domain(domid)
    channels.introduce(ctx, domid, b.store_port, b.console_port)


def _set_affinities(ctx: Ctx, d, cfg: DomainConfig) -> None:
    """libxl__build_pre: each vCPU's hard and soft affinity from the config;
    Xen refuses a hard affinity with no pCPU of the domain's pool (EINVAL)."""
    for v in d.vcpus:
        hard = _nth(cfg.vcpu_hard_affinity, v.vcpuid)
        soft = _nth(cfg.vcpu_soft_affinity, v.vcpuid)
        if hard is None and soft is None:
            continue
        try:
            ctx.hv.domctl_setvcpuaffinity(d.domid, v.vcpuid, hard, soft)
        except HypercallError as e:
            ctx.log("error", "libxl_sched.c:62:libxl__set_vcpuaffinity",
                    "Setting vcpu affinity", d.domid, e.strerror)
            ctx.log("error", "libxl_dom.c:345:libxl__build_pre",
                    f"setting affinity failed on vcpu `{v.vcpuid}'")
            raise _BuildFailed from None


def _build_image(ctx: Ctx, d, cfg: DomainConfig, store_port: int,
                 console_port: int) -> tuple[int, int]:
    """libxc's domain builder: the guest's RAM, then its boot image in it;
    the frames of the XenStore and console rings (pyxl/toolstack/pvbuild.py).

    An HVM guest's RAM is maxmem less the video RAM (libxl__build_hvm), so a
    maxmem below the video RAM wraps to an impossible size; a PV or PVH
    guest needs room for its kernel, which memory=0 cannot give.
    """
    if cfg.type == "hvm" and cfg.max_memkb < (cfg.video_memkb or 0):
        _no_low_memory(ctx)
    try:
        ctx.hv.memory_populate_physmap(d.domid, cfg.target_memkb)
    except HypercallError:
        _no_low_memory(ctx)
    pages, need = cfg.target_memkb // 4, KERNEL_IMAGE_KB // 4
    if cfg.type != "hvm" and pages < need:
        ctx.log("error", "panic: xg_dom_core.c:537", "xc_dom_chk_alloc_pages: segment "
                f"kernel too large (0x{need:x} > 0x{pages:x} - 0x0 pages)",
                errno="Out of memory", context="xc")
        raise _BuildFailed
    from pyxl.toolstack import pvbuild

    try:
        return pvbuild.build_image(ctx.hv, d, pages, bool(cfg.ramdisk), store_port,
                                   console_port)
    except pvbuild.LayoutError as e:
        ctx.log("error", "panic: xg_dom_core.c:537", "xc_dom_chk_alloc_pages: segment "
                f"{e.segment} too large (0x{e.pages:x} > 0x{e.total:x} - 0x{e.used:x} pages)",
                errno="Out of memory", context="xc")
        raise _BuildFailed from None


def _no_low_memory(ctx: Ctx) -> None:
    ctx.log("error", "panic: xg_dom_boot.c:121", "xc_dom_boot_mem_init: can't allocate "
            "low memory for domain", errno="Out of memory", context="xc")
    raise _BuildFailed


def _ti_flag(cfg: DomainConfig, key: str, default: bool) -> bool:
    """An HVM platform flag after libxl's defaults (b_info.acpi wins for acpi)."""
    if key == "acpi" and cfg.acpi is not None:
        return cfg.acpi
    value = cfg.type_info.get(key)
    return default if value is None else bool(value)


def _nth(maps: list[list[int]], i: int) -> list[int] | None:
    """xl gives one affinity map per vCPU; vCPUs beyond the list are unrestricted."""
    return maps[i] if i < len(maps) else None


def _sched_set_params(ctx: Ctx, domid: int, sched: str, cfg: DomainConfig) -> None:
    """libxl__sched_set_params: the config's values over the scheduler's own
    (unset ones keep Xen's defaults); a refusal fails the build.

    One departure: Xen 4.5's SEDF refuses to be handed back its own
    best-effort default (no slice, no weight), so libxl 4.5 failed every
    create on a SEDF pool whose config set no SEDF parameter. pyxl leaves
    that default in place instead.
    """
    from pyxl.toolstack.sched import domain_sched_params_set

    changes = {"weight": cfg.sched_weight, "cap": cfg.sched_cap,
               "period": cfg.sched_period, "slice": cfg.sched_slice,
               "latency": cfg.sched_latency, "extratime": cfg.sched_extratime}
    if sched == "sedf" and all(v is None for v in changes.values()):
        return
    try:
        domain_sched_params_set(ctx, domid, sched, changes)
    except LibxlError:
        raise ErrorFail(exit_code=-ERROR_FAIL) from None
