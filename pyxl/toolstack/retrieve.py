"""A domain's stored configuration, and libxl_retrieve_domain_configuration.

libxl keeps each domain's config as it was created (after libxl's
defaults) next to the domain; here it lives in the host database. The
stored config is kept true: mem-set and mem-max update it when they change
the domain's memory, so a retrieval reads memory from it rather than from
XenStore. What the hypervisor owns (the name, online vCPUs, scheduler and
cpupool) is read from it at retrieval.
"""

from __future__ import annotations

from pyxl.toolstack.ctx import Ctx
from pyxl.toolstack.domain_config import DomainConfig

# The stored config's copy of the config as xl handed it to libxl, before
# libxl__domain_config_setdefault (libxl_create.c keeps that copy to store).
SAVED = "libxl_saved"
# xl's own userdata ("xl"): the config text config-update stored.
XL_USERDATA = "xl_userdata"


def get_domain_configuration(ctx: Ctx, domid: int) -> DomainConfig | None:
    """libxl__get_domain_configuration: the stored config (None: there is none)."""
    stored = ctx.host.config(domid)
    return None if stored is None else DomainConfig.from_json_dict(stored)


def set_domain_configuration(ctx: Ctx, domid: int, config: DomainConfig) -> None:
    """libxl__set_domain_configuration: store the domain's config as it is now
    (keeping the config as xl gave it, which `list -l` starts from)."""
    stored = config.to_json_dict()
    old = ctx.host.config(domid)
    for key in (SAVED, XL_USERDATA):
        if old is not None and key in old:
            stored[key] = old[key]
    ctx.host.set_config(domid, stored)


def store_xl_userdata(ctx: Ctx, domid: int, config_text: bytes) -> None:
    """libxl_userdata_store(domid, "xl", ...): xl config-update's raw config
    text, which xl's monitor re-parses when it next rebuilds the domain.
    The domain must exist (its userdata file is named by its UUID)."""
    from pyxl.errors import ErrorFail, strerror

    stored = ctx.host.config(domid) if domid in ctx.hv.domains else None
    if domid not in ctx.hv.domains:
        ctx.log("error", "libxl_domain.c:356:libxl_domain_info", "Getting domain info",
                domid, strerror("ESRCH"))
        ctx.log("error", "libxl_dom.c:1266:libxl__userdata_path",
                f"unable to find domain info for domain {domid}", errno=strerror("ESRCH"))
        raise ErrorFail
    if stored is None:   # Domain-0: libxl keeps only xen-init-dom0's stub
        return
    stored[XL_USERDATA] = config_text.decode("utf-8", "surrogateescape")
    ctx.host.set_config(domid, stored)


def retrieve(ctx: Ctx, domid: int) -> tuple[DomainConfig, dict] | None:
    """(config, runtime values) for `domid`; None when libxl has no config for it."""
    d = ctx.hv.domains.get(domid)
    config = get_domain_configuration(ctx, domid) if d is not None else None
    if config is None:
        return None
    pool = ctx.hv.pools.get(d.poolid)
    runtime = {
        "uuid": d.uuid,
        "name": d.name,
        "avail_vcpus": [v.vcpuid for v in d.vcpus if v.online],
        "poolid": d.poolid,
        "pool_name": pool.name if pool else None,
        "sched": pool.sched if pool else None,
    }
    for key in ("weight", "cap"):
        if key in d.sched_params:
            runtime[key] = d.sched_params[key]
    return config, runtime


def list_long_json(ctx: Ctx, domids: list[int]) -> str:
    """What `xl list -l` prints; domains without a config are skipped, as xl does."""
    from pyxl.toolstack.libxl_json import list_long_json as render

    entries = []
    for domid in domids:
        got = _dom0_stub(ctx) if domid == 0 else retrieve(ctx, domid)
        if got is None:
            continue
        config, runtime = got
        saved = _as_saved(ctx.host.config(domid), config) if domid else None
        if saved is not None:
            config = saved
            runtime = {k: v for k, v in runtime.items() if k not in ("poolid", "pool_name")}
        entries.append((domid, config, runtime))
    return render(entries)


def _dom0_stub(ctx: Ctx) -> tuple[DomainConfig, dict] | None:
    """xen-init-dom0's gen_stub_json_config (a PV domain's empty config: the
    type, and a nil uuid), with what libxl_retrieve_domain_configuration
    fills in: the name, the target and static-max from XenStore, the
    scheduler's parameters. Its max_vcpus is 0, so no vCPU is listed."""
    d = ctx.hv.domains.get(0)
    if d is None:
        return None
    target, static_max = _dom0_memory_node(ctx, "target"), _dom0_memory_node(ctx, "static-max")
    if target is None or static_max is None:
        # libxl__fill_dom0_memory_info's values (it would write them too)
        target, static_max = d.tot_memkb, d.max_memkb
    pool = ctx.hv.pools.get(d.poolid)
    stub = DomainConfig(type="pv")  # libxl_domain_config_init's defaults
    runtime = {"name": "Domain-0", "uuid": d.uuid, "target_memkb": target,
               "max_memkb": static_max, "sched": pool.sched if pool else None,
               "avail_vcpus": []}
    for key in ("weight", "cap"):
        if key in d.sched_params:
            runtime[key] = d.sched_params[key]
    return stub, runtime


def _dom0_memory_node(ctx: Ctx, key: str) -> int | None:
    """/local/domain/0/memory/KEY as libxl reads it (all digits), or None."""
    from pyxl.xenstore.errors import XenStoreError

    try:
        raw = ctx.xs().read(f"/local/domain/0/memory/{key}").decode("latin-1")
    except XenStoreError:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _as_saved(stored: dict | None, current: DomainConfig) -> DomainConfig | None:
    """The config as xl gave it at create, with what
    libxl__update_domain_configuration merges back from the built domain: the
    uuid, video RAM, x86's msr_relaxed (and an HVM guest's pirq), and each
    vif's devid, nictype and MAC. Devices follow the domain's own (a
    detached one is gone, a hot-added one joins as the domain has it)."""
    if not stored or not isinstance(stored.get(SAVED), dict):
        return None
    saved = DomainConfig.from_json_dict(stored[SAVED])
    saved.uuid = current.uuid
    saved.video_memkb = current.video_memkb
    # what retrieval reads from XenStore (target plus libxl's fudge, static-max)
    saved.target_memkb, saved.max_memkb = current.target_memkb, current.max_memkb
    arch = dict(saved.b_info_extra.get("arch_x86") or {})
    arch["msr_relaxed"] = (current.b_info_extra.get("arch_x86") or {}).get("msr_relaxed",
                                                                            False)
    saved.b_info_extra["arch_x86"] = arch
    if current.type == "hvm" and "pirq" in current.type_info:
        saved.type_info["pirq"] = current.type_info["pirq"]
    saved.nics = [_saved_nic(saved.nics, nic) for nic in current.nics]
    by_vdev = {disk.vdev: disk for disk in saved.disks}
    saved.disks = [by_vdev.get(disk.vdev, disk) for disk in current.disks]
    for kind in ("vkbs", "vtpms", "vdispls", "vsnds", "usbctrls", "usbdevs", "pcidevs"):
        setattr(saved, kind, getattr(current, kind))
    return saved


def _saved_nic(saved_nics: list, nic):
    """libxl__update_config_nic: the saved vif with the built one's devid,
    nictype and MAC (a hot-added vif as the domain has it)."""
    for old in saved_nics:
        if old.devid == nic.devid:
            from dataclasses import replace

            return replace(old, nictype=nic.nictype, mac=nic.mac)
    return nic
