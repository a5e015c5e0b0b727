"""PCI passthrough as libxl does it: the assignable list (pciback), a guest's
pci devices (libxl_pci.c) and the spec parser xl uses (libxlu_pci.c).

The host's PCI devices come from its boot options. Which Domain-0 driver
holds each device (its own, pciback, or none) and which domain Xen has given
it to (DOMID_IO while it waits in quarantine, or a guest) are the machine's
state, kept in the host's meta as JSON; what libxl itself remembers (a name,
the driver to rebind to, the domid using it) lives where libxl keeps it, in
XenStore under /libxl/pci. A PV guest's devices are listed in its pci
backend directory, which pciback and the guest's pcifront walk to Connected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyxl.errors import ERROR_FAIL, ERROR_INVAL, ERROR_NOTFOUND, LibxlError

if TYPE_CHECKING:
    from pyxl.toolstack.ctx import Ctx

SYSFS_PCI_DEV = "/sys/bus/pci/devices"
SYSFS_PCIBACK_DRIVER = "/sys/bus/pci/drivers/pciback"
PCI_INFO_PATH = "/libxl/pci"
FUNC_ALL = 0xFFFFFFFF  # LIBXL_PCI_FUNC_ALL
DOMID_IO = 0x7FF1
META_KEY = "pci_devices"
RDM_POLICIES = ("strict", "relaxed")
_SPACE = " \t\n\v\f\r"
_HEX = "0123456789abcdefABCDEF"

# XenbusState values the pci backend and frontend walk through.
INITIALISING, INITWAIT, INITIALISED, CONNECTED, CLOSING, CLOSED, RECONFIGURING = 1, 2, 3, 4, 5, 6, 7


class PciError(LibxlError):
    """A libxl pci call failed with `rc`; its log lines are already out."""

    def __init__(self, rc: int, exit_code: int = 1):
        super().__init__("", exit_code)
        self.rc = rc


@dataclass(repr=False, eq=False)
class DevicePci:
    """libxl_device_pci, with the fields xl's parser and libxl set."""

    domain: int = 0
    bus: int = 0
    dev: int = 0
    func: int = 0
    vdevfn: int = 0
    vfunc_mask: int = 0
    options: dict = field(default_factory=dict)  # msitranslate, permissive, ... as parsed
    name: str | None = None

    @property
    def bdf(self) -> str:
        return bdf_text(self.domain, self.bus, self.dev, self.func)

    def to_config(self) -> dict:
        """The dict a DomainConfig keeps for xl.cfg's pci= (libxl's JSON keys)."""
        d = {"domain": self.domain, "bus": self.bus, "dev": self.dev, "func": self.func,
             "vdevfn": self.vdevfn}
        if self.vfunc_mask == FUNC_ALL:
            d["vfunc_mask"] = FUNC_ALL
        d.update(self.options)
        if self.name is not None:
            d["name"] = self.name
        return d

    @classmethod
    def from_config(cls, d: dict) -> "DevicePci":
        options = {k: v for k, v in d.items()
                   if k in ("msitranslate", "power_mgmt", "permissive", "seize", "rdm_policy")}
        return cls(d.get("domain", 0), d.get("bus", 0), d.get("dev", 0), d.get("func", 0),
                   d.get("vdevfn", 0), d.get("vfunc_mask", 0), options, d.get("name"))


def bdf_text(domain: int, bus: int, dev: int, func: int) -> str:
    """PCI_BDF: %04x:%02x:%02x.%01x."""
    return f"{domain:04x}:{bus:02x}:{dev:02x}.{func:01x}"


# --- libxlu_pci.c: the spec parser ------------------------------------------------


def _scan_hex(s: str, i: int) -> tuple[int, int] | None:
    """sscanf's %x at s[i:]: (unsigned int value, end) or None on no match."""
    n = len(s)
    while i < n and s[i] in _SPACE:
        i += 1
    neg = i < n and s[i] == "-"
    if i < n and s[i] in "+-":
        i += 1
    if s[i:i + 2] in ("0x", "0X") and i + 2 < n and s[i + 2] in _HEX:
        i += 2
    start = i
    while i < n and s[i] in _HEX:
        i += 1
    if i == start:
        return None
    value = min(int(s[start:i], 16), (1 << 64) - 1)
    if neg:
        value = -value
    return value & 0xFFFFFFFF, i


