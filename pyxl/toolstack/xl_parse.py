"""What xl makes of a domain config file (tools/xl/xl_parse.c parse_config_data).

``parse_domain_config`` turns a CfgFile into a DomainConfig the way xl fills
libxl_domain_config, with xl's warnings returned and xl's fatal errors
raised as PyxlError (exit 1 unless xl exits otherwise). libxl's defaults
come later, at create (setdefault.py).

Modelled keys: name, type/builder, hap, oos, uuid, pool, seclabel, memory,
maxmem, vcpus, maxvcpus, vnuma, cpus, cpus_soft, cpu_weight, cap, period,
slice, latency, extratime, max_grant_frames/max_maptrack_frames/
max_grant_version, on_* actions, kernel, ramdisk, cmdline/root/extra,
device_tree, bootloader*, acpi, apic, nestedhvm, localtime, nomigrate,
rtc_timeoffset, tsc_mode, timer_mode, shadow_memory, videoram,
max_event_channels, e820_host, driver_domain, passthrough, device_model*,
the HVM display/firmware keys (vnc*, sdl, opengl, spice*, vga/stdvga,
serial, boot, usb*, viridian, pae, hpet, nx, ...), disk, vif, pci, usbctrl,
usbdev, vkb, vtpm, vdispl, vsnd,
and pyxl's ``workload`` (kept raw, never in libxl JSON). Every other key
stays available through ``DomainConfig.settings`` (raw values and lines).
``cpuid`` is kept raw only (libxl's cpuid JSON is not modelled).

xm-era input is read as xl reads it: HVM ``kernel = "hvmloader"`` is
dropped with xl's warning; the ``nbd:``/``enbd:``/``drbd:`` disk prefixes
become ``script=block-...``. A disk whose hotplug script a Xen host does not
install (``drbd:``, or ``script=`` naming another) parses, and dry-runs, but
fails at create (create.py), where libxl would run the script.

pyxl's own limits, each one line with FILE:LINE: vcpus/maxvcpus above the
8192 vCPUs Xen gives any domain (see ``_check_vcpu_count``); the config
language's limits are in libxlu_cfg.
"""

from __future__ import annotations

import copy
import re
from errno import ESRCH
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

from pyxl.cnum import INT_MAX, atoi, c_int, c_uint64
from pyxl.errors import PyxlError
from pyxl.hv.model import MAX_VIRT_CPUS
from pyxl.toolstack.cpumap import parse_cpurange, parse_range
from pyxl.toolstack.domain_config import ACTIONS, DomainConfig, HostInfo
from pyxl.toolstack.libxlu_cfg import CfgFile
from pyxl.toolstack.xl_conf import GlobalConfig

# Patterns, compiled (and cached by re) only when a config has the key.
_UUID_RE = (r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
            r"[0-9a-fA-F]{12}$")


def _fail(msg: str, code: int = 1) -> PyxlError:
    return PyxlError(msg, code)


def _prefix_of(buf: str, word: str) -> bool:
    """xl's ``!strncmp(buf, word, strlen(buf))``: buf is a prefix of word."""
    return word.startswith(buf)


def _cmdline(cfg: CfgFile, warnings: list[str]) -> str | None:
    buf = cfg.get_string("cmdline")
    root = cfg.get_string("root")
    extra = cfg.get_string("extra")
    if buf is not None:
        if root is not None or extra is not None:
            warnings.append("Warning: ignoring root= and extra= in favour of cmdline=")
        return buf
    if root is not None and extra is not None:
        return f"root={root} {extra}"
    if root is not None:
        return f"root={root}"
    return extra


def _affinity(cfg: CfgFile, key: str, dc: DomainConfig, host: HostInfo,
              hard: bool) -> None:
    rc, items = cfg.get_list_rc(key, dont_warn=True)
    buf = None
    if rc:
        buf = cfg.get_string(key)
        if buf is None:
            return
    maps: list[list[int]] = []
    if buf is None:
        for item in items[:dc.max_vcpus]:
            if not isinstance(item, str):
                break
            maps.append(sorted(parse_cpurange(item, host.nr_cpus, host.nodes())))
        dc.numa_placement = False
    else:
        one = sorted(parse_cpurange(buf, host.nr_cpus, host.nodes()))
        maps = [list(one) for _ in range(dc.max_vcpus)]
        if not hard:
            dc.numa_placement = False
    if hard:
        dc.vcpu_hard_affinity = maps
    else:
        dc.vcpu_soft_affinity = maps


def _vcpus(cfg: CfgFile, dc: DomainConfig, host: HostInfo) -> int:
    """vcpus= and maxvcpus= as xl reads them, with C's integer sizes.

    vcpus is a long, but the bitmap of online vCPUs is sized by an int, and
    max_vcpus is an int: a count past INT_MAX fails here or as "maxvcpus <
    vcpus", never as a bitmap of 2^63 bits.
    """
    vcpus = cfg.get_long("vcpus") or 0
    if vcpus < 1:
        vcpus = 1
    if c_int(vcpus) < 0:
        raise _fail("libxl: error: libxl_utils.c:812:libxl_cpu_bitmap_alloc: "
                    "invalid number of cpus provided\nUnable to allocate cpumap")
    v = cfg.get_long("maxvcpus")
    if v is not None:
        dc.max_vcpus = c_int(v)
    _vnuma(cfg, dc, host)
    return vcpus


