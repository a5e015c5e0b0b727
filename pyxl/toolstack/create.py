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

import hashlib
import uuid as uuidlib
from dataclasses import dataclass

from pyxl.errors import ERROR_FAIL, ERROR_INVAL, PyxlError
from pyxl.hv.hypervisor import HypercallError
from pyxl.sim import guest as guestos
from pyxl.toolstack import xs_layout
from pyxl.toolstack.config import (
    DomainConfig,
    HostInfo,
    apply_create_defaults,
    parse_domain_config,
)
from pyxl.toolstack.ctx import Ctx
from pyxl.toolstack.domain import check_new_name
from pyxl.toolstack.xlcfg import apply_overrides, parse_cfg

LIBXL_MAXMEM_CONSTANT = 1024  # KiB Xen may give a domain beyond its target


@dataclass
class LoadedConfig:
    config: DomainConfig
    warnings: list[str]
    source: str


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
    p = ctx.host.physinfo
    return HostInfo(nr_cpus=p.nr_cpus, nr_nodes=p.nr_nodes, sched=ctx.host.boot.sched,
                    node_cpus={n: {c for c in range(p.nr_cpus) if p.node_of(c) == n}
                               for n in range(p.nr_nodes)})


def parse_config(ctx: Ctx, text: str, source: str) -> LoadedConfig:
    """parse_config_data: the DomainConfig, plus the warnings xl prints."""
    config, warnings = parse_domain_config(parse_cfg(text, source), host_info(ctx),
                                           uuid_factory=lambda: new_uuid(ctx))
    return LoadedConfig(config, warnings, source)


def new_uuid(ctx: Ctx) -> str:
    """A fresh UUID, deterministic on a host: the same commands give the same ids."""
    n = ctx.host.next_seq("uuid_seq")
    digest = hashlib.sha256(f"pyxl:{ctx.host.meta['seed']}:{n}".encode()).digest()
    return str(uuidlib.UUID(bytes=digest[:16], version=4))


def create_domain(ctx: Ctx, config: DomainConfig, *, paused: bool = False,
                  monitored: bool = True) -> int:
    """libxl_domain_create_new; returns the new domid."""
    from pyxl.hv.workload import parse_workload

    hv = ctx.hv
    cfg = apply_create_defaults(config, host_info(ctx))
    workload = parse_workload(cfg.workload or "idle", cfg.max_vcpus)
    rc = check_new_name(ctx, cfg.name)
    if rc:
        ctx.log("error", "libxl_create.c:1315:initiate_domain_create",
                f"cannot make domain: {rc}")
        raise PyxlError("", -ERROR_FAIL)
    poolid = _pool_id(ctx, cfg.pool_name)
    uuid = cfg.uuid or new_uuid(ctx)
    d = hv.domctl_createdomain(uuid, cfg.name, cfg.type, poolid=poolid)
    domid = d.domid
    try:
        _build(ctx, d, cfg)
    except HypercallError:
        ctx.log("error", "xc_dom_boot.c:134:xc_dom_boot_mem_init",
                "can't allocate low memory for domain: Out of memory", context="xc")
        ctx.log("error", "libxl_create.c:1877:domcreate_rebuild_done",
                f"cannot (re-)build domain: {ERROR_FAIL}", domid)
        raise PyxlError("", -ERROR_FAIL) from None
    guest_info = guestos.GuestInfo(
        name=cfg.name, type=cfg.type, vcpus=len(cfg.avail_vcpus),
        memory_mib=cfg.target_memkb // 1024, cmdline=cfg.cmdline or "",
        kernel=cfg.kernel or "", workload=workload)
    guest = guestos.new_state(guest_info)
    guest["monitored"] = monitored
    ctx.host.add_domain(d, cfg.to_json_dict(), guest)
    if not paused:
        hv.domctl_unpausedomain(domid)
    return domid


def _pool_id(ctx: Ctx, pool: str | None) -> int:
    if not pool or pool == "Pool-0":
        return 0
    for p in ctx.hv.pools.values():
        if p.name == pool:
            return p.poolid
    ctx.log("error", "libxl_create.c:645:libxl__domain_make", f"cpupool {pool} not found")
    raise PyxlError("", -ERROR_FAIL)


def _build(ctx: Ctx, d, cfg: DomainConfig) -> None:
    """Everything between createdomain and unpause, in libxl's order."""
    hv, domid = ctx.hv, d.domid
    xs = ctx.xs()
    pool = hv.pools[d.poolid]
    b = xs_layout.BuildInfo(
        domid=domid, uuid=d.uuid, name=cfg.name, type=cfg.type,
        max_memkb=cfg.max_memkb, target_memkb=cfg.target_memkb,
        video_memkb=cfg.video_memkb, max_vcpus=cfg.max_vcpus,
        online_vcpus=len(cfg.avail_vcpus), store_port=1, console_port=2,
        store_mfn=0x100000 + domid * 0x1000 + 0xFFE,
        console_mfn=0x100000 + domid * 0x1000 + 0xFFF,
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
    for v in d.vcpus:
        hard = _nth(cfg.vcpu_hard_affinity, v.vcpuid)
        soft = _nth(cfg.vcpu_soft_affinity, v.vcpuid)
        if hard is not None or soft is not None:
            hv.domctl_setvcpuaffinity(domid, v.vcpuid, hard, soft)
    try:
        params = _sched_params(pool.sched, cfg, len(cfg.avail_vcpus))
    except PyxlError as e:  # libxl__sched_set_params fails the build
        ctx.log("error", "libxl_sched.c:236:sched_credit_domain_set", e.message, domid)
        raise PyxlError("", -ERROR_FAIL) from None
    hv.domctl_scheduler_op_putinfo(domid, pool.sched, params)
    hv.domctl_max_mem(domid, cfg.target_memkb + LIBXL_MAXMEM_CONSTANT)
    hv.memory_populate_physmap(domid, cfg.target_memkb)
    xs_layout.build_post(xs, b)
    xs.introduce_domain(domid)


def _ti_flag(cfg: DomainConfig, key: str, default: bool) -> bool:
    """An HVM platform flag after libxl's defaults (b_info.acpi wins for acpi)."""
    if key == "acpi" and cfg.acpi is not None:
        return cfg.acpi
    value = cfg.type_info.get(key)
    return default if value is None else bool(value)


def _nth(maps: list[list[int]], i: int) -> list[int] | None:
    """xl gives one affinity map per vCPU; vCPUs beyond the list are unrestricted."""
    return maps[i] if i < len(maps) else None


def _sched_params(sched_name: str, cfg: DomainConfig, nr_vcpus: int) -> dict:
    """libxl__sched_set_params: the pool scheduler's defaults, then the config's values."""
    from pyxl.hv import sched

    params = sched.default_domain_params(sched_name)
    changes = {}
    for key, value in (("weight", cfg.sched_weight), ("cap", cfg.sched_cap),
                       ("period", cfg.sched_period), ("slice", cfg.sched_slice),
                       ("latency", cfg.sched_latency), ("extratime", cfg.sched_extratime)):
        if value is not None and key in params:
            changes[key] = value
    if changes:
        params = sched.validate_domain_params(sched_name, params, changes, nr_vcpus)
    return params