def _scan(s: str, i: int, fmt: list[str]) -> tuple[list[int], int] | None:
    """sscanf with %x items ("x") and literal characters; all must match."""
    values = []
    for item in fmt:
        if item == "x":
            got = _scan_hex(s, i)
            if got is None:
                return None
            values.append(got[0])
            i = got[1]
        elif s[i:i + 1] == item:
            i += 1
        else:
            return None
    return values, i


def parse_bdf(pci: DevicePci, s: str, i: int = 0) -> int | None:
    """libxlu's parse_bdf from s[i:]: where it stopped, or None if malformed."""
    j, colons = i, 0
    while j < len(s) and (s[j] in _HEX or s[j] == ":"):
        colons += s[j] == ":"
        j += 1
    if colons == 1:
        got = _scan(s, i, ["x", ":", "x", "."])
        if got is None:
            return None
        (bus, dev), i = got
        domain = 0
    elif colons == 2:
        got = _scan(s, i, ["x", ":", "x", ":", "x", "."])
        if got is None:
            return None
        (domain, bus, dev), i = got
    else:
        return None
    if domain > 0xFFFF or bus > 0xFF or dev > 0x1F:
        return None
    if s[i:i + 1] == "*":
        pci.vfunc_mask, func = FUNC_ALL, 0
        i += 1
    else:
        got = _scan_hex(s, i)
        if got is None or got[0] > 7:
            return None
        func, i = got
        pci.vfunc_mask = 1
    pci.domain, pci.bus, pci.dev, pci.func = domain, bus, dev, func
    return i


def _parse_vslot(s: str, i: int = 0) -> tuple[int, int] | None:
    got = _scan_hex(s, i)
    if got is None or got[0] > 0x1F:
        return None
    return got[0] << 3, got[1]


def parse_pci_bdf(text: str) -> DevicePci | None:
    """xlu_pci_parse_bdf: a BDF at the start of `text` (what follows is ignored)."""
    pci = DevicePci()
    return pci if parse_bdf(pci, text) is not None else None


def parse_spec_string(text: str, defaults: dict | None = None) -> tuple[DevicePci | None, str]:
    """xlu_pci_parse_spec_string: (the device or None, what libxlu reported
    on the way, which it prints without a newline)."""
    pci = DevicePci(options=dict(defaults or {}))
    bdf_present = name_present = False
    i = parse_bdf(pci, text)
    if i is not None:
        bdf_present = True
        if text[i:i + 1] == "@":
            got = _parse_vslot(text, i + 1)
            if got is None:
                return None, ""
            pci.vdevfn, i = got
        if text[i:i + 1] == ",":
            i += 1
        elif i < len(text):
            return None, ""
    else:
        i = 0
    while i < len(text):
        eq = text.find("=", i)
        if eq < 0:
            return None, ""
        key = text[i:eq]
        end = text.find(",", eq + 1)
        end = len(text) if end < 0 else end
        val = text[eq + 1:end]
        i = end + 1 if end < len(text) else end
        ok, report = _spec_option(pci, key, val)
        if key == "bdf" and ok:
            bdf_present = True
        elif key == "name":
            name_present = True
        if not ok:
            return None, report
    if bdf_present == name_present:
        return None, ""
    return pci, ""


def _spec_option(pci: DevicePci, key: str, val: str) -> tuple[bool, str]:
    """One key=value of a PCI_SPEC_STRING: (accepted, libxlu's report)."""
    from pyxl.cnum import atoi

    if key == "bdf":
        return parse_bdf(pci, val) is not None, ""
    if key == "vslot":
        got = _parse_vslot(val)
        if got is None:
            return False, ""
        pci.vdevfn = got[0]
    elif key in ("permissive", "msitranslate", "seize", "power_mgmt"):
        pci.options[key] = bool(atoi(val))
    elif key == "rdm_policy":
        if val.lower() not in RDM_POLICIES:
            return False, f"Unknown RDM policy: {val}"
        pci.options[key] = val.lower()
    elif key == "name":
        pci.name = val
    else:
        return False, f"Unknown PCI_SPEC_STRING option: {key}"
    return True, ""


# --- the host's devices and who holds them ----------------------------------------