def _check_vcpu_count(cfg: CfgFile, dc: DomainConfig) -> None:
    """pyxl's own bound, at parse time so that a dry run stays small: no Xen
    gives a domain more than MAX_VIRT_CPUS vCPUs (PV; 128 for HVM and PVH,
    which Xen refuses at create). xl itself would build the bitmaps and fail
    later, or print gigabytes of JSON."""
    if dc.max_vcpus <= MAX_VIRT_CPUS:
        return
    key = next(k for k in ("maxvcpus", "vnuma", "vcpus") if k in cfg)
    raise _fail(f"{cfg.source}:{cfg.lineno(key)}: {key}: {dc.max_vcpus} vCPUs is more "
                f"than Xen gives any domain ({MAX_VIRT_CPUS})")


def _vnuma(cfg: CfgFile, dc: DomainConfig, host: HostInfo) -> None:
    rc, vnuma = cfg.get_list_rc("vnuma", dont_warn=True)
    if rc or not vnuma:
        return
    from pyxl.toolstack.devices import parse_ulong

    n = len(vnuma)
    nodes = [{"memkb": None, "distances": [0] * n, "pnode": 0, "vcpus": []} for _ in range(n)]
    max_vcpus = max_memkb = 0
    for i, spec in enumerate(vnuma):
        if not isinstance(spec, list):
            raise _fail("xl: cannot get vnode config option list")
        for opt in spec:
            if not isinstance(opt, str):
                continue
            if "=" not in opt:
                raise _fail(f'xl: failed to split "{opt}" into pair')
            key, _, value = opt.partition("=")
            key, value = key.strip(), value.strip()
            if key == "pnode":
                val = parse_ulong(value)
                if val >= host.nr_nodes:
                    raise _fail(f"xl: invalid pnode number: {val}")
                nodes[i]["pnode"] = val
                dc.numa_placement = False
            elif key == "size":
                nodes[i]["memkb"] = c_uint64(parse_ulong(value) << 10)
                max_memkb = c_uint64(max_memkb + nodes[i]["memkb"])
            elif key == "vcpus":
                for part in [p for p in value.split(",") if p]:
                    rng = parse_range(part)
                    if rng is None:
                        continue
                    max_vcpus += rng[1] - rng[0] + 1
                    # vCPUs past any domain's last cannot survive the checks below
                    nodes[i]["vcpus"].extend(range(rng[0], min(rng[1], MAX_VIRT_CPUS) + 1))
            elif key == "vdistances":
                for j, part in enumerate([p for p in value.split(",") if p]):
                    if j < n:
                        nodes[i]["distances"][j] = parse_ulong(part)
    if dc.max_vcpus:
        if dc.max_vcpus != max_vcpus:
            raise _fail("xl: vnuma vcpus and maxvcpus= mismatch")
    else:
        if host.nr_cpus < max_vcpus:
            raise _fail("xl: vnuma specifies more vcpus than pcpus, "
                        "use maxvcpus= to override this check.")
        dc.max_vcpus = max_vcpus
    if dc.max_memkb is not None and dc.max_memkb != max_memkb:
        raise _fail("xl: maxmem and vnuma memory size mismatch")
    dc.max_memkb = max_memkb
    for node in nodes:
        node["vcpus"] = sorted(set(v for v in node["vcpus"] if v < dc.max_vcpus))
    dc.b_info_extra["vnuma_nodes"] = nodes


def _parse_pci(spec: str, defaults: dict, source: str) -> dict:
    """xlu_pci_parse_spec_string, as parse_config_data reports its failure
    (after whatever libxlu printed, which ends in no newline)."""
    from pyxl.toolstack.pci import parse_spec_string

    pci, report = parse_spec_string(spec, defaults)
    if pci is None:
        # xl exits with the negated libxlu result: ERROR_INVAL, status 6
        raise _fail(f"{report}unable to parse PCI_SPEC_STRING `{spec}' for passthrough", 6)
    return pci.to_config()


def parse_domain_config(cfg: CfgFile, host: HostInfo | None = None,
                        uuid_factory: "Callable[[], str] | None" = None,
                        ) -> tuple[DomainConfig, list[str]]:
    """Build the DomainConfig xl would, returning (config, warnings).

    ``uuid_factory`` supplies the UUID xl generates when the file has none
    (real xl uses a random one); without it the UUID stays None.
    Raises PyxlError with xl's message on every fatal error.
    """
    host = host or HostInfo()
    g = host.global_cfg
    start = len(cfg.report)
    dc = DomainConfig(source=cfg.source)
    dc.settings = {k: copy.deepcopy(cfg.raw(k)) for k in cfg.keys()}
    dc.lines = {k: cfg.lineno(k) for k in cfg.keys()}

    _parse_c_info(cfg, dc, g, uuid_factory)
    dc.type_info = ti = {}
    _parse_pvh(cfg, dc, ti)
    dc.blkdev_start = g.blkdev_start
    _parse_sched_params(cfg, dc)
    _parse_memory_and_vcpus(cfg, dc, host)
    _parse_grant_limits(cfg, dc, g, start)
    dc.claim_mode = bool(g.claim_mode)
    _parse_actions(cfg, dc)
    _parse_pci_devices(cfg, dc, ti)
    _parse_b_info_misc(cfg, dc)
    _parse_boot(cfg, dc, g)
    _parse_timer_mode(cfg, dc)
    dc.nested_hvm = cfg.get_defbool("nestedhvm")
    if dc.type == "hvm":
        _parse_hvm_early(cfg, dc, ti, cfg.report)
    _parse_devices(cfg, dc, g)
    _parse_device_model(cfg, dc)
    _parse_display(cfg, dc, ti)
    _parse_tail(cfg, dc)
    return dc, list(cfg.report[start:])


