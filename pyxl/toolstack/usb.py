"""libxl's USB passthrough (libxl_usb.c): virtual USB controllers and the
host's USB devices given to them.

A controller is a `vusb` device: for type pv (Linux usbback in Domain-0) and
qusb (QEMU's backend) the usual frontend/backend/libxl directories with the
backend's `usb-ver`, `num-ports` and one empty `port/N` node per port; for
type devicemodel (an emulated controller in the HVM guest's QEMU) only the
libxl directory. Attaching a host device writes its sysfs bus id (`1-2`)
into a free `port/N`; that is also how libxl knows a device is taken. For pv,
the device's interfaces leave their Domain-0 driver for usbback, and libxl
notes the old driver under /libxl/usbback to rebind it on detach.

The host's devices come from the boot option `usb` (pyxl/sim/boot.py): each
bus has its root hub at device 1 (sysfs `usbN`) and the listed devices on its
ports `N-1`, `N-2`, ... in order. A description naming a hub makes a hub
(class 9, which libxl refuses to pass through).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyxl.toolstack.ctx import Ctx
from pyxl.toolstack.device import (DeviceError, _directory, _read, _remove_dirs,
                                   backend_path, frontend_path, generic_add, libxl_path)

TYPES = ("auto", "pv", "devicemodel", "qusb")
USBIF_MAX_PORTNR = 31
USBBACK_INFO_PATH = "/libxl/usbback"
SYSFS_USB_DRIVERS = "/sys/bus/usb/drivers"
HUB_CLASS = 9
# Which Domain-0 driver holds a device, by a word of its description.
_DRIVERS = (("hub", HUB_CLASS, "hub"), ("mouse", 3, "usbhid"), ("keyboard", 3, "usbhid"),
            ("ethernet", 0xFF, "r8152"), ("cruzer", 8, "usb-storage"),
            ("flash", 8, "usb-storage"), ("storage", 8, "usb-storage"))


@dataclass(repr=False, eq=False)
class UsbCtrl:
    """libxl_device_usbctrl."""

    type: str = "auto"
    devid: int = -1
    version: int = 0
    ports: int = 0
    backend_domid: int = 0


@dataclass(repr=False, eq=False)
class UsbDev:
    """libxl_device_usbdev (type hostdev)."""

    ctrl: int = -1
    port: int = 0
    hostbus: int = 0
    hostaddr: int = 0


@dataclass(frozen=True, repr=False, eq=False)
class HostUsbDevice:
    bus: int
    addr: int
    busid: str
    dev_class: int
    driver: str
    description: str


@dataclass(repr=False, eq=False)
class UsbCtrlInfo:
    """libxl_usbctrlinfo: what usb-list prints."""

    devid: int
    type: str
    backend_id: int
    state: int
    version: int
    ports: int


# --- xl's spec parsing (xl_parse.c parse_usbctrl_config / parse_usbdev_config) ---

def _atoi(text: str) -> int:
    import re

    m = re.match(r"[ \t\n\v\f\r]*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


def _strtoul(text: str) -> int:
    """strtoul(text, NULL, 0) as C does it (0x hex, 0 octal), cut to a uint8."""
    import re

    m = re.match(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)?", text)
    digits = m.group(2) if m else None
    if not digits:
        return 0
    if digits[:2].lower() == "0x":
        value = int(digits[2:], 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    return (-value if m.group(1) == "-" else value) & 0xFF


def parse_usbctrl_config(ctrl: UsbCtrl, token: str) -> str | None:
    """One `key=value`; xl's error line, or None."""
    key, sep, value = token.partition("=")
    if sep and key == "type":
        if value.lower() not in TYPES:
            return f"Invalid usb controller type '{value}'"
        ctrl.type = value.lower()
    elif sep and key == "version":
        ctrl.version = _atoi(value)
    elif sep and key == "ports":
        ctrl.ports = _atoi(value)
    else:
        return f"Unknown string `{token}' in usbctrl spec"
    return None


def parse_usbdev_config(dev: UsbDev, token: str) -> str | None:
    """One `key=value`; xl's error line, or None. (xl prints getopt's
    optarg, NULL by then, for a bad type.)"""
    key, sep, value = token.partition("=")
    if sep and key == "type":
        if value.lower() != "hostdev":
            return "Invalid usb device type: (null)"
    elif sep and key == "hostbus":
        dev.hostbus = _strtoul(value)
    elif sep and key == "hostaddr":
        dev.hostaddr = _strtoul(value)
    elif sep and key == "controller":
        dev.ctrl = _atoi(value)
    elif sep and key == "port":
        dev.port = _atoi(value)
    else:
        return f"Unknown string `{token}' in usbdev spec"
    return None


