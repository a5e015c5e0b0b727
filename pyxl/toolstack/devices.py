"""Device specifications as xl reads them: disks and vifs.

- ``parse_disk_spec`` follows libxlutil's disk lexer (libxlu_disk_l.l,
  libxlu_disk.c, docs/misc/xl-disk-configuration.txt): key=value items,
  positional ``target,format,vdev,access``, deprecated ``phy:``/``file:``...
  prefixes, and libxlutil's error messages.
- ``parse_nic_spec`` follows xl_parse.c parse_nic_config and libxlu_vif.c
  (rate=).
Messages are xl's; callers decide whether they are fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

from pyxl.cnum import INT_MAX, UINT32_MAX, ULONG_MAX, atoi, c_int, c_uint32, strtoul
from pyxl.errors import PyxlError

# The hotplug scripts Xen installs in /etc/xen/scripts (tools/hotplug/Linux).
HOST_HOTPLUG_SCRIPTS = ("block", "block-enbd", "block-nbd", "block-iscsi", "block-tap",
                        "block-drbd-probe", "block-dummy", "vif-bridge", "vif-route",
                        "vif-nat", "vif-openvswitch", "vif-setup", "vscsi",
                        "external-device-migrate", "colo-proxy-setup",
                        "remus-netbuf-setup")


# ---------------------------------------------------------------------------
# disks

@dataclass
class DiskSpec:
    """libxl_device_disk as xl fills it (field names and order from the IDL).

    Enums are stored as libxl's lowercase names; "unknown" is the unset value.
    Defbools are None (default) or True/False.
    """

    backend_domid: int = 0
    backend_domname: str | None = None
    pdev_path: str | None = None
    vdev: str | None = None
    backend: str = "unknown"          # phy | tap | qdisk | standalone
    format: str = "unknown"           # raw | qcow | qcow2 | vhd | empty | qed
    script: str | None = None
    removable: int = 0
    readwrite: int = 0
    is_cdrom: int = 0
    direct_io_safe: bool = False
    discard_enable: bool | None = None
    specification: str = "unknown"    # xen | virtio
    transport: str = "unknown"
    irq: int = 0
    base: int = 0
    colo_enable: bool | None = None
    colo_restore_enable: bool | None = None
    colo_host: str | None = None
    colo_port: int = 0
    colo_export: str | None = None
    active_disk: str | None = None
    hidden_disk: str | None = None
    trusted: bool | None = None
    grant_usage: bool | None = None
    spec: str = ""                    # the text as given (not in libxl's JSON)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "DiskSpec":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class DiskSpecError(PyxlError):
    """A disk spec libxlutil refuses; ``lines`` holds every message it printed."""

    def __init__(self, lines: list[str]):
        super().__init__(lines[0], 1)
        self.lines = lines


_V = r"[^,]*,?"
# (name, head regex, trailing-context regex or None); order is rule priority.
_DISK_RULES = [
    ("ws", r"[ \t\n]+", r"(?:[^ \t\n].*)?"),
    ("format", r"format=" + _V, None),
    ("cdrom", r"cdrom,?", None),
    ("devtype_cdrom", r"devtype=cdrom,?", None),
    ("devtype_disk", r"devtype=disk,?", None),
    ("devtype_bad", r"devtype=" + _V, None),
    ("access", r"access=" + _V, None),
    ("backend", r"backend=" + _V, None),
    ("backendtype", r"backendtype=" + _V, None),
    ("specification", r"specification=" + _V, None),
    ("vdev", r"vdev=" + _V, None),
    ("script", r"script=" + _V, None),
    ("direct_io_safe", r"direct-io-safe,?", None),
    ("discard", r"discard,?", None),
    ("no_discard", r"no-discard,?", None),
    ("colo", r"colo,?", None),
    ("no_colo", r"no-colo,?", None),
    ("colo_host", r"colo-host=" + _V, None),
    ("colo_port", r"colo-port=" + _V, None),
    ("colo_export", r"colo-export=" + _V, None),
    ("active_disk", r"active-disk=" + _V, None),
    ("hidden_disk", r"hidden-disk=" + _V, None),
    ("trusted", r"trusted,?", None),
    ("untrusted", r"untrusted,?", None),
    ("grant_usage_1", r"grant_usage=1,?", None),
    ("grant_usage_0", r"grant_usage=0,?", None),
    ("target", r"target=.*", None),
    ("unknown_param", r"[a-z][-a-z0-9]*=[^,],?", None),
    ("prefix_format", r"(?:raw|qcow2?|vhd):", r".*"),
    ("prefix_script", r"(?:iscsi|e?nbd|drbd):", r".*"),
    ("prefix_ignored", r"(?:tapdisk|tap2?|aio|ioemu|file|phy):", r".*"),
    ("prefix_unknown", r"[a-z][a-z0-9]*:", r"(?:[^a-z0-9].*)?"),
    ("positional", r"[^=,]*,|[^=,]+,?", None),
]
_disk_rules_re: list = []


def _disk_rules() -> list:
    """The compiled rules, built on first use (keeps pyxl's start-up fast)."""
    if not _disk_rules_re:
        _disk_rules_re.extend((n, re.compile(h), re.compile(t) if t else None)
                              for n, h, t in _DISK_RULES)
    return _disk_rules_re

_FORMATS = {"": "raw", "raw": "raw", "qcow": "qcow", "qcow2": "qcow2", "vhd": "vhd",
            "empty": "empty", "qed": "qed"}
_BACKENDS = ("phy", "tap", "qdisk", "standalone")


class _DiskCtx:
    def __init__(self, disk: DiskSpec, source: str):
        self.disk = disk
        self.source = source
        self.err = False
        self.lines: list[str] = []
        self.access_set = False
        self.had_depr_prefix = False
        self.spec = ""

    def error(self, erroneous: str | None, message: str) -> None:
        near = f": near `{erroneous}'" if erroneous is not None else ""
        self.lines.append(f"{self.source}: config parsing error in disk specification: "
                          f"{message}{near} in `{self.spec}'")
        self.err = True

    def savestring(self, what: str, attr: str, value: str) -> None:
        cur = getattr(self.disk, attr)
        if cur:
            self.error(value, f"{what} respecified")
            return
        setattr(self.disk, attr, value)

    def set_enum(self, attr: str, member: str, value: str, text: str) -> None:
        cur = getattr(self.disk, attr)
        if cur != "unknown" and cur != value:
            self.error(text, f"{member} respecified")
        else:
            setattr(self.disk, attr, value)

    def setformat(self, text: str) -> None:
        if text in _FORMATS:
            self.set_enum("format", "format", _FORMATS[text], text)
        else:
            self.error(text, "unknown value for format")

    def setaccess(self, text: str) -> None:
        if text in ("r", "ro"):
            self.disk.readwrite = 0
        elif text in ("rw", "w", ""):
            self.disk.readwrite = 1
        else:
            self.error(text, "unknown value for access")

    def vdev_and_devtype(self, text: str) -> bool:
        if ":" not in text:
            return False
        vdev, _, kind = text.rpartition(":")
        self.savestring("vdev", "vdev", vdev)
        if kind == "cdrom":
            self.disk.is_cdrom = 1
        elif kind == "disk":
            self.disk.is_cdrom = 0
        else:
            self.error(kind, "unknown deprecated type")
        return True


def _strip(text: str, delim: str = ",") -> str:
    return text[:-1] if text.endswith(delim) else text


def _after_eq(text: str) -> str:
    return text[text.index("=") + 1:]


def _lex_disk(ctx: _DiskCtx, spec: str) -> None:
    """Run the disk lexer over one spec string (flex longest-match rules)."""
    ctx.spec = spec
    pos, n = 0, len(spec)
    d = ctx.disk
    while pos < n:
        best = None
        for name, head, trail in _disk_rules():
            m = head.match(spec, pos)
            if not m:
                continue
            length = m.end() - pos
            if trail is not None:
                t = trail.match(spec, m.end())
                length += t.end() - m.end() if t else 0
            if length > 0 and (best is None or length > best[2]):
                best = (name, m.group(0), length)
        if best is None:
            # `.' then `<LEXERR>.*': the rest of the line is the bad syntax
            end = spec.find("\n", pos + 1)
            rest = spec[pos:] if end < 0 else spec[pos:end]
            if len(rest) == 1 and ord(rest) < 0x80:
                return      # flex hits the end first: dropped silently
            ctx.error(rest, "bad disk syntax")
            return
        name, text, _ = best
        pos += len(text)
        if name == "ws":
            continue
        if name == "format":
            ctx.setformat(_after_eq(_strip(text)))
        elif name in ("cdrom", "devtype_cdrom"):
            d.is_cdrom = 1
        elif name == "devtype_disk":
            d.is_cdrom = 0
        elif name == "devtype_bad":
            ctx.error(text, "unknown value for type")
        elif name == "access":
            ctx.setaccess(_after_eq(_strip(text)))
        elif name == "backend":
            ctx.savestring("backend", "backend_domname", _after_eq(_strip(text)))
        elif name == "backendtype":
            val = _after_eq(_strip(text))
            if val in _BACKENDS:
                ctx.set_enum("backend", "backend", val, val)
            else:
                ctx.error(val, "unknown value for backendtype")
        elif name == "specification":
            val = _after_eq(_strip(text))
            if val in ("xen", "virtio"):
                ctx.set_enum("specification", "specification", val, val)
            else:
                ctx.error(val, "unknown value for specification")
        elif name == "vdev":
            ctx.savestring("vdev", "vdev", _after_eq(_strip(text)))
        elif name == "script":
            ctx.savestring("script", "script", _after_eq(_strip(text)))
        elif name == "direct_io_safe":
            d.direct_io_safe = True
        elif name in ("discard", "no_discard"):
            d.discard_enable = name == "discard"
        elif name in ("colo", "no_colo"):
            d.colo_enable = name == "colo"
        elif name in ("colo_host", "colo_export", "active_disk", "hidden_disk"):
            ctx.savestring(name.replace("_", "-"), name, _after_eq(_strip(text)))
        elif name == "colo_port":
            val = _after_eq(_strip(text))
            port = atoi(val)
            if port:
                d.colo_port = port
            else:
                ctx.error(val, "unknown value for colo_port")
        elif name in ("trusted", "untrusted"):
            d.trusted = name == "trusted"
        elif name in ("grant_usage_1", "grant_usage_0"):
            d.grant_usage = name == "grant_usage_1"
        elif name == "target":
            ctx.savestring("target", "pdev_path", _after_eq(_strip(text)))
        elif name == "unknown_param":
            ctx.error(text, "unknown parameter")
        elif name == "prefix_format":
            ctx.had_depr_prefix = True
            ctx.setformat(_strip(text, ":"))
        elif name == "prefix_script":
            ctx.had_depr_prefix = True
            ctx.savestring("script", "script", "block-" + _strip(text, ":"))
        elif name == "prefix_ignored":
            ctx.had_depr_prefix = True
        elif name == "prefix_unknown":
            ctx.error(text, "unknown deprecated disk prefix")
            return
        else:   # positional
            text = _strip(text)
            if ctx.err:
                pass
            elif d.pdev_path is None:
                ctx.savestring("target", "pdev_path", text)
            elif not ctx.had_depr_prefix and d.format == "unknown":
                if not d.pdev_path and ctx.vdev_and_devtype(text):
                    d.format = "empty"
                else:
                    ctx.setformat(text)
            elif d.vdev is None:
                if not ctx.vdev_and_devtype(text):
                    ctx.savestring("vdev", "vdev", text)
            elif not ctx.access_set:
                ctx.access_set = True
                ctx.setaccess(text)
            else:
                ctx.error(text, "too many positional parameters")
                return


def parse_disk_spec(specs: str | list[str], source: str = "command line") -> DiskSpec:
    """Parse one disk (one spec string, or several that describe one disk).

    ``source`` is the name libxlutil prints: the config file for ``disk=``
    entries, ``command line`` for block-attach. Raises DiskSpecError (exit 1).
    """
    if isinstance(specs, str):
        specs = [specs]
    disk = DiskSpec(spec=",".join(specs))
    ctx = _DiskCtx(disk, source)
    disk.readwrite = 1
    for spec in specs:
        _lex_disk(ctx, spec)
        if ctx.err:
            raise DiskSpecError(ctx.lines)
    if disk.format == "unknown":
        disk.format = "raw"
    if disk.is_cdrom:
        disk.removable = 1
        disk.readwrite = 0
        if not disk.pdev_path:
            disk.format = "empty"
    if disk.vdev is None:
        ctx.error(None, "no vdev specified")
    elif disk.pdev_path is None and not disk.removable:
        ctx.error(None, "no target specified (and device not removable)")
    if ctx.err:
        raise DiskSpecError(ctx.lines)
    return disk


_VDEV_RE = r"^(xvd|hd|sd)([a-z]+)([0-9]{0,9})$"


def vdev_to_devid(vdev: str) -> int | None:
    """libxl__device_disk_dev_number: the numeric devid of a vdev name.

    ``xvda`` -> 51712, ``hda`` -> 768, ``sda`` -> 2048, ``d0p0`` forms and
    plain numbers are accepted too; None if libxl would refuse the name.
    """
    num, rest, err = strtoul(vdev, 0)
    if num is not None and not rest and not err and num <= INT_MAX:
        return num
    m = re.match(r"^d([0-9]{1,7})(?:p([0-9]{1,3}))?$", vdev)
    if m:
        disk, part = int(m.group(1)), int(m.group(2) or 0)
        if disk < (1 << 20) and part < 256:
            return (1 << 28) | (disk << 8) | part
        return None
    m = re.match(_VDEV_RE, vdev)
    if not m:
        return None
    prefix, letters, part_s = m.groups()
    disk = 0
    for ch in letters:
        disk = disk * 26 + (ord(ch) - ord("a") + 1)
    disk -= 1
    part = int(part_s) if part_s else 0
    if prefix == "xvd":
        if disk < 16 and part < 16:
            return (202 << 8) | (disk << 4) | part
        if part < 256:
            return (1 << 28) | (disk << 8) | part
        return None
    if prefix == "hd":
        if disk >= 4 or part >= 64:
            return None
        return ((3 if disk < 2 else 22) << 8) | ((disk & 1) << 6) | part
    if disk >= 16 or part >= 16:    # sd
        return None
    return (8 << 8) | (disk << 4) | part


# ---------------------------------------------------------------------------
# vifs

@dataclass
class NicSpec:
    """libxl_device_nic as xl fills it (IDL order, COLO fields left out)."""

    backend_domid: int = 0
    backend_domname: str | None = None
    devid: int = -1
    mtu: int = 0
    vlan: str | None = None
    model: str | None = None
    mac: str | None = None            # "00:16:3e:xx:xx:xx", None = not set
    ip: str | None = None
    bridge: str | None = None
    ifname: str | None = None
    script: str | None = None
    nictype: str = "unknown"          # vif | vif_ioemu
    rate_bytes_per_interval: int = 0
    rate_interval_usecs: int = 0
    gatewaydev: str | None = None
    trusted: bool | None = None
    extra: dict = field(default_factory=dict)   # colo_* and other kept strings
    spec: str = ""

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "NicSpec":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


_NIC_STRING_KEYS = {"bridge": "bridge", "gatewaydev": "gatewaydev", "ip": "ip",
                    "script": "script", "backend": "backend_domname", "vifname": "ifname",
                    "model": "model", "vlan": "vlan"}
_COLO_KEYS = (
    "forwarddev colo_sock_mirror_id colo_sock_mirror_ip colo_sock_mirror_port "
    "colo_sock_compare_sec_in_id colo_sock_compare_sec_in_ip colo_sock_compare_sec_in_port "
    "colo_sock_redirector0_id colo_sock_redirector0_ip colo_sock_redirector0_port "
    "colo_sock_redirector1_id colo_sock_redirector1_ip colo_sock_redirector1_port "
    "colo_sock_redirector2_id colo_sock_redirector2_ip colo_sock_redirector2_port "
    "colo_sock_compare_pri_in_id colo_sock_compare_pri_in_ip colo_sock_compare_pri_in_port "
    "colo_sock_compare_notify_id colo_sock_compare_notify_ip colo_sock_compare_notify_port "
    "colo_filter_mirror_queue colo_filter_mirror_outdev colo_filter_redirector0_queue "
    "colo_filter_redirector0_indev colo_filter_redirector0_outdev colo_filter_redirector1_queue "
    "colo_filter_redirector1_indev colo_filter_redirector1_outdev colo_compare_pri_in "
    "colo_compare_sec_in colo_compare_out colo_compare_notify_dev "
    "colo_sock_sec_redirector0_id colo_sock_sec_redirector0_ip colo_sock_sec_redirector0_port "
    "colo_sock_sec_redirector1_id colo_sock_sec_redirector1_ip colo_sock_sec_redirector1_port "
    "colo_filter_sec_redirector0_queue colo_filter_sec_redirector0_indev "
    "colo_filter_sec_redirector0_outdev colo_filter_sec_redirector1_queue "
    "colo_filter_sec_redirector1_indev colo_filter_sec_redirector1_outdev "
    "colo_filter_sec_rewriter0_queue colo_checkpoint_host colo_checkpoint_port").split()


def _strtoul(text: str, base: int) -> tuple[int | None, str]:
    """C strtoul: (value, rest); value None when there is no digit."""
    val, rest, _ = strtoul(text, base)
    return val, rest


def parse_ulong(text: str) -> int:
    """xl_parse.c parse_ulong: decimal strtoul, fatal (exit 1) if no digit or
    if it saturates; trailing text is ignored."""
    val, _ = _strtoul(text, 10)
    if val is None or val == ULONG_MAX:
        raise PyxlError(f'xl: failed to convert "{text}" to number', 1)
    return val


def parse_vif_rate(rate: str, source: str) -> tuple[int, int]:
    """libxlu_vif.c: ``10MB/s@20ms`` -> (bytes_per_interval, interval_usecs).

    Raises PyxlError (exit 1) with ``%s: config parsing error in vif: ...``.
    """
    def err(msg: str, what: str) -> PyxlError:
        return PyxlError(f"{source}: config parsing error in vif: {msg} in `{what}'", 1)

    rate_part, at, interval_part = rate.partition("@")
    if rate_part == "":
        raise err("no rate specified", rate)
    if not re.fullmatch(r"[0-9]+[GMK]?[Bb]/s", rate_part):
        raise err("invalid rate", rate_part)
    num, rest = _strtoul(rate_part, 0)     # strtoull base 0: a leading 0 is octal
    if not num or num > UINT32_MAX:
        raise err("rate overflow", rate_part)
    if rest[:1] == "G":
        num *= 1000 ** 3
    elif rest[:1] == "M":
        num *= 1000 ** 2
    elif rest[:1] == "K":
        num *= 1000
    if rest[:1] == "b" or rest[1:2] == "b":
        num //= 8
    interval = 50000
    if at:
        if not re.fullmatch(r"[0-9]+[mu]?s?", interval_part):
            raise err("invalid replenishment interval", interval_part)
        ival, rest = _strtoul(interval_part, 0)
        if not ival or ival > UINT32_MAX:
            raise err("replenishment interval overflow", interval_part)
        if rest[:1] in ("s", ""):
            ival *= 1000 * 1000
        elif rest[:1] == "m":
            ival *= 1000
        if ival > UINT32_MAX:
            raise err("replenishment interval overflow", interval_part)
        interval = ival
    if interval and num > ULONG_MAX // interval:
        raise err("rate overflow", rate)
    return num * interval // 1000000, interval


@dataclass
class NicDefaults:
    """xl.conf's vif.default.* values that seed every new vif."""

    script: str | None = None
    bridge: str | None = None
    gatewaydev: str | None = None
    backend: str | None = None

    @classmethod
    def from_global(cls, g) -> "NicDefaults":
        """The defaults a GlobalConfig (xl_conf.parse_global_config) holds."""
        return cls(g.vif_default_script, g.vif_default_bridge,
                   g.vif_default_gatewaydev, g.vif_default_backend)


def _parse_mac(current: str | None, text: str) -> tuple[str | None, bool]:
    """xl's mac= loop: (mac, ok). Octets are stored as they parse, so a bad
    one leaves those before it in place; a 32-bit value above 255 fails."""
    octets = [int(o, 16) for o in current.split(":")] if current else [0] * 6
    rest, ok = text, True
    for i in range(6):
        num, after = _strtoul(rest, 16)
        if num is None or c_uint32(num) > 255:
            ok = False
            break
        octets[i] = c_uint32(num)
        rest = after[1:]
    mac = ":".join(f"{o:02x}" for o in octets)
    return (None if not any(octets) else mac), ok


def parse_nic_spec(spec: str | list[str], source: str = "command line",
                   defaults: NicDefaults | None = None,
                   strict: bool = False) -> tuple[NicSpec, list[str]]:
    """A vif as xl_parse.c reads it: (nic, messages printed).

    A string is a ``vif=`` entry: items split on ``,`` with leading spaces
    skipped. A list is network-attach's arguments: each one item as given,
    commas and all. In a config file xl prints a bad item's message and
    carries on (``strict=False``); network-attach stops instead
    (``strict=True`` raises PyxlError, exit 1).
    """
    if isinstance(spec, str):
        items = [p.lstrip(" ") for p in spec.split(",") if p]
    else:
        items = list(spec)
        spec = ",".join(spec)
    nic = NicSpec(spec=spec)
    if defaults:
        nic.script = defaults.script
        nic.bridge = defaults.bridge
        nic.gatewaydev = defaults.gatewaydev
        nic.backend_domname = defaults.backend
    messages: list[str] = []

    def bad(msg: str) -> None:
        if strict:
            raise PyxlError(msg, 1)
        messages.append(msg)

    try:
        _nic_items(nic, items, source, messages, bad)
    except PyxlError as e:
        # what xl printed before stopping comes first
        raise PyxlError("\n".join(messages + [e.message]), e.exit_code) from None
    return nic, messages


def _nic_items(nic: NicSpec, items: list[str], source: str, messages: list[str],
               bad) -> None:
    """parse_nic_config for each item: fills ``nic``, notes go to ``messages``,
    a bad item goes to ``bad``; rate=, devid= and mtu= errors raise."""
    for item in items:
        key, eq, val = item.partition("=")
        if not eq:
            key, val = None, None
        if key == "type":
            if val == "vif":
                nic.nictype = "vif"
            elif val == "ioemu":
                nic.nictype = "vif_ioemu"
            else:
                bad("Invalid parameter `type'.")
        elif key == "mac":
            nic.mac, ok = _parse_mac(nic.mac, val)
            if not ok:
                bad("Invalid parameter `mac'.")
        elif key == "netdev":
            messages.append("the netdev parameter is deprecated, please use gatewaydev instead")
            nic.gatewaydev = val
        elif key in _NIC_STRING_KEYS:
            setattr(nic, _NIC_STRING_KEYS[key], val)
        elif key == "rate":
            nic.rate_bytes_per_interval, nic.rate_interval_usecs = parse_vif_rate(val, source)
        elif key in _COLO_KEYS:
            nic.extra["coloft_forwarddev" if key == "forwarddev" else key] = val
        elif key == "accel":
            messages.append("the accel parameter for vifs is currently not supported")
        elif key in ("devid", "mtu"):
            setattr(nic, key, c_int(parse_ulong(val)))  # ints in libxl_device_nic
        elif item == "trusted":
            nic.trusted = True
        elif item == "untrusted":
            nic.trusted = False
        else:
            bad(f"unrecognized argument `{item}'")