def _parse_c_info(cfg: CfgFile, dc: DomainConfig, g: GlobalConfig,
                  uuid_factory: "Callable[[], str] | None") -> None:
    """Security labels, type/builder, hap, name, uuid, oos, pool."""
    # security labels
    buf = cfg.get_string("init_seclabel")
    if buf is not None:
        dc.ssid_label = buf
    buf = cfg.get_string("seclabel")
    if buf is not None:
        if dc.ssid_label:
            dc.exec_ssid_label = buf
        else:
            dc.ssid_label = buf

    dc.run_hotplug_scripts = bool(g.run_hotplug_scripts)

    dtype = None
    buf = cfg.get_string("type")
    if buf is not None:
        for kind in ("hvm", "pv", "pvh"):
            if _prefix_of(buf, kind):
                dtype = kind
                break
        else:
            raise _fail(f"Invalid domain type {buf}.")
    buf = cfg.get_string("builder")
    if buf is not None:
        if _prefix_of(buf, "hvm"):
            builder = "hvm"
        elif _prefix_of(buf, "generic"):
            builder = "pv"
        else:
            raise _fail(f"Invalid domain type {buf}.")
        if dtype is not None and dtype != builder:
            raise _fail('Contradicting "builder" and "type" options specified.')
        dtype = builder
    dc.type = dtype or "pv"

    dc.hap = cfg.get_defbool("hap")
    rc, name = cfg.get_string_rc("name")
    if rc:
        raise _fail("Domain name must be specified.")
    dc.name = name

    buf = cfg.get_string("uuid")
    if buf is not None:
        if not re.match(_UUID_RE, buf):
            raise _fail(f"Failed to parse UUID: {buf}")
        dc.uuid = buf.lower()
    elif uuid_factory is not None:
        dc.uuid = uuid_factory()

    dc.oos = cfg.get_defbool("oos")
    buf = cfg.get_string("pool")
    if buf is not None:
        dc.pool_name = buf


def _parse_pvh(cfg: CfgFile, dc: DomainConfig, ti: dict) -> None:
    """The PVH shim keys."""
    if dc.type == "pvh":
        v = cfg.get_defbool("pvshim")
        if v is not None:
            ti["pvshim"] = v
        for key in ("pvshim_path", "pvshim_cmdline", "pvshim_extra"):
            buf = cfg.get_string(key)
            if buf is not None:
                ti[key] = buf


def _parse_sched_params(cfg: CfgFile, dc: DomainConfig) -> None:
    """cpu_weight, cap, period, slice, latency, extratime."""
    for key, attr in (("cpu_weight", "sched_weight"), ("cap", "sched_cap"),
                      ("period", "sched_period"), ("slice", "sched_slice"),
                      ("latency", "sched_latency"), ("extratime", "sched_extratime")):
        v = cfg.get_long(key)
        if v is not None:
            setattr(dc, attr, c_int(v))     # libxl_domain_sched_params has ints


def _parse_memory_and_vcpus(cfg: CfgFile, dc: DomainConfig, host: HostInfo) -> None:
    """memory/maxmem (MiB in the file, KiB from here on), vCPUs, affinities."""
    # MemKB fields are uint64_t; xl computes l * 1024 in a long
    v = cfg.get_long("memory")
    if v is not None:
        dc.target_memkb = c_uint64(v * 1024)
    v = cfg.get_long("maxmem")
    if v is not None:
        dc.max_memkb = c_uint64(v * 1024)

    vcpus = _vcpus(cfg, dc, host)

    if dc.max_memkb is None:
        dc.max_memkb = dc.target_memkb
    if dc.max_vcpus == 0:
        dc.max_vcpus = c_int(vcpus)
    if dc.max_vcpus < vcpus:
        raise _fail("xl: maxvcpus < vcpus")
    _check_vcpu_count(cfg, dc)
    dc.avail_vcpus = list(range(vcpus))

    _affinity(cfg, "cpus", dc, host, hard=True)
    _affinity(cfg, "cpus_soft", dc, host, hard=False)


