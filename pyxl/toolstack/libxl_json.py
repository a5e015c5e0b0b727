"""libxl's JSON for a domain config, byte for byte as xl prints it.

Two layers:
- a renderer that reproduces YAJL's beautified generator (4-space indent,
  ``"key": value``, one array element per line, an empty map or array
  printed open/blank line/close, a newline after the top-level value);
- libxl's generated ``*_gen_json`` rules (gentypes.py): struct fields in IDL
  order (libxl_types.idl), a field omitted while it holds its default
  (init_val, nil UUID, empty bitmap/list, defbool "<default>", 0/NULL),
  nested structs always present, enums as lowercase names, defbools as
  "True"/"False", bitmaps as arrays of set bits, the build-info union under
  ``"type.pv"`` / ``"type.hvm"`` / ``"type.pvh"``.

``dryrun_json`` is what ``xl create -n`` writes to stdout (libxl_domain_
config_to_json + fputs: ends with one newline). ``list_long_json`` is what
``xl list -l`` writes (an array of {"domid", "config"}; xl uses puts, so
there is a blank line at the end).

Modelled for ``list -l`` (from the runtime dict the caller passes): uuid,
name, target_memkb, max_memkb, avail vCPUs, scheduler name/weight/cap,
poolid/pool_name, nic MACs and devids, disk backends, vkbs, vtpms, vdispls,
vsnds, usbctrls and usbdevs. Not modelled: cpuid policies, vnuma distances
beyond what xl parsed, xenstore quotas, channels, p9s and other devices pyxl
does not simulate (printed as absent).
"""

from __future__ import annotations

from typing import Any

from pyxl.toolstack.devices import DiskSpec, NicSpec
from pyxl.toolstack.domain_config import DomainConfig

# ---------------------------------------------------------------------------
# YAJL-style rendering

_INDENT = "    "


class Raw:
    """A pre-formatted JSON number (libxl prints uint64 via yajl_gen_number)."""

    def __init__(self, text: str):
        self.text = text