# --- the host's USB devices (sysfs /sys/bus/usb/devices) ---

def host_devices(ctx: Ctx) -> dict[tuple[int, int], HostUsbDevice]:
    """(bus, device) -> the device, root hubs included."""
    from pyxl.sim.boot import usb_devices

    listed = usb_devices(ctx.host.boot)
    devices: dict[tuple[int, int], HostUsbDevice] = {}
    for bus in sorted({b for b, _ in listed}):
        devices[(bus, 1)] = HostUsbDevice(bus, 1, f"usb{bus}", HUB_CLASS, "hub",
                                          "1d6b:0002 Linux Foundation 2.0 root hub")
        addrs = sorted(a for b, a in listed if b == bus)
        for port, addr in enumerate(addrs, 1):
            desc = listed[(bus, addr)]
            dev_class, driver = next(((c, d) for word, c, d in _DRIVERS if word in desc.lower()),
                                     (0xFF, ""))
            devices[(bus, addr)] = HostUsbDevice(bus, addr, f"{bus}-{port}", dev_class, driver,
                                                 desc)
    return devices


def _by_busid(ctx: Ctx, busid: str) -> HostUsbDevice | None:
    return next((d for d in host_devices(ctx).values() if d.busid == busid), None)


def _encode(name: str) -> str:
    """usb_interface_xenstore_encode: a sysfs name as a XenStore key."""
    return name.replace(".", "_").replace(":", "@")


def _usbback_assign(ctx: Ctx, dev: HostUsbDevice) -> None:
    """usbback_dev_assign: note each interface's driver, then hand it to usbback."""
    if dev.driver:
        intf = f"{dev.busid}:1.0"
        ctx.xs().write(f"{USBBACK_INFO_PATH}/{_encode(dev.busid)}/{_encode(intf)}/driver_path",
                       f"{SYSFS_USB_DRIVERS}/{dev.driver}".encode())


def _usbback_release(ctx: Ctx, busid: str) -> None:
    """usbback_dev_unassign + usbdev_rebind: back to the noted driver."""
    _remove_dirs(ctx, f"{USBBACK_INFO_PATH}/{_encode(busid)}")


# --- controllers ---

def _ctrl_from_xenstore(ctx: Ctx, domid: int, devid: int) -> UsbCtrl | None:
    """libxl_devid_to_device_usbctrl."""
    xs = ctx.xs()
    lpath = libxl_path(domid, "vusb", devid)
    ctype = _read(xs, f"{lpath}/type")
    if ctype not in TYPES:
        return None
    if ctype == "devicemodel":
        bpath, backend = lpath, 0
    else:
        bpath = _read(xs, f"{lpath}/backend")
        if bpath is None:
            return None
        parts = bpath.split("/")
        backend = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0
    return UsbCtrl(ctype, devid, _num(_read(xs, f"{bpath}/usb-ver")),
                   _num(_read(xs, f"{bpath}/num-ports")), backend)


def _num(value: str | None) -> int:
    return _atoi(value) if value is not None else -1


def _ctrl_devids(ctx: Ctx, domid: int) -> list[int]:
    return sorted(int(x) for x in _directory(ctx.xs(), f"/libxl/{domid}/device/vusb")
                  if x.isdigit())


def ctrl_list(ctx: Ctx, domid: int) -> list[UsbCtrl]:
    """libxl_device_usbctrl_list."""
    ctrls = (_ctrl_from_xenstore(ctx, domid, devid) for devid in _ctrl_devids(ctx, domid))
    return [c for c in ctrls if c is not None]


def _port_base(domid: int, ctrl: UsbCtrl) -> str:
    """Where a controller's port/N nodes are (vusb_get_port_path)."""
    if ctrl.type == "devicemodel":
        return libxl_path(domid, "vusb", ctrl.devid)
    return backend_path(0, ctrl.type.replace("pv", "vusb"), domid, ctrl.devid)