def _parse_grant_limits(cfg: CfgFile, dc: DomainConfig, g: GlobalConfig, start: int) -> None:
    """max_grant_frames and friends: the file's, else xl.conf's."""
    report = cfg.report
    for key in ("max_grant_frames", "max_maptrack_frames", "max_grant_version"):
        rc, v = cfg.get_bounded_long_rc(key, 0, INT_MAX, dont_warn=True)
        if rc == ESRCH:
            setattr(dc, key, getattr(g, key))
        elif rc == 0:
            setattr(dc, key, v)
        else:
            # xl exits 1 silently here; show libxlutil's reason instead.
            cfg.get_bounded_long_rc(key, 0, INT_MAX)
            raise _fail(report.pop() if len(report) > start else f"invalid {key}")


def _parse_actions(cfg: CfgFile, dc: DomainConfig) -> None:
    """on_poweroff, on_reboot, on_watchdog, on_crash, on_soft_reset."""
    for key, default in (("on_poweroff", "destroy"), ("on_reboot", "restart"),
                         ("on_watchdog", "destroy"), ("on_crash", "destroy"),
                         ("on_soft_reset", "soft-reset")):
        buf = cfg.get_string(key)
        if buf is None:
            buf = default
        if buf not in ACTIONS:
            raise _fail(f'Unknown {key} action "{buf}" specified')
        setattr(dc, key, ACTIONS[buf])


def _parse_pci_devices(cfg: CfgFile, dc: DomainConfig, ti: dict) -> None:
    """e820_host, pci= and the pci_* defaults, passthrough."""
    if dc.type == "pv":
        v = cfg.get_defbool("e820_host")
        if v is not None:
            ti["e820_host"] = v

    pci_defaults = {}
    for key in ("pci_msitranslate", "pci_power_mgmt", "pci_permissive", "pci_seize"):
        v = cfg.get_long(key)
        if v is not None:
            pci_defaults[key[4:]] = bool(v)
    pcis = cfg.get_list("pci")
    if pcis is not None:
        for item in pcis:
            if not isinstance(item, str):
                break
            dc.pcidevs.append(_parse_pci(item, pci_defaults, cfg.source))
        if dc.pcidevs and dc.type == "pv":
            ti["e820_host"] = True

    buf = cfg.get_string("passthrough")
    if buf is not None:
        if buf not in ("default", "disabled", "enabled", "sync_pt", "share_pt"):
            raise _fail(f"ERROR: unknown passthrough option '{buf}'")
        dc.passthrough = buf


def _parse_b_info_misc(cfg: CfgFile, dc: DomainConfig) -> None:
    """shadow_memory, nomigrate, tsc_mode, rtc_timeoffset, localtime,
    videoram, max_event_channels."""
    v = cfg.get_long("shadow_memory")
    if v is not None:
        dc.shadow_memkb = c_uint64(v * 1024)
    dc.disable_migrate = cfg.get_defbool("nomigrate")

    tsc_names = ["default", "always_emulate", "native", "native_paravirt"]
    rc, v = cfg.get_long_rc("tsc_mode", dont_warn=True)
    if rc == 0:
        s = tsc_names[v] if 0 <= v < len(tsc_names) else None
        cfg.report.append('WARNING: specifying "tsc_mode" as an integer is deprecated. '
             "Please use the named parameter variant. "
             + (f'e.g. tsc_mode="{s}"' if s else ""))
        if s is None:
            raise _fail(f'ERROR: invalid value {v} for "tsc_mode"')
        dc.tsc_mode = s
    else:
        buf = cfg.get_string("tsc_mode")
        if buf is not None:
            if buf not in tsc_names:
                raise _fail(f'ERROR: invalid value "{buf}" for "tsc_mode"')
            dc.tsc_mode = buf

    v = cfg.get_long("rtc_timeoffset")
    if v is not None:
        dc.rtc_timeoffset = v & 0xFFFFFFFF
    if cfg.get_long("vncviewer") is not None:
        cfg.report.append('WARNING: ignoring "vncviewer" option. '
             'Use "-V" option of "xl create" to automatically spawn vncviewer.')
    dc.localtime = cfg.get_defbool("localtime")
    v = cfg.get_long("videoram")
    if v is not None:
        dc.video_memkb = c_uint64(v * 1024)
    v = cfg.get_long("max_event_channels")
    if v is not None:
        dc.event_channels = v & 0xFFFFFFFF


def _parse_boot(cfg: CfgFile, dc: DomainConfig, g: GlobalConfig) -> None:
    """kernel, ramdisk, device_tree, cmdline, driver_domain, acpi, bootloader*."""
    for key in ("kernel", "ramdisk", "device_tree"):
        buf = cfg.get_string(key)
        if buf is not None:
            setattr(dc, key, buf)
    dc.cmdline = _cmdline(cfg, cfg.report)
    dc.driver_domain = cfg.get_defbool("driver_domain")
    dc.acpi = cfg.get_defbool("acpi")

    buf = cfg.get_string("bootloader")
    if buf is not None:
        dc.bootloader = buf
    dc.bootloader_restrict = cfg.get_defbool("bootloader_restrict")
    if dc.bootloader_restrict is None and g.bootloader_restrict is not None:
        dc.bootloader_restrict = g.bootloader_restrict
    buf = cfg.get_string("bootloader_user")
    if buf is not None:
        dc.bootloader_user = buf
    rc, args = cfg.get_list_rc("bootloader_args", dont_warn=True)
    if rc == 0:
        dc.bootloader_args = [a for a in args if isinstance(a, str)]
    elif rc != ESRCH:
        buf = cfg.get_string("bootloader_args")
        if buf is not None:
            cfg.report.append('WARNING: Specifying "bootloader_args" as a string is deprecated. '
                 "Please use a list of arguments.")
            dc.bootloader_args = [a for a in re.split(r"[ \t\n]", buf) if a]
    if dc.type == "pv" and dc.bootloader is None and dc.kernel is None:  # NULL, as xl checks
        raise _fail("Neither kernel nor bootloader specified")