def _escape(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif o < 0x20:
            out.append("\\u00%02X" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render(value: object) -> str:
    """Render like yajl_gen with yajl_gen_beautify (trailing newline included).

    Maps are lists of (key, value) pairs or dicts (insertion order).
    """
    parts: list[str] = []
    _emit(value, 0, parts)
    parts.append("\n")
    return "".join(parts)


def _emit(value: object, depth: int, out: list[str]) -> None:
    if isinstance(value, dict):
        value = list(value.items())
        is_map = True
    elif isinstance(value, tuple) and len(value) == 2 and value[0] == "__map__":
        value, is_map = value[1], True
    else:
        is_map = False
    if is_map:
        out.append("{\n")
        for i, (k, v) in enumerate(value):
            if i:
                out.append(",\n")
            out.append(_INDENT * (depth + 1))
            out.append(_escape(k))
            out.append(": ")
            _emit(v, depth + 1, out)
        out.append("\n" + _INDENT * depth + "}")
    elif isinstance(value, list):
        out.append("[\n")
        for i, v in enumerate(value):
            if i:
                out.append(",\n")
            out.append(_INDENT * (depth + 1))
            _emit(v, depth + 1, out)
        out.append("\n" + _INDENT * depth + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Raw):
        out.append(value.text)
    elif isinstance(value, int):
        out.append(str(value))
    else:
        out.append(_escape(str(value)))


# ---------------------------------------------------------------------------
# libxl's types (IDL order). Kind: "int", "bool", "str", "defbool", "memkb",
# "bitmap", "uuid", "mac", "strlist", "kvlist", ("enum", default),
# ("struct", name), ("array", kind), "union", "skip" (not modelled: omitted).

_E = lambda default: ("enum", default)  # noqa: E731
_S = lambda name: ("struct", name)      # noqa: E731
_A = lambda kind: ("array", kind)       # noqa: E731

_PARAMS = [("sample_rates", ("array", "int")), ("sample_formats", ("array", "str")),
           ("channels_min", "int"), ("channels_max", "int"), ("buffer_size", "int")]
VDEV_SCHEMA = {  # libxl_device_vtpm, _vdispl, _vsnd and their parts
    "vtpm": [("backend_domid", "int"), ("backend_domname", "str"), ("devid", ("int", -1)),
             ("uuid", "uuid")],
    "connector": [("unique_id", "str"), ("width", "int"), ("height", "int")],
    "vdispl": [("backend_domid", "int"), ("backend_domname", "str"), ("devid", ("int", -1)),
               ("be_alloc", "bool"), ("connectors", ("array", ("struct", "connector")))],
    "params": _PARAMS,
    "stream": [("unique_id", "str"), ("type", ("enum", None)), ("params", ("struct", "params"))],
    "pcm": [("name", "str"), ("params", ("struct", "params")),
            ("streams", ("array", ("struct", "stream")))],
    "vsnd": [("backend_domid", "int"), ("backend_domname", "str"), ("devid", ("int", -1)),
             ("short_name", "str"), ("long_name", "str"), ("params", ("struct", "params")),
             ("pcms", ("array", ("struct", "pcm")))],
}

SCHEMA: dict[str, list[tuple]] = {
    "domain_config": [
        ("c_info", _S("create_info")), ("b_info", _S("build_info")),
        ("disks", _A(_S("disk"))), ("nics", _A(_S("nic"))), ("pcidevs", _A(_S("pci"))),
        ("rdms", "skip"), ("dtdevs", "skip"), ("vfbs", _A(_S("vfb"))),
        ("vkbs", _A(_S("vkb"))), ("virtios", "skip"), ("vtpms", _A(_S("vtpm"))),
        ("p9s", "skip"), ("pvcallsifs", "skip"), ("vdispls", _A(_S("vdispl"))),
        ("vsnds", _A(_S("vsnd"))), ("channels", "skip"), ("usbctrls", _A(_S("usbctrl"))),
        ("usbdevs", _A(_S("usbdev"))),
        ("on_poweroff", _E("destroy")), ("on_reboot", _E("destroy")),
        ("on_watchdog", _E("destroy")), ("on_crash", _E("destroy")),
        ("on_soft_reset", _E("destroy")),
    ],
    "create_info": [
        ("type", _E("invalid")), ("hap", "defbool"), ("oos", "defbool"), ("ssidref", "int"),
        ("ssid_label", "str"), ("name", "str"), ("domid", "int"), ("uuid", "uuid"),
        ("xsdata", "kvlist"), ("platformdata", "kvlist"), ("poolid", "int"),
        ("pool_name", "str"), ("run_hotplug_scripts", "defbool"),
        ("driver_domain", "defbool"), ("passthrough", _E("default")),
        ("xend_suspend_evtchn_compat", "defbool"),
    ],
    "build_info": [
        ("max_vcpus", "int"), ("avail_vcpus", "bitmap"), ("cpumap", "bitmap"),
        ("nodemap", "bitmap"), ("vcpu_hard_affinity", _A("bitmap")),
        ("vcpu_soft_affinity", _A("bitmap")), ("numa_placement", "defbool"),
        ("tsc_mode", _E("default")), ("max_memkb", "memkb"), ("target_memkb", "memkb"),
        ("video_memkb", "memkb"), ("shadow_memkb", "memkb"), ("iommu_memkb", "memkb"),
        ("rtc_timeoffset", "int"), ("exec_ssidref", "int"), ("exec_ssid_label", "str"),
        ("localtime", "defbool"), ("disable_migrate", "defbool"), ("cpuid", "skip"),
        ("blkdev_start", "str"), ("vnuma_nodes", _A(_S("vnode_info"))),
        ("max_grant_frames", ("int", -1)), ("max_maptrack_frames", ("int", -1)),
        ("max_grant_version", ("int", -1)),
        ("device_model_version", _E("unknown")), ("device_model_stubdomain", "defbool"),
        ("stubdomain_memkb", "memkb"), ("stubdomain_kernel", "str"),
        ("stubdomain_cmdline", "str"), ("stubdomain_ramdisk", "str"),
        ("device_model", "str"), ("device_model_ssidref", "int"),
        ("device_model_ssid_label", "str"), ("device_model_user", "str"),
        ("extra", "strlist"), ("extra_pv", "strlist"), ("extra_hvm", "strlist"),
        ("sched_params", _S("sched_params")), ("ioports", "skip"), ("irqs", "skip"),
        ("iomem", "skip"), ("llc_colors", "skip"), ("claim_mode", "defbool"),
        ("event_channels", "int"), ("kernel", "str"), ("cmdline", "str"), ("ramdisk", "str"),
        ("device_tree", "str"), ("acpi", "defbool"), ("bootloader", "str"),
        ("bootloader_args", "strlist"), ("bootloader_restrict", "defbool"),
        ("bootloader_user", "str"), ("timer_mode", _E("unknown")), ("nested_hvm", "defbool"),
        ("apic", "defbool"), ("dm_restrict", "defbool"), ("tee", _E("none")),
        ("u", "union"), ("arch_arm", _S("arch_arm")), ("arch_x86", _S("arch_x86")),
        ("altp2m", _E("disabled")), ("altp2m_count", ("int", -1)),
        ("vmtrace_buf_kb", "int"), ("vpmu", "defbool"),
        ("trap_unmapped_accesses", "defbool"), ("xenstore_feature_mask", ("int", -1)),
        ("xenstore_quota", _S("xs_quota_list")),
    ],
    "hvm": [
        ("firmware", "str"), ("bios", _E("unknown")), ("pae", "defbool"), ("apic", "defbool"),
        ("acpi", "defbool"), ("acpi_s3", "defbool"), ("acpi_s4", "defbool"),
        ("acpi_laptop_slate", "defbool"), ("nx", "defbool"), ("viridian", "defbool"),
        ("viridian_enable", "bitmap"), ("viridian_disable", "bitmap"),
        ("timeoffset", "str"), ("hpet", "defbool"), ("vpt_align", "defbool"),
        ("mmio_hole_memkb", "memkb"), ("timer_mode", _E("unknown")),
        ("nested_hvm", "defbool"), ("altp2m", "defbool"), ("system_firmware", "str"),
        ("smbios_firmware", "str"), ("smbios", "skip"), ("acpi_firmware", "str"),
        ("hdtype", _E("ide")), ("nographic", "defbool"), ("vga", _S("vga")),
        ("vnc", _S("vnc")), ("keymap", "str"), ("sdl", _S("sdl")), ("spice", _S("spice")),
        ("gfx_passthru", "defbool"), ("gfx_passthru_kind", _E("default")),
        ("serial", "str"), ("boot", "str"), ("usb", "defbool"), ("usbversion", "int"),
        ("usbdevice", "str"), ("vkb_device", "defbool"), ("soundhw", "str"),
        ("xen_platform_pci", "defbool"), ("xen_platform_pci_bar_uc", "defbool"),
        ("usbdevice_list", "strlist"), ("vendor_device", _E("none")),
        ("ms_vm_genid", "skip"), ("serial_list", "strlist"), ("rdm", _S("rdm")),
        ("rdm_mem_boundary_memkb", "memkb"), ("mca_caps", "int"), ("pirq", "defbool"),
    ],
    "pv": [
        ("kernel", "str"), ("slack_memkb", "memkb"), ("bootloader", "str"),
        ("bootloader_args", "strlist"), ("cmdline", "str"), ("ramdisk", "str"),
        ("e820_host", "defbool"),
    ],
    "pvh": [
        ("pvshim", "defbool"), ("pvshim_path", "str"), ("pvshim_cmdline", "str"),
        ("pvshim_extra", "str"),
    ],
    "sched_params": [
        ("sched", _E("unknown")), ("weight", ("int", -1)), ("cap", ("int", -1)),
        ("period", ("int", -1)), ("budget", ("int", -1)), ("extratime", ("int", -1)),
        ("slice", ("int", -1)), ("latency", ("int", -1)),
    ],
    "vnode_info": [("memkb", "memkb"), ("distances", _A("int")), ("pnode", "int"),
                   ("vcpus", "bitmap")],
    "arch_arm": [("gic_version", _E("default")), ("vuart", _E("unknown")),
                 ("sve_vl", _E("disabled")), ("nr_spis", ("int", -1)),
                 ("arm_sci", _S("arm_sci"))],
    "arm_sci": [("type", _E("none"))],
    "arch_x86": [("msr_relaxed", "defbool")],
    "xs_quota_list": [("quota", "skip")],
    "vga": [("kind", _E("unknown"))],
    "vnc": [("enable", "defbool"), ("listen", "str"), ("passwd", "str"), ("display", "int"),
            ("findunused", "defbool")],
    "sdl": [("enable", "defbool"), ("opengl", "defbool"), ("display", "str"),
            ("xauthority", "str")],
    "spice": [("enable", "defbool"), ("port", "int"), ("tls_port", "int"), ("host", "str"),
              ("disable_ticketing", "defbool"), ("passwd", "str"), ("agent_mouse", "defbool"),
              ("vdagent", "defbool"), ("clipboard_sharing", "defbool"),
              ("usbredirection", "int"), ("image_compression", "str"),
              ("streaming_video", "str")],
    "rdm": [("strategy", _E("ignore")), ("policy", _E("invalid"))],
    "disk": [
        ("backend_domid", "int"), ("backend_domname", "str"), ("pdev_path", "str"),
        ("vdev", "str"), ("backend", _E("unknown")), ("format", _E("unknown")),
        ("script", "str"), ("removable", "int"), ("readwrite", "int"), ("is_cdrom", "int"),
        ("direct_io_safe", "bool"), ("discard_enable", "defbool"),
        ("specification", _E("unknown")), ("transport", _E("unknown")), ("irq", "int"),
        ("base", "int"), ("colo_enable", "defbool"), ("colo_restore_enable", "defbool"),
        ("colo_host", "str"), ("colo_port", "int"), ("colo_export", "str"),
        ("active_disk", "str"), ("hidden_disk", "str"), ("trusted", "defbool"),
        ("grant_usage", "defbool"),
    ],
    "nic": [
        ("backend_domid", "int"), ("backend_domname", "str"), ("devid", ("int", -1)),
        ("mtu", "int"), ("vlan", "str"), ("model", "str"), ("mac", "mac"), ("ip", "str"),
        ("bridge", "str"), ("ifname", "str"), ("script", "str"),
        ("nictype", _E("unknown")), ("rate_bytes_per_interval", "int"),
        ("rate_interval_usecs", "int"), ("gatewaydev", "str"),
        ("coloft_forwarddev", "str"),
    ] + [(k, "str") for k in (
        "colo_sock_mirror_id colo_sock_mirror_ip colo_sock_mirror_port "
        "colo_sock_compare_pri_in_id colo_sock_compare_pri_in_ip "
        "colo_sock_compare_pri_in_port colo_sock_compare_sec_in_id "
        "colo_sock_compare_sec_in_ip colo_sock_compare_sec_in_port "
        "colo_sock_compare_notify_id colo_sock_compare_notify_ip "
        "colo_sock_compare_notify_port colo_sock_redirector0_id colo_sock_redirector0_ip "
        "colo_sock_redirector0_port colo_sock_redirector1_id colo_sock_redirector1_ip "
        "colo_sock_redirector1_port colo_sock_redirector2_id colo_sock_redirector2_ip "
        "colo_sock_redirector2_port colo_filter_mirror_queue colo_filter_mirror_outdev "
        "colo_filter_redirector0_queue colo_filter_redirector0_indev "
        "colo_filter_redirector0_outdev colo_filter_redirector1_queue "
        "colo_filter_redirector1_indev colo_filter_redirector1_outdev colo_compare_pri_in "
        "colo_compare_sec_in colo_compare_out colo_compare_notify_dev "
        "colo_sock_sec_redirector0_id colo_sock_sec_redirector0_ip "
        "colo_sock_sec_redirector0_port colo_sock_sec_redirector1_id "
        "colo_sock_sec_redirector1_ip colo_sock_sec_redirector1_port "
        "colo_filter_sec_redirector0_queue colo_filter_sec_redirector0_indev "
        "colo_filter_sec_redirector0_outdev colo_filter_sec_redirector1_queue "
        "colo_filter_sec_redirector1_indev colo_filter_sec_redirector1_outdev "
        "colo_filter_sec_rewriter0_queue colo_checkpoint_host colo_checkpoint_port").split()
    ] + [("trusted", "defbool")],
    "pci": [("func", "int"), ("dev", "int"), ("bus", "int"), ("domain", "int"),
            ("vdevfn", "int"), ("vfunc_mask", "int"), ("msitranslate", "bool"),
            ("power_mgmt", "bool"), ("permissive", "bool"), ("seize", "bool"),
            ("rdm_policy", _E("invalid")), ("name", "str")],
    "vfb": [("backend_domid", "int"), ("backend_domname", "str"), ("devid", ("int", -1)),
            ("vnc", _S("vnc")), ("sdl", _S("sdl")), ("keymap", "str")],
    "vkb": [("backend_domid", "int"), ("backend_domname", "str"), ("devid", ("int", -1)),
            ("backend_type", _E("unknown")), ("unique_id", "str"),
            ("feature_disable_keyboard", "bool"), ("feature_disable_pointer", "bool"),
            ("feature_abs_pointer", "bool"), ("feature_raw_pointer", "bool"),
            ("feature_multi_touch", "bool"), ("width", "int"), ("height", "int"),
            ("multi_touch_width", "int"), ("multi_touch_height", "int"),
            ("multi_touch_num_contacts", "int")],
    "usbctrl": [("type", _E("auto")), ("devid", ("int", -1)), ("version", "int"),
                ("ports", "int"), ("backend_domid", "int"), ("backend_domname", "str")],
    # the union keyed by `type` prints as "type.<type>": {...}
    "usbdev": [("ctrl", ("int", -1)), ("port", "int"), ("u", "keyed")],
    "usbdev_hostdev": [("hostbus", "int"), ("hostaddr", "int")],
    **VDEV_SCHEMA,
}

_NIL_UUID = "00000000-0000-0000-0000-000000000000"


def _gen(kind, value) -> tuple[bool, Any]:
    """(present, json value) for one field under libxl's default rules."""
    if kind == "skip":
        return False, None
    if isinstance(kind, tuple):
        tag = kind[0]
        if tag == "struct":
            return True, _gen_struct(kind[1], value or {})
        if tag == "array":
            if not value:
                return False, None
            return True, [_gen_elem(kind[1], v) for v in value]
        if tag == "enum":
            if value is None or value == kind[1]:
                return False, None
            return True, value
        if tag == "int":        # integer with an init_val
            if value is None or value == kind[1]:
                return False, None
            return True, value
    if kind == "int":
        return (bool(value), value)
    if kind == "bool":
        return (bool(value), bool(value))
    if kind == "str":
        return (value is not None, value)
    if kind == "defbool":
        if value is None:
            return False, None
        return True, "True" if value else "False"
    if kind == "memkb":
        if value is None:
            return False, None
        return True, Raw(str(value))
    if kind == "bitmap":
        if not value:
            return False, None
        return True, sorted(set(value))
    if kind == "uuid":
        if not value or value == _NIL_UUID:
            return False, None
        return True, value
    if kind == "mac":
        if not value or value == "00:00:00:00:00:00":
            return False, None
        return True, value
    if kind == "strlist":
        return (bool(value), list(value or []))
    if kind == "kvlist":
        return (bool(value), dict(value or {}))
    raise ValueError(kind)


def _gen_elem(kind, value) -> object:
    """An array element is always written, whatever its value."""
    if kind == "bitmap":
        return sorted(set(value or []))
    if kind == "int":
        return value
    if isinstance(kind, tuple) and kind[0] == "struct":
        return _gen_struct(kind[1], value or {})
    return _gen(kind, value)[1]


def _gen_struct(name: str, data: dict) -> dict:
    out: dict = {}
    for field_name, kind in SCHEMA[name]:
        if kind == "union":
            utype = data.get("type")
            out[f"type.{utype}"] = _gen_struct(utype, data.get("u") or {}) \
                if utype in ("hvm", "pv", "pvh") else {}
            continue
        if kind == "keyed":
            if data.get("type"):
                out[f"type.{data['type']}"] = _gen_struct(f"{name}_{data['type']}", data)
            continue
        present, val = _gen(kind, data.get(field_name))
        if present:
            out[field_name] = val
    return out


def disk_json(spec: DiskSpec) -> str:
    """libxl_device_disk_to_json: the text ``xl -N block-attach`` prints
    after ``disk: `` (yajl-beautified, defaults omitted, one trailing newline;
    xl's printf adds a second)."""
    d = spec.to_dict()
    d.pop("spec", None)
    return render(_gen_struct("disk", d))


def nic_json(spec: NicSpec) -> str:
    """libxl_device_nic_to_json: the text ``xl -N network-attach`` prints
    after ``vif: `` (as `disk_json`)."""
    d = spec.to_dict()
    d.update(d.pop("extra", {}))
    d.pop("spec", None)
    return render(_gen_struct("nic", d))


# ---------------------------------------------------------------------------
# DomainConfig -> libxl_domain_config shaped dict

def to_libxl(dc: DomainConfig, runtime: dict | None = None) -> dict:
    """The libxl_domain_config (as nested dicts) that xl would hold."""
    rt = runtime or {}
    c_info = {
        "type": dc.type, "hap": dc.hap, "oos": dc.oos, "ssidref": dc.ssidref,
        "ssid_label": dc.ssid_label, "name": rt.get("name", dc.name),
        "uuid": rt.get("uuid", dc.uuid), "poolid": rt.get("poolid", dc.poolid),
        "pool_name": rt.get("pool_name", dc.pool_name),
        "run_hotplug_scripts": dc.run_hotplug_scripts, "driver_domain": dc.driver_domain,
        "passthrough": dc.passthrough,
    }
    c_info.update({k: v for k, v in dc.c_info_extra.items()})
    ti = dict(dc.type_info)
    b_info = {
        "max_vcpus": dc.max_vcpus, "avail_vcpus": dc.avail_vcpus,
        "vcpu_hard_affinity": dc.vcpu_hard_affinity,
        "vcpu_soft_affinity": dc.vcpu_soft_affinity, "numa_placement": dc.numa_placement,
        "tsc_mode": dc.tsc_mode, "max_memkb": dc.max_memkb, "target_memkb": dc.target_memkb,
        "video_memkb": dc.video_memkb, "shadow_memkb": dc.shadow_memkb,
        "iommu_memkb": dc.iommu_memkb, "rtc_timeoffset": dc.rtc_timeoffset,
        "exec_ssid_label": dc.exec_ssid_label, "localtime": dc.localtime,
        "disable_migrate": dc.disable_migrate, "blkdev_start": dc.blkdev_start,
        "max_grant_frames": dc.max_grant_frames,
        "max_maptrack_frames": dc.max_maptrack_frames,
        "max_grant_version": dc.max_grant_version,
        "device_model_version": dc.device_model_version,
        "device_model_stubdomain": dc.device_model_stubdomain,
        "device_model": dc.device_model,
        "sched_params": {"sched": dc.b_info_extra.get("sched"), "weight": dc.sched_weight,
                         "cap": dc.sched_cap, "period": dc.sched_period,
                         "extratime": dc.sched_extratime, "slice": dc.sched_slice,
                         "latency": dc.sched_latency},
        "claim_mode": dc.claim_mode, "event_channels": dc.event_channels,
        "kernel": dc.kernel, "cmdline": dc.cmdline, "ramdisk": dc.ramdisk,
        "device_tree": dc.device_tree, "acpi": dc.acpi, "bootloader": dc.bootloader,
        "bootloader_args": dc.bootloader_args,
        "bootloader_restrict": dc.bootloader_restrict,
        "bootloader_user": dc.bootloader_user, "timer_mode": dc.timer_mode,
        "nested_hvm": dc.nested_hvm, "apic": dc.apic, "dm_restrict": dc.dm_restrict,
        "vpmu": dc.vpmu, "type": dc.type, "u": ti,
    }
    for k, v in dc.b_info_extra.items():
        if k != "sched":
            b_info[k] = v
    if "sched" in rt:
        b_info["sched_params"].update({"sched": rt["sched"], "weight": rt.get("weight"),
                                       "cap": rt.get("cap")})
    if "target_memkb" in rt:
        b_info["target_memkb"] = rt["target_memkb"]
    if "max_memkb" in rt:
        b_info["max_memkb"] = rt["max_memkb"]
    if "avail_vcpus" in rt:
        n = rt["avail_vcpus"]
        b_info["avail_vcpus"] = list(range(n)) if isinstance(n, int) else list(n)
    disks = []
    for d in dc.disks:
        dd = d.to_dict()
        dd.pop("spec", None)
        disks.append(dd)
    nics = []
    for i, n in enumerate(dc.nics):
        nd = n.to_dict()
        nd.update(nd.pop("extra", {}))
        nd.pop("spec", None)
        if "nic_macs" in rt and i < len(rt["nic_macs"]):
            nd["mac"] = rt["nic_macs"][i]
        nics.append(nd)
    return {
        "c_info": c_info, "b_info": b_info, "disks": disks, "nics": nics,
        "pcidevs": dc.pcidevs, "vfbs": dc.vfbs, "vkbs": dc.vkbs, "vtpms": dc.vtpms,
        "vdispls": dc.vdispls, "vsnds": dc.vsnds, "usbctrls": dc.usbctrls,
        "usbdevs": dc.usbdevs,
        "on_poweroff": dc.on_poweroff, "on_reboot": dc.on_reboot,
        "on_watchdog": dc.on_watchdog, "on_crash": dc.on_crash,
        "on_soft_reset": dc.on_soft_reset,
    }


def domain_config_json_obj(dc: DomainConfig, runtime: dict | None = None) -> dict:
    """libxl_domain_config_gen_json's output as an ordered dict."""
    return _gen_struct("domain_config", to_libxl(dc, runtime))


def dryrun_json(cfg: DomainConfig) -> str:
    """Exactly what ``xl create -n`` writes to stdout for this config."""
    return render(domain_config_json_obj(cfg))


def list_long_json(entries: list[tuple[int, DomainConfig, dict]]) -> str:
    """What ``xl list -l`` writes: ``[{"domid": N, "config": {...}}, ...]``.

    Each entry is (domid, config after libxl's defaults, runtime) where
    runtime may hold: uuid, name, target_memkb, max_memkb, avail_vcpus (count
    or list of online vCPU ids), sched, weight, cap, poolid, pool_name,
    nic_macs (list of "xx:xx:..." per nic). xl prints with puts: the output
    ends with an empty line.
    """
    items = []
    for domid, dc, runtime in entries:
        items.append({"domid": domid, "config": domain_config_json_obj(dc, runtime)})
    return render(items) + "\n"