def _be_path(ctx: Ctx, domid: int, devid: int) -> str | None:
    """vusb_be_from_xs_libxl."""
    lpath = libxl_path(domid, "vusb", devid)
    ctype = _read(ctx.xs(), f"{lpath}/type")
    if ctype == "devicemodel":
        return lpath
    return _read(ctx.xs(), f"{lpath}/backend") if ctype in TYPES else None


def _ctrl_setdefault(ctx: Ctx, domid: int, ctrl: UsbCtrl, dtype: str) -> None:
    """libxl__device_usbctrl_setdefault. Simulated Domain-0s have usbback
    loaded, so a PV guest's controller is pv and an HVM guest's devicemodel."""
    if ctrl.type == "auto":
        ctrl.type = "devicemodel" if dtype == "hvm" else "pv"
    where = "libxl_usb.c:{}:libxl__device_usbctrl_setdefault"
    if ctrl.type in ("pv", "qusb"):
        ctrl.version = ctrl.version or 2
        if not 1 <= ctrl.version <= 2:
            ctx.log("error", where.format(67),
                    "USB version for paravirtualized devices must be 1 or 2")
            raise DeviceError()
        ctrl.ports = ctrl.ports or 8
        if not 1 <= ctrl.ports <= USBIF_MAX_PORTNR:
            ctx.log("error", where.format(75),
                    f"Number of ports for USB controller is limited to {USBIF_MAX_PORTNR}")
            raise DeviceError()
        return
    ctrl.version = ctrl.version or 2
    fixed = {1: (2, 88), 2: (6, 98)}
    if ctrl.version in fixed:
        count, line = fixed[ctrl.version]
        if ctrl.ports and ctrl.ports != count:
            ctx.log("error", where.format(line), f"Number of ports for USB controller of "
                    f"version {ctrl.version} is always {count}")
            raise DeviceError()
        ctrl.ports = count
    elif ctrl.version == 3:
        ctrl.ports = ctrl.ports or 8
        if ctrl.ports > 15:
            ctx.log("error", where.format(110),
                    "Number of ports for USB controller of version 3 is limited to 15")
            raise DeviceError()
    else:
        ctx.log("error", where.format(117), "Illegal USB version")
        raise DeviceError()


def _ctrl_add_xenstore(ctx: Ctx, domid: int, ctrl: UsbCtrl) -> None:
    """libxl__device_usbctrl_add_xenstore: the controller's directories."""
    back = [("type", ctrl.type), ("usb-ver", str(ctrl.version)),
            ("num-ports", str(ctrl.ports)), ("port", "")]
    back += [(f"port/{i}", "") for i in range(1, ctrl.ports + 1)]
    if ctrl.type == "qusb":
        ctx.log("error", "libxl_usb.c:257:libxl__device_usbctrl_add_xenstore",
                "backend type not supported by device model", domid)
        raise DeviceError()
    if ctrl.type == "pv":
        generic_add(ctx, domid, ctrl.backend_domid, "vusb", "vusb", ctrl.devid, back, [], [])
        return
    xs, lpath = ctx.xs(), libxl_path(domid, "vusb", ctrl.devid)

    def body(t) -> None:
        if xs.exists(lpath, tx=t.id):
            xs.rm(lpath, tx=t.id)
        for key, value in back:
            xs.write(f"{lpath}/{key}", value.encode(), tx=t.id)

    xs.transaction(body)


def _new_ctrl(ctx: Ctx, domid: int, ctrl: UsbCtrl) -> None:
    """setdefault, a devid (libxl__device_nextid), the XenStore nodes."""
    _ctrl_setdefault(ctx, domid, ctrl, ctx.hv.domains[domid].type)
    if ctrl.devid == -1:
        ctrl.devid = max(_ctrl_devids(ctx, domid), default=-1) + 1
    _ctrl_add_xenstore(ctx, domid, ctrl)


def usbctrl_add(ctx: Ctx, domid: int, ctrl: UsbCtrl) -> int:
    """libxl_device_usbctrl_add; DeviceError where libxl fails. The devid."""
    from pyxl.toolstack.device import save_config

    if domid not in ctx.hv.domains:
        raise DeviceError()
    _new_ctrl(ctx, domid, ctrl)
    save_config(ctx, domid, "usbctrls", {"type": ctrl.type, "devid": ctrl.devid,
                                         "version": ctrl.version, "ports": ctrl.ports},
                lambda old: old.get("devid") == ctrl.devid)
    return ctrl.devid