def _parse_timer_mode(cfg: CfgFile, dc: DomainConfig) -> None:
    timer_names = ["delay_for_missed_ticks", "no_delay_for_missed_ticks",
                   "no_missed_ticks_pending", "one_missed_tick_pending"]
    rc, v = cfg.get_long_rc("timer_mode", dont_warn=True)
    buf = None if rc == 0 else cfg.get_string("timer_mode", dont_warn=True)
    if rc == 0 or buf is not None:
        if dc.type == "pv":
            raise _fail('ERROR: "timer_mode" option is not supported for PV guests.', 3)
        if rc == 0:
            s = timer_names[v] if 0 <= v < 4 else None
            cfg.report.append('WARNING: specifying "timer_mode" as an integer is deprecated. '
                 "Please use the named parameter variant. "
                 + (f'e.g. timer_mode="{s}"' if s else ""))
            if s is None:
                raise _fail(f'ERROR: invalid value {v} for "timer_mode"')
            dc.timer_mode = s
        else:
            buf = cfg.get_string("timer_mode")
            if buf not in timer_names:
                raise _fail(f'ERROR: invalid value "{buf}" for "timer_mode"')
            dc.timer_mode = buf


def _parse_vbds(cfg: CfgFile, dc: DomainConfig, vbds: list) -> None:
    """disk=: the device parser is loaded only for a config that has disks."""
    from pyxl.toolstack.devices import DiskSpecError, parse_disk_spec

    for item in vbds:
        if not isinstance(item, str):
            break
        try:
            disk = parse_disk_spec(item, cfg.source)
        except DiskSpecError as e:
            raise _fail(e.message) from None
        dc.disks.append(disk)


def _parse_vifs(cfg: CfgFile, dc: DomainConfig, g: GlobalConfig, nics: list) -> None:
    """vif=, with xl.conf's defaults for what a spec leaves out."""
    from pyxl.toolstack.devices import NicDefaults, parse_nic_spec

    nic_defaults = NicDefaults(g.vif_default_script, g.vif_default_bridge,
                               g.vif_default_gatewaydev, g.vif_default_backend)
    for item in nics:
        if not isinstance(item, str):
            break
        nic, msgs = parse_nic_spec(item, cfg.source, nic_defaults)
        cfg.report.extend(msgs)
        nic.devid = len(dc.nics)
        dc.nics.append(nic)


def _strings(cfg: CfgFile, key: str) -> list[str]:
    """A device list's items, up to the first that is not a string (as
    xlu_cfg_get_listitem stops)."""
    out: list[str] = []
    for item in cfg.get_list(key) or []:
        if not isinstance(item, str):
            break
        out.append(item)
    return out


def _tokens(item: str) -> list[str]:
    """strtok(item, ","), each token without its leading spaces."""
    return [t.lstrip(" ") for t in item.split(",") if t]


def _parse_vtpms(cfg: CfgFile, dc: DomainConfig) -> None:
    """vtpm=: backend= is required; a token without `=` ends the spec."""
    from pyxl.toolstack.vdev import uuid_from_string

    for item in _strings(cfg, "vtpm"):
        vtpm: dict = {}
        for token in _tokens(item):
            key, eq, value = token.partition("=")
            if not eq:
                break
            if key == "backend":
                vtpm["backend_domname"] = value
            elif key == "uuid":
                vtpm["uuid"] = uuid_from_string(value)
                if vtpm["uuid"] is None:
                    raise _fail(f"Failed to parse vtpm UUID: {value}")
            else:
                raise _fail(f"Unknown string `{key}' in vtpm spec")
        if "backend_domname" not in vtpm:
            raise _fail("vtpm spec missing required backend field!")
        dc.vtpms.append(vtpm)


def _parse_vdispls(cfg: CfgFile, dc: DomainConfig) -> None:
    """vdispl=: the attach command's parser; any failure exits 1."""
    from pyxl.toolstack.vdev import SpecError, parse_vdispl_token

    for item in _strings(cfg, "vdispl"):
        vdispl: dict = {}
        try:
            for token in _tokens(item):
                cfg.report.extend(parse_vdispl_token(vdispl, token))
        except SpecError as e:
            raise _fail(e.message) from None
        if not vdispl.get("connectors"):
            raise _fail("At least one connector should be specified.")
        dc.vdispls.append(vdispl)


