"""A domain's configuration: libxl_domain_config as xl fills it, typed.

One home for what a domain was asked to be: xl's parser (xl_parse.py)
builds it, libxl's defaults (setdefault.py) complete it at create, the host
database keeps it (``to_json_dict``), ``xl list -l`` and ``create -n`` show
it (libxl_json.py), and mem-set/mem-max keep it current. Memory is KiB
throughout, as in libxl; MiB exist only where xl reads or prints them.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING

from pyxl.toolstack.cpumap import node_cpus
from pyxl.toolstack.xl_conf import GlobalConfig

if TYPE_CHECKING:  # the device parser loads only for configs that have devices
    from pyxl.toolstack.devices import DiskSpec, NicSpec

# libxl_action_on_shutdown: the name xl.cfg uses -> libxl's enum name.
ACTIONS = {"destroy": "destroy", "restart": "restart", "rename-restart": "restart_rename",
           "preserve": "preserve", "coredump-destroy": "coredump_destroy",
           "coredump-restart": "coredump_restart", "soft-reset": "soft_reset"}


@dataclass(repr=False, eq=False)
class HostInfo:
    """What parse and setdefault need to know about the host (physinfo)."""

    nr_cpus: int = 8
    nr_nodes: int = 1
    node_cpus: dict[int, set[int]] | None = None
    sched: str = "credit2"
    global_cfg: GlobalConfig = field(default_factory=GlobalConfig)

    def nodes(self) -> dict[int, set[int]]:
        if self.node_cpus is not None:
            return self.node_cpus
        return node_cpus(self.nr_cpus, self.nr_nodes)


@dataclass(repr=False, eq=False)
class DomainConfig:
    """libxl_domain_config as xl builds it, typed where the simulation uses it.

    Values equal to None / "unknown" mean "not set" (libxl's default); the
    JSON renderer omits them as libxl does. Memory is in KiB, as libxl's
    MemKB fields are. ``type_info`` holds the
    ``type.hvm`` / ``type.pv`` / ``type.pvh`` union members by libxl name,
    ``b_info_extra`` / ``c_info_extra`` any other libxl fields xl set.
    """

    # c_info
    name: str = ""
    type: str = "pv"
    hap: bool | None = None
    oos: bool | None = None
    ssidref: int = 0
    ssid_label: str | None = None
    uuid: str | None = None
    poolid: int = 0
    pool_name: str | None = None
    run_hotplug_scripts: bool | None = None
    driver_domain: bool | None = None
    passthrough: str = "default"
    xend_suspend_evtchn_compat: bool | None = None
    # b_info
    max_vcpus: int = 0
    avail_vcpus: list[int] = field(default_factory=list)
    vcpu_hard_affinity: list[list[int]] = field(default_factory=list)
    vcpu_soft_affinity: list[list[int]] = field(default_factory=list)
    numa_placement: bool | None = None
    tsc_mode: str = "default"
    max_memkb: int | None = None
    target_memkb: int | None = None
    video_memkb: int | None = None
    shadow_memkb: int | None = None
    iommu_memkb: int | None = None
    rtc_timeoffset: int = 0
    exec_ssid_label: str | None = None
    localtime: bool | None = None
    disable_migrate: bool | None = None
    blkdev_start: str | None = None
    max_grant_frames: int | None = None
    max_maptrack_frames: int | None = None
    max_grant_version: int | None = None
    device_model_version: str = "unknown"
    device_model_stubdomain: bool | None = None
    device_model: str | None = None
    sched_weight: int | None = None
    sched_cap: int | None = None
    sched_period: int | None = None
    sched_slice: int | None = None
    sched_latency: int | None = None
    sched_extratime: int | None = None
    claim_mode: bool | None = None
    event_channels: int = 0
    kernel: str | None = None
    cmdline: str | None = None
    ramdisk: str | None = None
    device_tree: str | None = None
    acpi: bool | None = None
    bootloader: str | None = None
    bootloader_args: list[str] = field(default_factory=list)
    bootloader_restrict: bool | None = None
    bootloader_user: str | None = None
    timer_mode: str = "unknown"
    nested_hvm: bool | None = None
    apic: bool | None = None
    dm_restrict: bool | None = None
    vpmu: bool | None = None
    type_info: dict = field(default_factory=dict)
    b_info_extra: dict = field(default_factory=dict)
    c_info_extra: dict = field(default_factory=dict)
    # devices
    disks: list[DiskSpec] = field(default_factory=list)
    nics: list[NicSpec] = field(default_factory=list)
    pcidevs: list[dict] = field(default_factory=list)
    vfbs: list[dict] = field(default_factory=list)
    vkbs: list[dict] = field(default_factory=list)
    usbctrls: list[dict] = field(default_factory=list)
    # libxl_device_vtpm/_vdispl/_vsnd/_usbdev shaped dicts (vdev.SCHEMA)
    vtpms: list[dict] = field(default_factory=list)
    vdispls: list[dict] = field(default_factory=list)
    vsnds: list[dict] = field(default_factory=list)
    usbdevs: list[dict] = field(default_factory=list)
    # actions (libxl enum names)
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_watchdog: str = "destroy"
    on_crash: str = "destroy"
    on_soft_reset: str = "soft_reset"
    # pyxl
    workload: str | list[str] | None = None
    source: str = ""
    settings: dict = field(default_factory=dict)    # every key: raw value
    lines: dict = field(default_factory=dict)       # every key: line number

    def copy(self) -> "DomainConfig":
        """An independent copy (libxl_domain_config_copy)."""
        return copy.deepcopy(self)

    # -- persistence: the host database keeps this dict, one per domain ------
    def to_json_dict(self) -> dict:
        """A JSON-safe dict; ``from_json_dict`` rebuilds an equal config."""
        d = asdict(self)
        d["disks"] = [disk.to_dict() for disk in self.disks]
        d["nics"] = [nic.to_dict() for nic in self.nics]
        return d

    @classmethod
    def from_json_dict(cls, d: dict) -> "DomainConfig":
        from pyxl.toolstack.devices import DiskSpec, NicSpec

        names = {f.name for f in fields(cls)}
        kw = {k: copy.deepcopy(v) for k, v in d.items() if k in names}
        kw["disks"] = [DiskSpec.from_dict(x) for x in d.get("disks", [])]
        kw["nics"] = [NicSpec.from_dict(x) for x in d.get("nics", [])]
        return cls(**kw)