def usbctrl_find(ctx: Ctx, domid: int, devid: int) -> UsbCtrl | None:
    return _ctrl_from_xenstore(ctx, domid, devid)


def usbctrl_remove(ctx: Ctx, domid: int, devid: int) -> None:
    """libxl_device_usbctrl_remove: its devices first, then the controller."""
    from pyxl.toolstack import device

    ctrl = _ctrl_from_xenstore(ctx, domid, devid)
    if ctrl is None:
        raise DeviceError()
    for dev in _ctrl_devices(ctx, domid, ctrl):
        usbdev_remove(ctx, domid, dev)
    if ctrl.type == "devicemodel":
        _remove_dirs(ctx, libxl_path(domid, "vusb", devid))
        device.forget_config(ctx, domid, "vusb", devid)
    else:
        device.remove(ctx, domid, "vusb", devid)


def usbctrl_info(ctx: Ctx, domid: int, ctrl: UsbCtrl) -> UsbCtrlInfo:
    """libxl_device_usbctrl_getinfo."""
    if ctrl.type == "devicemodel":
        return UsbCtrlInfo(ctrl.devid, ctrl.type, 0, 0, ctrl.version, ctrl.ports)
    state = _read(ctx.xs(), f"{frontend_path(domid, 'vusb', ctrl.devid)}/state")
    return UsbCtrlInfo(ctrl.devid, ctrl.type, ctrl.backend_domid, _num(state), ctrl.version,
                       ctrl.ports)


# --- devices ---

def _ctrl_devices(ctx: Ctx, domid: int, ctrl: UsbCtrl) -> list[UsbDev]:
    """libxl__device_usbdev_list_for_usbctrl."""
    devs = []
    for port in range(1, ctrl.ports + 1):
        dev = usbdev_at(ctx, domid, ctrl.devid, port)
        if dev is not None:
            devs.append(dev)
    return devs


def usbdev_at(ctx: Ctx, domid: int, ctrl: int, port: int) -> UsbDev | None:
    """libxl_ctrlport_to_device_usbdev."""
    bpath = _be_path(ctx, domid, ctrl)
    busid = _read(ctx.xs(), f"{bpath}/port/{port}") if bpath else None
    if not busid:
        return None
    host = _by_busid(ctx, busid)
    if host is None:
        return None
    return UsbDev(ctrl, port, host.bus, host.addr)


def _assigned(ctx: Ctx) -> set[tuple[int, int]]:
    """get_assigned_devices: every guest's ports, as (bus, device)."""
    found = set()
    for name in _directory(ctx.xs(), "/local/domain"):
        if name.isdigit():
            for ctrl in ctrl_list(ctx, int(name)):
                found |= {(d.hostbus, d.hostaddr) for d in _ctrl_devices(ctx, int(name), ctrl)}
    return found


def _dev_setdefault(ctx: Ctx, domid: int, dev: UsbDev) -> None:
    """libxl__device_usbdev_setdefault: the first free controller:port, or a
    new controller; a named controller's first free port; a named port free."""
    where = "libxl_usb.c:{}:libxl__device_usbdev_setdefault"
    xs = ctx.xs()
    if dev.ctrl == -1:
        if dev.port:
            ctx.log("error", where.format(1166),
                    "USB controller must be specified if you specify port", domid)
            raise DeviceError()
        for ctrl in ctrl_list(ctx, domid):
            for port in range(1, ctrl.ports + 1):
                if _read(xs, f"{_port_base(domid, ctrl)}/port/{port}") == "":
                    dev.ctrl, dev.port = ctrl.devid, port
                    return
        ctrl = UsbCtrl()
        _new_ctrl(ctx, domid, ctrl)
        dev.ctrl, dev.port = ctrl.devid, 1
        return
    bpath = _be_path(ctx, domid, dev.ctrl)
    if bpath is None:
        raise DeviceError()
    if dev.port:
        if _read(xs, f"{bpath}/port/{dev.port}"):
            ctx.log("error", where.format(1214), "The controller port isn't available", domid)
            raise DeviceError()
        return
    for port in range(1, _atoi(_read(xs, f"{bpath}/num-ports") or "0") + 1):
        if _read(xs, f"{bpath}/port/{port}") == "":
            dev.port = port
            return
    ctx.log("error", where.format(1241), "No available port under specified controller", domid)
    raise DeviceError()