# Domain-0's driver for a device, by what lspci calls it.
_DOM0_DRIVERS = (("I350", "igb"), ("82576", "igb"), ("82599", "ixgbe"), ("X710", "i40e"),
                 ("X540", "ixgbe"), ("BCM57", "tg3"), ("RTL81", "r8169"), ("AHCI", "ahci"),
                 ("NVMe", "nvme"), ("Non-Volatile", "nvme"), ("MegaRAID", "megaraid_sas"),
                 ("SAS3008", "mpt3sas"), ("SAS2008", "mpt2sas"), ("xHCI", "xhci_hcd"))


def dom0_driver(description: str) -> str | None:
    for word, driver in _DOM0_DRIVERS:
        if word in description:
            return driver
    return None


def host_devices(ctx: Ctx) -> dict[str, str]:
    """The host's PCI devices: BDF -> description, from its boot options."""
    from pyxl.sim.boot import pci_devices

    return pci_devices(ctx.host.boot)


class HostPci:
    """Per device: the Domain-0 driver bound to it ("" none) and the domain
    Xen has assigned it to (None: the hardware domain). Only what differs
    from boot is stored."""

    def __init__(self, ctx: Ctx):
        self._ctx = ctx
        self.devices = host_devices(ctx)
        self._state: dict = json.loads(ctx.host.meta.get(META_KEY, "{}"))

    def exists(self, bdf: str) -> bool:
        return bdf in self.devices

    def driver(self, bdf: str) -> str | None:
        st = self._state.get(bdf)
        if st is not None:
            return st["driver"] or None
        return dom0_driver(self.devices.get(bdf, ""))

    def owner(self, bdf: str) -> int | None:
        st = self._state.get(bdf)
        return st["owner"] if st is not None else None

    def set(self, bdf: str, *, driver: str | None = ..., owner: int | None = ...) -> None:
        st = {"driver": self.driver(bdf) or "", "owner": self.owner(bdf)}
        if driver is not ...:
            st["driver"] = driver or ""
        if owner is not ...:
            st["owner"] = owner
        self._state[bdf] = st
        self._ctx.host.set_meta(META_KEY, json.dumps(self._state, sort_keys=True))

    def pciback(self) -> list[str]:
        """The devices bound to pciback, as its sysfs directory lists them."""
        return sorted(b for b in self.devices if self.driver(b) == "pciback")


# --- libxl's own notes in XenStore (/libxl/pci/<BDF>/...) ----------------------


def _info_path(pci: DevicePci, node: str | None = None) -> str:
    base = f"{PCI_INFO_PATH}/{pci.domain:04x}-{pci.bus:02x}-{pci.dev:02x}-{pci.func:01x}"
    return f"{base}/{node}" if node else base


def _xs_read(xs, path: str) -> str | None:
    from pyxl.xenstore.errors import XenStoreError

    try:
        return xs.read(path).decode("utf-8", "surrogateescape")
    except XenStoreError:
        return None


def _xs_rm(xs, path: str) -> None:
    from pyxl.xenstore.errors import XenStoreError

    try:
        xs.rm(path)
    except XenStoreError:
        pass


def _xs_dir(xs, path: str) -> list[str]:
    from pyxl.xenstore.errors import XenStoreError

    try:
        return xs.directory(path)
    except XenStoreError:
        return []


def _info_remove(xs, pci: DevicePci, node: str) -> None:
    """pci_info_xs_remove: the node alone (libxl leaves the device's directory)."""
    _xs_rm(xs, _info_path(pci, node))


def _log(ctx: Ctx, level: str, line: int, func: str, msg: str, domid: int | None = None,
         errno: str | None = None) -> None:
    ctx.log(level, f"libxl_pci.c:{line}:{func}", msg, domid, errno)


# --- pci-assignable-add/-remove/-list -------------------------------------------------