def _parse_vsnds(cfg: CfgFile, dc: DomainConfig) -> None:
    """vsnd=: a list of cards, each a list of `card|pcm|stream,...` items."""
    from pyxl.toolstack.vdev import SpecError, parse_vsnd_item

    for card in cfg.get_list("vsnd") or []:
        if not isinstance(card, list):
            raise _fail("Failed to get vsnd card list: Invalid argument")
        vsnd: dict = {}
        dc.vsnds.append(vsnd)
        try:
            for item in card:
                if not isinstance(item, str):
                    break
                parse_vsnd_item(vsnd, item)
        except SpecError as e:
            raise _fail(e.message) from None


def _parse_usbdevs(cfg: CfgFile, dc: DomainConfig) -> None:
    """usbdev=: xl's usbdev-attach parser, exit 1 on a bad token."""
    from pyxl.toolstack.usb import UsbDev, parse_usbdev_config

    for item in _strings(cfg, "usbdev"):
        dev = UsbDev()
        for token in _tokens(item):
            error = parse_usbdev_config(dev, token)
            if error:
                raise _fail(error)
        dc.usbdevs.append({"ctrl": dev.ctrl, "port": dev.port, "type": "hostdev",
                           "hostbus": dev.hostbus, "hostaddr": dev.hostaddr})


def _parse_vkbs(cfg: CfgFile, dc: DomainConfig) -> None:
    """vkb= (parse_vkb_list): each spec needs a backend-type; multi-touch
    needs its sizes. Every failure exits 1."""
    from pyxl.toolstack.vdev import SpecError, parse_vkb_token

    for item in _strings(cfg, "vkb"):
        vkb: dict = {}
        dc.vkbs.append(vkb)
        try:
            for token in _tokens(item):
                parse_vkb_token(vkb, token)
        except SpecError as e:
            raise _fail(e.message) from None
        if vkb.get("backend_type", "unknown") == "unknown":
            raise _fail("backend-type should be set in vkb spec")
        if any(vkb.get(f) for f in ("multi_touch_height", "multi_touch_width",
                                    "multi_touch_num_contacts")):
            vkb["feature_multi_touch"] = True
        elif vkb.get("feature_multi_touch"):
            raise _fail("multi-touch-width, multi-touch-height, multi-touch-num-contacts "
                        "should be set for multi touch in vkb spec")


def _parse_devices(cfg: CfgFile, dc: DomainConfig, g: GlobalConfig) -> None:
    """disk=, vtpm=, vdispl=, vsnd=, vif=, vif2=, usbctrl= and usbdev=, in
    xl's order."""
    vbds = cfg.get_list("disk")
    if vbds is not None:
        _parse_vbds(cfg, dc, vbds)
    if "vtpm" in cfg:
        _parse_vtpms(cfg, dc)
    if "vdispl" in cfg:
        _parse_vdispls(cfg, dc)
    if "vsnd" in cfg:
        _parse_vsnds(cfg, dc)
    nics = cfg.get_list("vif")
    if nics is not None:
        _parse_vifs(cfg, dc, g, nics)
    if cfg.get_list("vif2") is not None:
        cfg.report.append("WARNING: vif2: netchannel2 is deprecated and not supported by xl")

    # usb controllers
    ctrls = cfg.get_list("usbctrl")
    if ctrls is not None:
        for item in ctrls:
            if not isinstance(item, str):
                break
            ctrl = {"type": "auto", "devid": len(dc.usbctrls), "version": 0, "ports": 0}
            for tok in [t for t in item.split(",") if t]:
                tok = tok.lstrip(" ")
                key, eq, val = tok.partition("=")
                if eq and key == "type":
                    if val not in ("auto", "pv", "devicemodel", "qusb"):
                        raise _fail(f"Invalid usb controller type '{val}'")
                    ctrl["type"] = val
                elif eq and key in ("version", "ports"):
                    ctrl[key] = atoi(val)
                else:
                    raise _fail(f"Unknown string `{tok}' in usbctrl spec")
            dc.usbctrls.append(ctrl)
    if "usbdev" in cfg:
        _parse_usbdevs(cfg, dc)


def _parse_device_model(cfg: CfgFile, dc: DomainConfig) -> None:
    # device model
    buf = cfg.get_string("device_model")
    if buf is not None:
        cfg.report.append("WARNING: ignoring device_model directive.")
        cfg.report.append('WARNING: Use "device_model_override" instead if you really want a '
             "non-default device_model")
        if "stubdom-dm" in buf:
            if dc.type == "hvm":
                cfg.report.append('WARNING: Or use "device_model_stubdomain_override" if you '
                     " want to enable stubdomains")
            else:
                cfg.report.append('WARNING: ignoring "device_model_stubdomain_override" directive'
                     " for pv guest")
    buf = cfg.get_string("device_model_override")
    if buf is not None:
        dc.device_model = buf
    buf = cfg.get_string("device_model_version")
    if buf is not None:
        if buf != "qemu-xen":
            raise _fail(f'Unknown device_model_version "{buf}" specified')
        dc.device_model_version = "qemu_xen"
    elif dc.device_model:
        cfg.report.append("WARNING: device model override given without specific DM version")
    dc.device_model_stubdomain = cfg.get_defbool("device_model_stubdomain_override")
    for key, target in (("device_model_args", "extra"), ("device_model_args_pv", "extra_pv"),
                        ("device_model_args_hvm", "extra_hvm")):
        items = cfg.get_string_list(key)
        if items:
            dc.b_info_extra[target] = items


