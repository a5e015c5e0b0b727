"""A domain's configuration: libxl_domain_config as xl fills it, typed.

One home for what a domain was asked to be: xl's parser (xl_parse.py)
builds it, libxl's defaults (setdefault.py) complete it at create, the host
database keeps it (``to_json_dict``), ``xl list -l`` and ``create -n`` show
it (libxl_json.py), and mem-set/mem-max keep it current. Memory is KiB
throughout, as in libxl; MiB exist only where xl reads or prints them.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from pyxl.toolstack.cpumap import node_cpus
from pyxl.toolstack.xl_conf import GlobalConfig

if TYPE_CHECKING:  # the device parser loads only for configs that have devices
    from pyxl.toolstack.devices import DiskSpec, NicSpec

# libxl_action_on_shutdown: the name xl.cfg uses -> libxl's enum name.
ACTIONS = {"destroy": "destroy", "restart": "restart", "rename-restart": "restart_rename",
           "preserve": "preserve", "coredump-destroy": "coredump_destroy",
           "coredump-restart": "coredump_restart", "soft-reset": "soft_reset"}


# Plain classes, not dataclasses: every command defines them at start-up,
# where a dataclass costs ~30 times more to define.
class HostInfo:
    """What parse and setdefault need to know about the host (physinfo)."""

    def __init__(self, nr_cpus: int = 8, nr_nodes: int = 1,
                 node_cpus: dict[int, set[int]] | None = None, sched: str = "credit2",
                 global_cfg: GlobalConfig | None = None) -> None:
        self.nr_cpus = nr_cpus
        self.nr_nodes = nr_nodes
        self.node_cpus = node_cpus
        self.sched = sched
        self.global_cfg = GlobalConfig() if global_cfg is None else global_cfg

    def nodes(self) -> dict[int, set[int]]:
        if self.node_cpus is not None:
            return self.node_cpus
        return node_cpus(self.nr_cpus, self.nr_nodes)


class DomainConfig:
    """libxl_domain_config as xl builds it, typed where the simulation uses it.

    Values equal to None / "unknown" mean "not set" (libxl's default); the
    JSON renderer omits them as libxl does. Memory is in KiB, as libxl's
    MemKB fields are. ``type_info`` holds the
    ``type.hvm`` / ``type.pv`` / ``type.pvh`` union members by libxl name,
    ``b_info_extra`` / ``c_info_extra`` any other libxl fields xl set.
    """

    def __init__(
        self,
        # c_info
        name: str = "",
        type: str = "pv",
        hap: bool | None = None,
        oos: bool | None = None,
        ssidref: int = 0,
        ssid_label: str | None = None,
        uuid: str | None = None,
        poolid: int = 0,
        pool_name: str | None = None,
        run_hotplug_scripts: bool | None = None,
        driver_domain: bool | None = None,
        passthrough: str = "default",
        xend_suspend_evtchn_compat: bool | None = None,
        # b_info
        max_vcpus: int = 0,
        avail_vcpus: list[int] | None = None,
        vcpu_hard_affinity: list[list[int]] | None = None,
        vcpu_soft_affinity: list[list[int]] | None = None,
        numa_placement: bool | None = None,
        tsc_mode: str = "default",
        max_memkb: int | None = None,
        target_memkb: int | None = None,
        video_memkb: int | None = None,
        shadow_memkb: int | None = None,
        iommu_memkb: int | None = None,
        rtc_timeoffset: int = 0,
        exec_ssid_label: str | None = None,
        localtime: bool | None = None,
        disable_migrate: bool | None = None,
        blkdev_start: str | None = None,
        max_grant_frames: int | None = None,
        max_maptrack_frames: int | None = None,
        max_grant_version: int | None = None,
        device_model_version: str = "unknown",
        device_model_stubdomain: bool | None = None,
        device_model: str | None = None,
        sched_weight: int | None = None,
        sched_cap: int | None = None,
        sched_period: int | None = None,
        sched_slice: int | None = None,
        sched_latency: int | None = None,
        sched_extratime: int | None = None,
        claim_mode: bool | None = None,
        event_channels: int = 0,
        kernel: str | None = None,
        cmdline: str | None = None,
        ramdisk: str | None = None,
        device_tree: str | None = None,
        acpi: bool | None = None,
        bootloader: str | None = None,
        bootloader_args: list[str] | None = None,
        bootloader_restrict: bool | None = None,
        bootloader_user: str | None = None,
        timer_mode: str = "unknown",
        nested_hvm: bool | None = None,
        apic: bool | None = None,
        dm_restrict: bool | None = None,
        vpmu: bool | None = None,
        type_info: dict | None = None,
        b_info_extra: dict | None = None,
        c_info_extra: dict | None = None,
        # devices
        disks: list[DiskSpec] | None = None,
        nics: list[NicSpec] | None = None,
        pcidevs: list[dict] | None = None,
        vfbs: list[dict] | None = None,
        vkbs: list[dict] | None = None,
        usbctrls: list[dict] | None = None,
        # libxl_device_vtpm/_vdispl/_vsnd/_usbdev shaped dicts (vdev.SCHEMA)
        vtpms: list[dict] | None = None,
        vdispls: list[dict] | None = None,
        vsnds: list[dict] | None = None,
        usbdevs: list[dict] | None = None,
        # actions (libxl enum names)
        on_poweroff: str = "destroy",
        on_reboot: str = "restart",
        on_watchdog: str = "destroy",
        on_crash: str = "destroy",
        on_soft_reset: str = "soft_reset",
        # pyxl
        workload: str | list[str] | None = None,
        source: str = "",
        settings: dict | None = None,    # every key: raw value
        lines: dict | None = None,       # every key: line number
    ) -> None:
        self.name = name
        self.type = type
        self.hap = hap
        self.oos = oos
        self.ssidref = ssidref
        self.ssid_label = ssid_label
        self.uuid = uuid
        self.poolid = poolid
        self.pool_name = pool_name
        self.run_hotplug_scripts = run_hotplug_scripts
        self.driver_domain = driver_domain
        self.passthrough = passthrough
        self.xend_suspend_evtchn_compat = xend_suspend_evtchn_compat
        self.max_vcpus = max_vcpus
        self.avail_vcpus = [] if avail_vcpus is None else avail_vcpus
        self.vcpu_hard_affinity = [] if vcpu_hard_affinity is None else vcpu_hard_affinity
        self.vcpu_soft_affinity = [] if vcpu_soft_affinity is None else vcpu_soft_affinity
        self.numa_placement = numa_placement
        self.tsc_mode = tsc_mode
        self.max_memkb = max_memkb
        self.target_memkb = target_memkb
        self.video_memkb = video_memkb
        self.shadow_memkb = shadow_memkb
        self.iommu_memkb = iommu_memkb
        self.rtc_timeoffset = rtc_timeoffset
        self.exec_ssid_label = exec_ssid_label
        self.localtime = localtime
        self.disable_migrate = disable_migrate
        self.blkdev_start = blkdev_start
        self.max_grant_frames = max_grant_frames
        self.max_maptrack_frames = max_maptrack_frames
        self.max_grant_version = max_grant_version
        self.device_model_version = device_model_version
        self.device_model_stubdomain = device_model_stubdomain
        self.device_model = device_model
        self.sched_weight = sched_weight
        self.sched_cap = sched_cap
        self.sched_period = sched_period
        self.sched_slice = sched_slice
        self.sched_latency = sched_latency
        self.sched_extratime = sched_extratime
        self.claim_mode = claim_mode
        self.event_channels = event_channels
        self.kernel = kernel
        self.cmdline = cmdline
        self.ramdisk = ramdisk
        self.device_tree = device_tree
        self.acpi = acpi
        self.bootloader = bootloader
        self.bootloader_args = [] if bootloader_args is None else bootloader_args
        self.bootloader_restrict = bootloader_restrict
        self.bootloader_user = bootloader_user
        self.timer_mode = timer_mode
        self.nested_hvm = nested_hvm
        self.apic = apic
        self.dm_restrict = dm_restrict
        self.vpmu = vpmu
        self.type_info = {} if type_info is None else type_info
        self.b_info_extra = {} if b_info_extra is None else b_info_extra
        self.c_info_extra = {} if c_info_extra is None else c_info_extra
        self.disks = [] if disks is None else disks
        self.nics = [] if nics is None else nics
        self.pcidevs = [] if pcidevs is None else pcidevs
        self.vfbs = [] if vfbs is None else vfbs
        self.vkbs = [] if vkbs is None else vkbs
        self.usbctrls = [] if usbctrls is None else usbctrls
        self.vtpms = [] if vtpms is None else vtpms
        self.vdispls = [] if vdispls is None else vdispls
        self.vsnds = [] if vsnds is None else vsnds
        self.usbdevs = [] if usbdevs is None else usbdevs
        self.on_poweroff = on_poweroff
        self.on_reboot = on_reboot
        self.on_watchdog = on_watchdog
        self.on_crash = on_crash
        self.on_soft_reset = on_soft_reset
        self.workload = workload
        self.source = source
        self.settings = {} if settings is None else settings
        self.lines = {} if lines is None else lines

    def copy(self) -> "DomainConfig":
        """An independent copy (libxl_domain_config_copy)."""
        return copy.deepcopy(self)

    # -- persistence: the host database keeps this dict, one per domain ------
    def to_json_dict(self) -> dict:
        """A JSON-safe dict; ``from_json_dict`` rebuilds an equal config."""
        d = {}  # what dataclasses.asdict gave: every field, deep-copied, in order
        for name in DOMAIN_CONFIG_FIELDS:
            value = getattr(self, name)
            if name in ("disks", "nics"):
                d[name] = [dev.to_dict() for dev in value]
            else:
                d[name] = copy.deepcopy(value)
        return d

    @classmethod
    def from_json_dict(cls, d: dict) -> "DomainConfig":
        from pyxl.toolstack.devices import DiskSpec, NicSpec

        names = set(DOMAIN_CONFIG_FIELDS)
        kw = {k: copy.deepcopy(v) for k, v in d.items() if k in names}
        kw["disks"] = [DiskSpec.from_dict(x) for x in d.get("disks", [])]
        kw["nics"] = [NicSpec.from_dict(x) for x in d.get("nics", [])]
        return cls(**kw)


# DomainConfig's field names in declaration order (what dataclasses.fields gave),
# read off a default instance.
DOMAIN_CONFIG_FIELDS = tuple(DomainConfig().__dict__)