def assignable_add(ctx: Ctx, pci: DevicePci, rebind: bool = True) -> None:
    """libxl_device_pci_assignable_add: bind to pciback, quarantine with DOMID_IO."""
    where = "libxl__device_pci_assignable_add"
    name, bdf = pci.name, pci.bdf
    if name is not None:
        if len(name.encode("utf-8", "surrogateescape")) > 64:
            _log(ctx, "error", 781, where, "Name too long")
            raise PciError(ERROR_FAIL)
        if not all("!" <= c <= "~" for c in name):
            _log(ctx, "error", 787, where, "Names may only include printable characters")
            raise PciError(ERROR_FAIL)
    host, xs = HostPci(ctx), ctx.xs()
    if not host.exists(bdf):
        _log(ctx, "error", 796, where, f"Couldn't lstat {SYSFS_PCI_DEV}/{bdf}",
             errno="No such file or directory")
        raise PciError(ERROR_FAIL)
    if host.driver(bdf) == "pciback":
        _log(ctx, "warning", 806, where, f"{bdf} already assigned to pciback")
    else:
        driver = host.driver(bdf)
        if rebind:
            if driver:
                xs.write(_info_path(pci, "driver_path"),
                         f"/sys/bus/pci/drivers/{driver}".encode())
            else:
                saved = _xs_read(xs, _info_path(pci, "driver_path"))
                if saved is not None:
                    _log(ctx, "info", 823, where,
                         f"{bdf} not bound to a driver, will be rebound to {saved}")
                else:
                    _log(ctx, "warning", 826, where,
                         f"{bdf} not bound to a driver, will not be rebound.")
        else:
            _info_remove(xs, pci, "driver_path")
        host.set(bdf, driver="pciback")
    if name is not None:
        xs.write(_info_path(pci, "name"), name.encode("utf-8", "surrogateescape"))
    else:
        _info_remove(xs, pci, "name")
    if host.owner(bdf) not in (None, DOMID_IO):
        _log(ctx, "error", 852, where, f"failed to quarantine {bdf}")
        raise PciError(ERROR_FAIL)
    host.set(bdf, owner=DOMID_IO)


def name2bdf(ctx: Ctx, pci: DevicePci) -> bool:
    """Find the device libxl named `pci.name`; fills in its BDF."""
    xs = ctx.xs()
    for entry in _xs_dir(xs, PCI_INFO_PATH):
        parts = entry.split("-")
        if len(parts) != 4:
            continue
        try:
            dom, bus, dev, func = (int(p, 16) for p in parts)
        except ValueError:
            continue
        probe = DevicePci(dom, bus, dev, func)
        if _xs_read(xs, _info_path(probe, "name")) == pci.name:
            pci.domain, pci.bus, pci.dev, pci.func = dom, bus, dev, func
            return True
    return False


def assignable_remove(ctx: Ctx, pci: DevicePci, rebind: bool = False) -> None:
    """libxl_device_pci_assignable_remove: out of quarantine and pciback,
    back to Domain-0's driver if asked (-r)."""
    where = "libxl__device_pci_assignable_remove"
    if pci.name is not None and not name2bdf(ctx, pci):
        raise PciError(ERROR_NOTFOUND)
    host, xs, bdf = HostPci(ctx), ctx.xs(), pci.bdf
    if not host.exists(bdf) or host.owner(bdf) != DOMID_IO:
        _log(ctx, "error", 910, where, f"failed to de-quarantine {bdf}")
        raise PciError(ERROR_FAIL)
    host.set(bdf, owner=None)
    if host.driver(bdf) == "pciback":
        host.set(bdf, driver="")
    else:
        _log(ctx, "warning", 921, where, "Not bound to pciback")
    driver_path = _xs_read(xs, _info_path(pci, "driver_path"))
    if driver_path is not None:
        if rebind:
            _log(ctx, "info", 929, where, f"Rebinding to driver at {driver_path}")
            host.set(bdf, driver=driver_path.rsplit("/", 1)[-1])
            _info_remove(xs, pci, "driver_path")
    elif rebind:
        _log(ctx, "warning", 942, where, "Couldn't find path for original driver; not rebinding")
    _info_remove(xs, pci, "name")


def assignable_list(ctx: Ctx) -> list[tuple[str, str | None]]:
    """libxl_device_pci_assignable_list: pciback's devices no domain is using,
    with the names libxl gave them."""
    host, xs = HostPci(ctx), ctx.xs()
    if not host.devices:
        return []
    rows = []
    for bdf in host.pciback():
        pci = parse_pci_bdf(bdf)
        if _xs_read(xs, _info_path(pci, "domid")) is not None:
            continue
        rows.append((bdf, _xs_read(xs, _info_path(pci, "name"))))
    return rows


# --- a domain's pci devices (pci-attach/-detach/-list, pci= at create) -----------------


def backend_path(domid: int) -> str:
    return f"/local/domain/0/backend/pci/{domid}/0"


def frontend_path(domid: int) -> str:
    return f"/local/domain/{domid}/device/pci/0"