def _parse_display(cfg: CfgFile, dc: DomainConfig, ti: dict) -> None:
    """Top-level vnc/sdl (a vfb for PV, the HVM fields otherwise), dm_restrict,
    and the HVM keys read after the devices."""
    # top-level vnc/sdl: a vfb for PV, the hvm fields otherwise
    if dc.type == "pv":
        vnc_enabled = cfg.get_long("vnc") or 0
        if vnc_enabled:
            dc.vfbs.append({"devid": 0, "vnc": _vnc(cfg), "sdl": _sdl(cfg),
                            "keymap": cfg.get_string("keymap")})
            dc.vkbs.append({"devid": 0})
    else:
        ti["vnc"] = _vnc(cfg)
        ti["sdl"] = _sdl(cfg)
    dc.dm_restrict = cfg.get_defbool("dm_restrict")

    if dc.type == "hvm":
        _parse_hvm_late(cfg, dc, ti)


def _parse_tail(cfg: CfgFile, dc: DomainConfig) -> None:
    """vkb=, xend_suspend_evtchn_compat, msr_relaxed, vpmu, and pyxl's workload."""
    if "vkb" in cfg:
        _parse_vkbs(cfg, dc)
    dc.c_info_extra["xend_suspend_evtchn_compat"] = cfg.get_defbool("xend_suspend_evtchn_compat")
    v = cfg.get_defbool("msr_relaxed")
    if v is not None:
        dc.b_info_extra["arch_x86"] = {"msr_relaxed": v}
        cfg.report.append("WARNING: msr_relaxed will be removed in future versions.")
        cfg.report.append("If it fixes an issue you are having please report to "
             "xen-devel@lists.xenproject.org.")
    dc.vpmu = cfg.get_defbool("vpmu")

    # pyxl extension key: kept raw, never shown in libxl JSON
    raw = cfg.raw("workload")
    if raw is not None:
        if isinstance(raw, list):
            dc.workload = [x for x in raw if isinstance(x, str)]
        else:
            dc.workload = raw


def _vnc(cfg: CfgFile) -> dict:
    vnc = {"enable": cfg.get_defbool("vnc"), "listen": cfg.get_string("vnclisten"),
           "passwd": cfg.get_string("vncpasswd"), "display": 0,
           "findunused": None}
    v = cfg.get_long("vncdisplay")
    if v is not None:
        vnc["display"] = v
    vnc["findunused"] = cfg.get_defbool("vncunused")
    return vnc


def _sdl(cfg: CfgFile) -> dict:
    return {"enable": cfg.get_defbool("sdl"), "opengl": cfg.get_defbool("opengl"),
            "display": cfg.get_string("display"), "xauthority": cfg.get_string("xauthority")}


def _parse_hvm_early(cfg: CfgFile, dc: DomainConfig, ti: dict, report: list[str]) -> None:
    """The HVM block that precedes the device lists in parse_config_data."""
    if dc.kernel is not None and dc.kernel.rsplit("/", 1)[-1] == "hvmloader":
        report.append('WARNING: you seem to be using "kernel" directive to override HVM '
                      'guest firmware. Ignore that. Use "firmware_override" instead if you '
                      "really want a non-default firmware")
        dc.kernel = None
    for key, target in (("firmware_override", "firmware"),
                        ("bios_path_override", "system_firmware")):
        buf = cfg.get_string(key)
        if buf is not None:
            ti[target] = buf
    buf = cfg.get_string("bios")
    if buf is not None:
        if buf not in ("rombios", "seabios", "ovmf"):
            raise _fail(f'ERROR: invalid value "{buf}" for "bios"')
        ti["bios"] = buf
    elif "system_firmware" in ti:
        report.append("WARNING: bios_path_override given without specific bios name")
    for key, target in (("pae", "pae"), ("acpi_s3", "acpi_s3"), ("acpi_s4", "acpi_s4"),
                        ("acpi_laptop_slate", "acpi_laptop_slate"), ("nx", "nx"),
                        ("hpet", "hpet"), ("vpt_align", "vpt_align")):
        v = cfg.get_defbool(key)
        if v is not None:
            ti[target] = v
    v = cfg.get_defbool("apic")
    if v is not None:
        dc.apic = v
    v = cfg.get_defbool("hvm_pirq")
    if v is not None:
        ti["pirq"] = v
    rc, items = cfg.get_list_rc("viridian", dont_warn=True)
    if rc == 0:
        names = ["base", "freq", "time_ref_count", "reference_tsc", "hcall_remote_tlb_flush",
                 "apic_assist", "crash_ctl", "synic", "stimer", "hcall_ipi",
                 "ex_processor_masks", "no_vp_limit", "cpu_hotplug"]
        enable: set[int] = set()
        disable: set[int] = set()
        for item in items:
            if not isinstance(item, str):
                break
            if item == "all":
                enable |= set(range(64))
            elif item == "defaults":
                ti["viridian"] = True
            else:
                neg = item.startswith("!")
                nm = item[1:] if neg else item
                if nm not in names:
                    raise _fail(f"xl: unknown viridian enlightenment '{nm}'", 3)
                idx = names.index(nm)
                (disable if neg else enable).add(idx)
                (enable if neg else disable).discard(idx)
        if enable:
            ti["viridian_enable"] = sorted(enable)
        if disable:
            ti["viridian_disable"] = sorted(disable)
    elif rc != ESRCH:
        v = cfg.get_defbool("viridian", dont_warn=True)
        if v is not None:
            ti["viridian"] = v
    v = cfg.get_long("mmio_hole")
    if v is not None:
        size = v * 1024 * 1024
        if size < 0x10000000 or size > 0xF0000000:
            raise _fail(f'ERROR: invalid value {v} for "mmio_hole"')
        ti["mmio_hole_memkb"] = v * 1024
    for key, target in (("smbios_firmware", "smbios_firmware"),
                        ("acpi_firmware", "acpi_firmware")):
        buf = cfg.get_string(key)
        if buf is not None:
            ti[target] = buf