def usbdev_add(ctx: Ctx, domid: int, dev: UsbDev) -> None:
    """libxl_device_usbdev_add: a free host device onto a controller's port."""
    where = "libxl_usb.c:{}:libxl__device_usbdev_add"
    if domid not in ctx.hv.domains:
        raise DeviceError()
    if dev.ctrl != -1:
        ctrl = _ctrl_from_xenstore(ctx, domid, dev.ctrl)
        if ctrl is None:
            raise DeviceError()
        if ctrl.backend_domid != 0:
            ctx.log("error", where.format(1722),
                    "Don't support adding USB device from non-Dom0 backend", domid)
            raise DeviceError()
    host = host_devices(ctx).get((dev.hostbus, dev.hostaddr))
    if host is None or host.dev_class == HUB_CLASS:
        ctx.log("error", where.format(1732), "USB device is not assignable.", domid)
        raise DeviceError()
    if (dev.hostbus, dev.hostaddr) in _assigned(ctx):
        ctx.log("error", where.format(1746), "USB device already attached to a domain", domid)
        raise DeviceError()
    _dev_setdefault(ctx, domid, dev)
    ctrl = _ctrl_from_xenstore(ctx, domid, dev.ctrl)
    if ctrl is None:
        raise DeviceError()
    ctx.xs().write(f"{_port_base(domid, ctrl)}/port/{dev.port}", host.busid.encode())
    if ctrl.type == "pv":
        _usbback_assign(ctx, host)
    _save_usbdev(ctx, domid, dev)


def _save_usbdev(ctx: Ctx, domid: int, dev: UsbDev) -> None:
    """The stored config's usbdevs: a device by its controller and port."""
    from pyxl.toolstack.device import save_config

    save_config(ctx, domid, "usbdevs", {"ctrl": dev.ctrl, "port": dev.port, "type": "hostdev",
                                        "hostbus": dev.hostbus, "hostaddr": dev.hostaddr},
                lambda old: (old.get("ctrl"), old.get("port")) == (dev.ctrl, dev.port))


def _forget_usbdev(ctx: Ctx, domid: int, dev: UsbDev) -> None:
    stored = ctx.host.config(domid)
    if stored and stored.get("usbdevs"):
        stored["usbdevs"] = [d for d in stored["usbdevs"]
                             if (d.get("ctrl"), d.get("port")) != (dev.ctrl, dev.port)]
        ctx.host.set_config(domid, stored)


def usbdev_remove(ctx: Ctx, domid: int, dev: UsbDev) -> None:
    """libxl_device_usbdev_remove: back to Domain-0's driver, the port empty."""
    ctrl = _ctrl_from_xenstore(ctx, domid, dev.ctrl)
    if ctrl is None:
        raise DeviceError()
    if ctrl.backend_domid != 0:
        ctx.log("error", "libxl_usb.c:1915:libxl__device_usbdev_remove",
                "Don't support removing USB device from non-Dom0 backend", domid)
        raise DeviceError()
    path = f"{_port_base(domid, ctrl)}/port/{dev.port}"
    busid = _read(ctx.xs(), path)
    ctx.xs().write(path, b"")
    if ctrl.type == "pv" and busid:
        _usbback_release(ctx, busid)
    _forget_usbdev(ctx, domid, dev)


def destroy_all(ctx: Ctx, domid: int) -> None:
    """At destroy: every passed-through device goes back to Domain-0's
    drivers; each pv/qusb backend lets go of the guest and its directory goes
    (the libxl and frontend directories go with the domain's own)."""
    from pyxl.sim import frontend

    xs = ctx.xs()
    for ctrl in ctrl_list(ctx, domid):
        for dev in _ctrl_devices(ctx, domid, ctrl):
            busid = _read(xs, f"{_port_base(domid, ctrl)}/port/{dev.port}")
            if ctrl.type == "pv" and busid:
                _usbback_release(ctx, busid)
        if ctrl.type != "devicemodel":
            lpath = libxl_path(domid, "vusb", ctrl.devid)
            bpath = _read(xs, f"{lpath}/backend")
            if bpath is not None:
                frontend.backend_disconnect(ctx.host, domid, ctrl.backend_domid,
                                            _read(xs, f"{lpath}/frontend"))
                _remove_dirs(ctx, bpath)