def _domain_type(ctx: Ctx, domid: int) -> str | None:
    """libxl__domain_type: the domain's type, or None (logged) if there is none."""
    d = ctx.hv.domains.get(domid)
    if d is None:
        ctx.log("error", "libxl_dom.c:37:libxl__domain_type", "unable to get dominfo", domid,
                "No such process")
        return None
    return d.type


def _aocomplete(ctx: Ctx, action: str, rc: int) -> PciError:
    ctx.log("error", "libxl_device.c:1481:device_addrm_aocomplete", f"unable to {action} device")
    return PciError(rc)


def _add_failed(ctx: Ctx, domid: int, pci: DevicePci, rc: int) -> None:
    """device_pci_add_done on failure: say so and forget the domid."""
    where = "device_pci_add_done"
    if pci.name is not None:
        _log(ctx, "error", 1708, where,
             f"libxl__device_pci_add failed for PCI device '{pci.name}' (rc {rc})", domid)
    else:
        _log(ctx, "error", 1714, where, "libxl__device_pci_add failed for PCI device "
             f"{pci.domain:x}:{pci.bus:x}:{pci.dev:x}.{pci.func:x} (rc {rc})", domid)
    _info_remove(ctx.xs(), pci, "domid")


def pci_add(ctx: Ctx, domid: int, pci: DevicePci) -> None:
    """libxl_device_pci_add (pci-attach)."""
    try:
        device_pci_add(ctx, domid, pci)
    except PciError as e:
        raise _aocomplete(ctx, "add", e.rc) from None


def device_pci_add(ctx: Ctx, domid: int, pci: DevicePci, starting: bool = False) -> None:
    """libxl__device_pci_add; PciError (its lines logged) on failure."""
    try:
        _pci_add(ctx, domid, pci, starting)
    except PciError as e:
        _add_failed(ctx, domid, pci, e.rc)
        raise


def _pci_add(ctx: Ctx, domid: int, pci: DevicePci, starting: bool) -> None:
    where = "libxl__device_pci_add"
    if pci.name is not None and not name2bdf(ctx, pci):
        raise PciError(ERROR_NOTFOUND)
    host = HostPci(ctx)
    if _domain_type(ctx, domid) == "hvm" and host.owner(pci.bdf) not in (None, DOMID_IO):
        _log(ctx, "error", 1563, where, f"PCI device {pci.bdf} already assigned to a "
             "different guest?", domid)
        raise PciError(-1)
    pci.options.setdefault("rdm_policy", "strict")
    if pci.options.get("seize") and host.driver(pci.bdf) != "pciback":
        assignable_add(ctx, DevicePci(pci.domain, pci.bus, pci.dev, pci.func))
    if pci.bdf not in {b for b, _ in assignable_list(ctx)}:
        _log(ctx, "error", 1582, where, f"PCI device {pci.domain:x}:{pci.bus:x}:{pci.dev:x}."
             f"{pci.func:x} is not assignable", domid)
        raise PciError(ERROR_FAIL)
    ctx.xs().write(_info_path(pci, "domid"), str(domid).encode())
    if pci.vfunc_mask == FUNC_ALL:
        _pick_function(ctx, domid, pci, host)
    kind = _domain_type(ctx, domid)
    if kind is None:
        raise PciError(ERROR_FAIL)
    if kind == "hvm" and not pci.vdevfn:
        pci.vdevfn = _qemu_slot(ctx, domid)
    host.set(pci.bdf, owner=domid)
    _add_xenstore(ctx, domid, pci, starting, kind)
    if not starting:   # device_add_domain_config: `list -l` shows it
        from pyxl.toolstack.device import save_config

        save_config(ctx, domid, "pcidevs", pci.to_config(),
                    lambda old: _same_function(old, pci))


def _same_function(entry: dict, pci: DevicePci) -> bool:
    """libxl's pci compare: one stored pcidevs entry names pci's function."""
    return (entry.get("domain", 0), entry.get("bus", 0), entry.get("dev", 0),
            entry.get("func", 0)) == (pci.domain, pci.bus, pci.dev, pci.func)