def _list_or_string(cfg: CfgFile, ti: dict, key: str) -> None:
    """Keys xl takes either as a list (`key_list`) or as one string (`key`)."""
    rc, items = cfg.get_list_rc(key, dont_warn=True)
    if rc == 0:
        ti[f"{key}_list"] = [x for x in items if isinstance(x, str)]
    elif rc != ESRCH:
        buf = cfg.get_string(key)
        if buf is None:
            raise _fail(f"xl: Unable to parse {key}.", 3)
        ti[key] = buf


def _parse_hvm_late(cfg: CfgFile, dc: DomainConfig, ti: dict) -> None:
    """vga, spice, serial, boot, usb... (after the device lists)."""
    buf = cfg.get_string("vga")
    if buf is not None:
        kinds = {"stdvga": "std", "cirrus": "cirrus", "none": "none", "qxl": "qxl"}
        if buf not in kinds:
            raise _fail(f'Unknown vga "{buf}" specified')
        ti["vga"] = {"kind": kinds[buf]}
    else:
        v = cfg.get_long("stdvga")
        if v is not None:
            ti["vga"] = {"kind": "std" if v else "cirrus"}
    buf = cfg.get_string("hdtype")
    if buf is not None:
        if buf not in ("ide", "ahci"):
            raise _fail(f'ERROR: invalid value "{buf}" for "hdtype"')
        ti["hdtype"] = buf
    buf = cfg.get_string("keymap")
    if buf is not None:
        ti["keymap"] = buf
    spice = {"enable": cfg.get_defbool("spice"), "port": cfg.get_long("spiceport") or 0,
             "tls_port": cfg.get_long("spicetls_port") or 0,
             "host": cfg.get_string("spicehost"),
             "disable_ticketing": cfg.get_defbool("spicedisable_ticketing"),
             "passwd": cfg.get_string("spicepasswd"),
             "agent_mouse": cfg.get_defbool("spiceagent_mouse"),
             "vdagent": cfg.get_defbool("spicevdagent"),
             "clipboard_sharing": cfg.get_defbool("spice_clipboard_sharing"),
             "usbredirection": cfg.get_long("spiceusbredirection") or 0,
             "image_compression": cfg.get_string("spice_image_compression"),
             "streaming_video": cfg.get_string("spice_streaming_video")}
    ti["spice"] = spice
    v = cfg.get_defbool("nographic")
    if v is not None:
        ti["nographic"] = v
    rc, v = cfg.get_long_rc("gfx_passthru", dont_warn=True)
    if rc == 0:
        ti["gfx_passthru"] = bool(v)
    else:
        buf = cfg.get_string("gfx_passthru")
        if buf is not None:
            if buf not in ("default", "igd"):
                raise _fail(f'ERROR: invalid value "{buf}" for "gfx_passthru"')
            ti["gfx_passthru_kind"] = buf
            ti["gfx_passthru"] = True
    _list_or_string(cfg, ti, "serial")
    buf = cfg.get_string("boot")
    if buf is not None:
        ti["boot"] = buf
    v = cfg.get_defbool("usb")
    if v is not None:
        ti["usb"] = v
    v = cfg.get_long("usbversion")
    if v is not None:
        ti["usbversion"] = v
    _list_or_string(cfg, ti, "usbdevice")
    v = cfg.get_defbool("vkb_device")
    if v is not None:
        ti["vkb_device"] = v
    buf = cfg.get_string("soundhw")
    if buf is not None:
        ti["soundhw"] = buf
    for key in ("xen_platform_pci", "xen_platform_pci_bar_uc"):
        v = cfg.get_defbool(key)
        if v is not None:
            ti[key] = v
    vnc = ti.get("vnc", {})
    if vnc.get("listen") and vnc.get("display") and ":" in vnc["listen"]:
        raise _fail("ERROR: Display specified both in vnclisten and vncdisplay!")
    buf = cfg.get_string("vendor_device")
    if buf is not None:
        if buf not in ("none", "xenserver"):
            raise _fail(f"xl: unknown vendor_device '{buf}'", 3)
        ti["vendor_device"] = buf
