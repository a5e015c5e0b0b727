"""libxl's defaults at create: libxl__domain_config_setdefault and friends.

What xl's parser left unset (None, "unknown", "default") gets the value
libxl gives it before the domain is built: hap/oos, memory (32 MiB if
unset), vCPUs, event channels, blkdev_start, NUMA placement, the device
model version, HVM firmware and display defaults, timer_mode, the grant
version, disk backends, nic types and scripts. Scheduler parameters are
left alone: libxl leaves them to the scheduler (pyxl/hv/sched/params.py
holds its defaults).
"""

from __future__ import annotations

from pyxl.errors import PyxlError
from pyxl.toolstack.domain_config import DomainConfig, HostInfo

SECINITSID_DOMU = 2
LIBXL_MEMKB_DEFAULT_MAX = 32 * 1024        # what a config without memory= gets
# HVM video RAM: the least each emulated card needs (libxl__domain_build_info_setdefault)
_VGA_MIN_MEMKB = {"none": 0, "qxl": 128 * 1024, "std": 16 * 1024}
_CIRRUS_MIN_MEMKB = 8 * 1024
_HVM_FLAGS = (("pae", True), ("acpi", True), ("acpi_s3", True), ("acpi_s4", True),
              ("acpi_laptop_slate", False), ("nx", True), ("viridian", False),
              ("hpet", True), ("vpt_align", True), ("usb", False), ("vkb_device", True),
              ("xen_platform_pci", True), ("xen_platform_pci_bar_uc", True),
              ("pirq", False), ("nographic", False), ("gfx_passthru", False))
_SPICE_FLAGS = (("disable_ticketing", False), ("agent_mouse", True), ("vdagent", False),
                ("clipboard_sharing", False))


def domain_config_setdefault(cfg: DomainConfig, host: HostInfo) -> DomainConfig:
    """A copy of ``cfg`` with the defaults libxl fills in at create time;
    the input is left as it was. Refusals raise PyxlError (exit 6)."""
    dc = cfg.copy()
    _c_info_setdefault(dc)
    _b_info_setdefault(dc)
    if dc.type == "hvm":
        _hvm_setdefault(dc)
    elif dc.type == "pv":
        _pv_setdefault(dc)
    else:
        _pvh_setdefault(dc)
    _x86_setdefault(dc)
    dc.b_info_extra.setdefault("sched", host.sched)
    _devices_setdefault(dc)
    return dc


def _c_info_setdefault(dc: DomainConfig) -> None:
    """libxl__domain_create_info_setdefault."""
    if dc.type != "pv":
        if dc.hap is None:
            dc.hap = True
        if dc.oos is None:
            dc.oos = True
    if dc.run_hotplug_scripts is None:
        dc.run_hotplug_scripts = True
    if dc.driver_domain is None:
        dc.driver_domain = False
    if not dc.ssidref:
        dc.ssidref = SECINITSID_DOMU
    if dc.c_info_extra.get("xend_suspend_evtchn_compat") is None:
        dc.c_info_extra["xend_suspend_evtchn_compat"] = False
    if dc.passthrough == "default":
        dc.passthrough = "disabled" if not dc.pcidevs else "enabled"
    if dc.pool_name is None:
        dc.pool_name = "Pool-0"


def _b_info_setdefault(dc: DomainConfig) -> None:
    """libxl__domain_build_info_setdefault, the part every type shares."""
    for attr, value in (("device_model_stubdomain", False), ("vpmu", False),
                        ("blkdev_start", "xvda"), ("numa_placement", True),
                        ("max_memkb", LIBXL_MEMKB_DEFAULT_MAX), ("claim_mode", False),
                        ("localtime", False), ("disable_migrate", False),
                        ("dm_restrict", False), ("iommu_memkb", 0)):
        if getattr(dc, attr) is None:
            setattr(dc, attr, value)
    if dc.device_model_version == "unknown":
        dc.device_model_version = "qemu_xen"
    if dc.type == "hvm":
        _check_hvm_boot(dc)
    if not dc.max_vcpus:
        dc.max_vcpus = 1
    if not dc.avail_vcpus:
        dc.avail_vcpus = [0]
    if dc.target_memkb is None:
        dc.target_memkb = dc.max_memkb
    dc.b_info_extra.setdefault("stubdomain_memkb", 0)
    if not dc.event_channels:
        dc.event_channels = 1023