def _pciback_functions(ctx, host, pci) -> list[int] | None:
    """pci_multifunction_check: the functions of pci's slot on the host, in
    order, or None (logged) if one of them is not pciback's."""
    funcs = []
    for bdf in sorted(host.devices):
        p = parse_pci_bdf(bdf)
        if (p.domain, p.bus, p.dev) != (pci.domain, pci.bus, pci.dev):
            continue
        if host.driver(bdf) != "pciback":
            _log(ctx, "error", 1012, "pci_multifunction_check",
                 f"{bdf} is not assigned to pciback driver")
            return None
        funcs.append(p.func)
    return funcs

def _pick_function(ctx: Ctx, domid: int, pci: DevicePci, host: HostPci) -> None:
    """BDF.*: every function of the device must be pciback's; libxl goes on
    with the highest one, in the v-slot's function of the same number."""
    if not pci.vdevfn >> 3:
        _log(ctx, "error", 1661, "device_pci_add_stubdom_done",
             "Must specify a v-slot for multi-function devices", domid)
        raise PciError(ERROR_INVAL)
    funcs = _pciback_functions(ctx, host, pci)
    if funcs is None:
        raise PciError(ERROR_FAIL)
    pci.func = max(funcs)
    pci.vdevfn = (pci.vdevfn & ~7) | pci.func


def _qemu_slot(ctx: Ctx, domid: int) -> int:
    """The slot QEMU gives a hot-plugged device: the first free one after its
    own (host bridge, PIIX3, VGA, the Xen platform device)."""
    used = {p.vdevfn >> 3 for p in device_pci_list(ctx, domid)}
    slot = 4
    while slot in used:
        slot += 1
    return slot << 3


def _add_xenstore(ctx: Ctx, domid: int, pci: DevicePci, starting: bool, kind: str) -> None:
    """libxl__device_pci_add_xenstore, then pciback (and a PV guest's pcifront)
    answering, as the drivers would."""
    from pyxl.xenstore.perms import Perm

    xs, be = ctx.xs(), backend_path(domid)
    num_devs = _xs_read(xs, f"{be}/num_devs")
    if num_devs is not None and not starting and kind == "pv":
        _wait_for_backend(ctx, be)
    num = _atoi(num_devs)
    if num_devs is None:
        fe = frontend_path(domid)
        _xs_rm(xs, be)
        xs.mkdir(be)
        xs.set_perms(be, [Perm(0, "n"), Perm(domid, "r")])
        name = _xs_read(xs, f"/local/domain/{domid}/name") or ""
        for key, value in (("frontend", fe), ("frontend-id", str(domid)), ("online", "1"),
                           ("state", str(INITIALISING)), ("domain", name)):
            xs.write(f"{be}/{key}", value.encode("utf-8", "surrogateescape"))
        _xs_rm(xs, fe)
        xs.mkdir(fe)
        xs.set_perms(fe, [Perm(domid, "n"), Perm(0, "r")])
        for key, value in (("backend", be), ("backend-id", "0"),
                           ("state", str(INITIALISING))):
            xs.write(f"{fe}/{key}", value.encode())
    o = pci.options
    nodes = [(f"key-{num}", pci.bdf), (f"dev-{num}", pci.bdf)]
    if pci.vdevfn:
        nodes.append((f"vdevfn-{num}", f"{pci.vdevfn:x}"))
    if pci.name is not None:
        nodes.append((f"name-{num}", pci.name))
    nodes += [(f"opts-{num}", f"msitranslate={int(bool(o.get('msitranslate')))},"
               f"power_mgmt={int(bool(o.get('power_mgmt')))},"
               f"permissive={int(bool(o.get('permissive')))},"
               f"rdm_policy={o.get('rdm_policy', 'strict')}"),
              (f"state-{num}", str(INITIALISING)), ("num_devs", str(num + 1))]
    if num and not starting:
        nodes.append(("state", str(RECONFIGURING)))
    for key, value in nodes:
        xs.write(f"{be}/{key}", value.encode("utf-8", "surrogateescape"))
    _pciback_setup(ctx, domid, kind)


def _atoi(text: str | None) -> int:
    from pyxl.cnum import atoi

    return atoi(text) if text is not None else 0


def _wait_for_backend(ctx: Ctx, be: str) -> None:
    """libxl__wait_for_backend(Connected): the simulated drivers answer at
    once, so a backend that is not Connected now never will be."""
    state = _xs_read(ctx.xs(), f"{be}/state")
    if state is None:
        ctx.log("error", "libxl_device.c:1455:libxl__wait_for_backend",
                f"Backend {be} does not exist")
        raise PciError(ERROR_FAIL)
    if state != str(CONNECTED):
        ctx.log("error", "libxl_device.c:1465:libxl__wait_for_backend", f"Backend {be} not ready")
        raise PciError(ERROR_FAIL)


def _pciback_setup(ctx: Ctx, domid: int, kind: str) -> None:
    """Linux's xen-pciback, virtual-bus mode: each new device gets the first
    free slot of bus 0 in the guest (vdev-N, %02x function as the protocol
    has it) and state-N Initialised; a PV guest's pcifront then connects."""
    xs, be = ctx.xs(), backend_path(domid)
    num = _atoi(_xs_read(xs, f"{be}/num_devs"))
    used = {}
    for i in range(num):
        vdev = _xs_read(xs, f"{be}/vdev-{i}")
        if vdev is not None:
            used[_xs_read(xs, f"{be}/dev-{i}")[:-2]] = int(vdev[8:10], 16)
    for i in range(num):
        if _xs_read(xs, f"{be}/state-{i}") != str(INITIALISING):
            continue
        dev = _xs_read(xs, f"{be}/dev-{i}")
        phys_slot = dev[:-2]
        if phys_slot not in used:
            used[phys_slot] = min(set(range(32)) - set(used.values()))
        xs.write(f"{be}/vdev-{i}", f"0000:00:{used[phys_slot]:02x}.{int(dev[-1], 16):02x}"
                 .encode())
        xs.write(f"{be}/state-{i}", str(INITIALISED).encode())
    if _xs_read(xs, f"{be}/root_num") is None:
        xs.write(f"{be}/root-0", b"0000:00")
        xs.write(f"{be}/root_num", b"1")
    if kind == "pv":
        xs.write(f"{be}/state", str(CONNECTED).encode())
        xs.write(f"{frontend_path(domid)}/state", str(CONNECTED).encode())
    else:
        xs.write(f"{be}/state", str(INITIALISED).encode())


def device_pci_list(ctx: Ctx, domid: int) -> list[DevicePci]:
    """libxl_device_pci_list: the devices in the domain's pci backend."""
    xs, be = ctx.xs(), backend_path(domid)
    num_devs = _xs_read(xs, f"{be}/num_devs")
    if num_devs is None:
        return []
    out = []
    for i in range(_atoi(num_devs)):
        pci = parse_pci_bdf(_xs_read(xs, f"{be}/dev-{i}") or "") or DevicePci()
        vdevfn = _xs_read(xs, f"{be}/vdevfn-{i}")
        if vdevfn is not None:
            from pyxl.cnum import strtol_value

            pci.vdevfn = strtol_value(vdevfn, 16)
        pci.name = _xs_read(xs, f"{be}/name-{i}")
        out.append(pci)
    return out


def device_pci_remove(ctx: Ctx, domid: int, pci: DevicePci, force: bool = False) -> None:
    """libxl_device_pci_remove (-f: libxl_device_pci_destroy)."""
    if pci.name is not None and not name2bdf(ctx, pci):
        raise _aocomplete(ctx, "remove", ERROR_NOTFOUND)
    funcs = [pci.func]
    if pci.vfunc_mask == FUNC_ALL:
        funcs = _pciback_functions(ctx, HostPci(ctx), pci)
        if funcs is None:
            raise _aocomplete(ctx, "remove", ERROR_FAIL)
        funcs.reverse()
    for func in funcs:
        one = DevicePci(pci.domain, pci.bus, pci.dev, func)
        rc = _do_pci_remove(ctx, domid, one, force)
        if rc:
            raise _aocomplete(ctx, "remove", rc)
        _info_remove(ctx.xs(), one, "domid")
        _forget_config(ctx, domid, one)


def _forget_config(ctx: Ctx, domid: int, pci: DevicePci) -> None:
    """A detached function leaves the stored config, as the other kinds do."""
    stored = ctx.host.config(domid)
    if stored and any(_same_function(e, pci) for e in stored.get("pcidevs", [])):
        stored["pcidevs"] = [e for e in stored["pcidevs"] if not _same_function(e, pci)]
        ctx.host.set_config(domid, stored)