def _check_hvm_boot(dc: DomainConfig) -> None:
    """The firmware qemu-xen can run, and direct boot needs its kernel."""
    ti = dc.type_info
    ti.setdefault("bios", "seabios")
    if ti["bios"] == "rombios":
        raise PyxlError("qemu-xen does not support bios=rombios.", 6)
    if not dc.kernel and (dc.ramdisk or dc.cmdline):
        raise PyxlError("direct boot parameters specified but kernel missing", 6)


def _hvm_setdefault(dc: DomainConfig) -> None:
    ti = dc.type_info
    if dc.shadow_memkb is None:
        dc.shadow_memkb = 0
    ti.setdefault("mmio_hole_memkb", 0)
    vga = ti.setdefault("vga", {})
    if vga.get("kind", "unknown") == "unknown":
        vga["kind"] = "cirrus"
    ti.setdefault("hdtype", "ide")
    minimum = _VGA_MIN_MEMKB.get(vga["kind"], _CIRRUS_MIN_MEMKB)
    if dc.video_memkb is None:
        dc.video_memkb = minimum
    elif dc.video_memkb < minimum:
        raise PyxlError("videoram too small for the chosen vga", 6)
    for key, val in _HVM_FLAGS:
        if ti.get(key) is None:
            ti[key] = val
    _display_setdefault(ti)
    rdm = ti.setdefault("rdm", {})
    if rdm.get("policy", "invalid") == "invalid":
        rdm["policy"] = "relaxed"
    ti.setdefault("rdm_mem_boundary_memkb", 2048 * 1024)


def _display_setdefault(ti: dict) -> None:
    """SPICE off, VNC on 127.0.0.1 (first free display), SDL off."""
    spice = ti.setdefault("spice", {})
    if spice.get("enable") is None:
        spice["enable"] = False
    if spice["enable"]:
        for key, val in _SPICE_FLAGS:
            if spice.get(key) is None:
                spice[key] = val
    ti.setdefault("boot", "cda")
    vnc = ti.setdefault("vnc", {})
    if vnc.get("enable") is None:
        vnc["enable"] = True
    if vnc["enable"]:
        if vnc.get("findunused") is None:
            vnc["findunused"] = True
        if not vnc.get("listen"):
            vnc["listen"] = "127.0.0.1"
    sdl = ti.setdefault("sdl", {})
    if sdl.get("enable") is None:
        sdl["enable"] = False
    if sdl["enable"] and sdl.get("opengl") is None:
        sdl["opengl"] = False


def _pv_setdefault(dc: DomainConfig) -> None:
    ti = dc.type_info
    if ti.get("e820_host") is None:
        ti["e820_host"] = False
    if dc.video_memkb is None:
        dc.video_memkb = 0
    if dc.shadow_memkb is None:
        dc.shadow_memkb = 0
    ti.setdefault("slack_memkb", 0)


def _pvh_setdefault(dc: DomainConfig) -> None:
    if dc.type_info.get("pvshim") is None:
        dc.type_info["pvshim"] = False
    if dc.video_memkb is None:
        dc.video_memkb = 0


def _x86_setdefault(dc: DomainConfig) -> None:
    """Timer, APIC and nesting for HVM/PVH; grant version; shadow memory."""
    if dc.type != "pv":
        if dc.timer_mode == "unknown":
            dc.timer_mode = "no_delay_for_missed_ticks"
        if dc.apic is None:
            dc.apic = True
        if dc.nested_hvm is None:
            dc.nested_hvm = False
    if dc.max_grant_version is None:
        dc.max_grant_version = 2
    if dc.shadow_memkb is None:
        # libxl_get_required_shadow_memory: 1 MiB per vCPU + 8 KiB per MiB
        dc.shadow_memkb = 4 * (256 * dc.max_vcpus + 2 * (dc.max_memkb // 1024))


def _devices_setdefault(dc: DomainConfig) -> None:
    """libxl__device_disk_setdefault and libxl__device_nic_setdefault."""
    for disk in dc.disks:
        if disk.backend == "unknown":
            # blkback takes raw images and devices; qemu (qdisk) the rest
            disk.backend = "phy" if disk.format == "raw" else "qdisk"
        if disk.discard_enable is None:
            disk.discard_enable = bool(disk.readwrite)
        if disk.colo_enable is None:
            disk.colo_enable = False
        if disk.colo_restore_enable is None:
            disk.colo_restore_enable = False
    for nic in dc.nics:
        if nic.nictype == "unknown":
            nic.nictype = "vif_ioemu" if dc.type == "hvm" else "vif"
        if nic.script is None:
            nic.script = "vif-bridge"
        if nic.bridge is None:
            nic.bridge = "xenbr0"