def _do_pci_remove(ctx: Ctx, domid: int, pci: DevicePci, force: bool) -> int:
    """do_pci_remove and pci_remove_detached: 0 or the libxl rc."""
    listed = device_pci_list(ctx, domid)
    kind = _domain_type(ctx, domid) if listed else None
    rc = 0
    if not listed:
        rc = ERROR_FAIL
    elif not any(p.bdf == pci.bdf for p in listed):
        _log(ctx, "error", 1834, "do_pci_remove", "PCI device not attached to this domain",
             domid)
        rc = ERROR_INVAL
    if rc and not force:
        return rc
    host = HostPci(ctx)
    if not host.exists(pci.bdf):
        _log(ctx, "error", 2030, "pci_remove_detached",
             f"Couldn't open {SYSFS_PCI_DEV}/{pci.bdf}/resource", domid,
             "No such file or directory")
    if host.owner(pci.bdf) == domid:
        host.set(pci.bdf, owner=DOMID_IO)
    else:
        _log(ctx, "error", 2116, "pci_remove_detached", "xc_deassign_device failed", domid,
             "No such device")
    return _remove_xenstore(ctx, domid, pci, kind)


def _remove_xenstore(ctx: Ctx, domid: int, pci: DevicePci, kind: str | None) -> int:
    """libxl__device_pci_remove_xenstore: Closing for pciback, then libxl
    drops the device's keys and closes up the numbering behind it."""
    xs, be = ctx.xs(), backend_path(domid)
    num_devs = _xs_read(xs, f"{be}/num_devs")
    if num_devs is None:
        return 0
    num = _atoi(num_devs)
    if kind == "pv":
        try:
            _wait_for_backend(ctx, be)
        except PciError as e:
            return e.rc
    i = next((i for i in range(num) if _xs_read(xs, f"{be}/dev-{i}") == pci.bdf), None)
    if i is None:
        _log(ctx, "error", 266, "libxl__device_pci_remove_xenstore",
             "Couldn't find the device on xenstore", domid)
        return 0
    xs.write(f"{be}/state-{i}", str(CLOSING).encode())
    xs.write(f"{be}/state", str(RECONFIGURING).encode())
    # pciback lets the device go and, with pcifront, reconnects the bus.
    xs.write(f"{be}/state-{i}", str(CLOSED).encode())
    xs.write(f"{be}/state", str(CONNECTED if kind == "pv" else INITIALISED).encode())
    keys = ("state", "key", "dev", "vdev", "opts", "vdevfn", "name")
    for key in keys:
        _xs_rm(xs, f"{be}/{key}-{i}")
    xs.write(f"{be}/num_devs", str(num - 1).encode())
    for j in range(i + 1, num):
        for key in keys:
            value = _xs_read(xs, f"{be}/{key}-{j}")
            if value is not None:
                xs.write(f"{be}/{key}-{j - 1}", value.encode("utf-8", "surrogateescape"))
                _xs_rm(xs, f"{be}/{key}-{j}")
    if num == 1:
        _path_cleanup(xs, frontend_path(domid))
        _path_cleanup(xs, be)
    return 0


def _path_cleanup(xs, path: str) -> None:
    """libxl__xs_path_cleanup: the node, then each parent left empty."""
    _xs_rm(xs, path)
    while True:
        path = path.rsplit("/", 1)[0]
        if not path or _xs_read(xs, path) != "" or _xs_dir(xs, path):
            return
        _xs_rm(xs, path)


def add_pcis(ctx: Ctx, domid: int, pcidevs: list[dict]) -> None:
    """libxl__add_pcis at create: xl.cfg's pci= devices, or the create fails."""
    try:
        for d in pcidevs:
            device_pci_add(ctx, domid, DevicePci.from_config(d), starting=True)
    except PciError:
        ctx.log("error", "libxl_create.c:1939:domcreate_attach_devices",
                "unable to add pci devices", domid)
        raise PciError(ERROR_FAIL, exit_code=-ERROR_FAIL) from None


def destroy_all(ctx: Ctx, domid: int) -> None:
    """libxl__device_pci_destroy_all at destroy: every device forced out of
    the dying domain, back into quarantine and the assignable list."""
    pcis = device_pci_list(ctx, domid)
    if not pcis:
        return
    host = HostPci(ctx)
    for pci in pcis:
        if host.owner(pci.bdf) == domid:
            host.set(pci.bdf, owner=DOMID_IO)
        _info_remove(ctx.xs(), pci, "domid")
    xs = ctx.xs()
    _path_cleanup(xs, frontend_path(domid))
    _path_cleanup(xs, backend_path(domid))
