"""libxl's split-device framework for vifs and vbds (libxl_device.c,
libxl_nic.c, libxl_disk.c).

A device is three XenStore directories written in one transaction: the
frontend /local/domain/D/device/<kind>/<devid> (owned by the guest, readable
by the backend), the backend /local/domain/B/backend/<kind>/D/<devid> (owned
by the backend domain, readable by the guest) and libxl's own record
/libxl/D/device/<kind>/<devid> (frontend and backend paths and a copy of the
backend keys). The drivers on both sides (pyxl/sim/frontend.py) take it from
there. Everything here reads only the one domain's directories.
"""

from __future__ import annotations

from pyxl.errors import PyxlError
from pyxl.toolstack.ctx import Ctx
from pyxl.xenstore.perms import Perm
from pyxl.xenstore.lookup import directory_or_empty as _directory
from pyxl.xenstore.lookup import read_or_none as _read

SCRIPT_DIR = "/etc/xen/scripts"
MTU_DEFAULT = 1500


class DeviceError(PyxlError):
    """A libxl device operation failed; the CLI prints its own line."""

    def __init__(self, message: str = ""):
        super().__init__(message, 1)


# A plain class, not a dataclass: every command defines it at start-up,
# where a dataclass costs ~30 times more to define.
class DeviceInfo:
    """libxl_nicinfo / libxl_diskinfo: what the *-list commands show."""

    def __init__(
        self,
        kind: str,
        devid: int,
        backend_id: int,
        frontend_id: int,
        state: int,
        evtch: int,
        rref: int,  # ring-ref (vbd) or tx-ring-ref (vif)
        rref_rx: int,
        backend: str,
        mac: str = "",
    ) -> None:
        self.kind = kind
        self.devid = devid
        self.backend_id = backend_id
        self.frontend_id = frontend_id
        self.state = state
        self.evtch = evtch
        self.rref = rref
        self.rref_rx = rref_rx
        self.backend = backend
        self.mac = mac


def frontend_path(domid: int, kind: str, devid: int) -> str:
    return f"/local/domain/{domid}/device/{kind}/{devid}"


def backend_path(backend: int, bkind: str, domid: int, devid: int) -> str:
    return f"/local/domain/{backend}/backend/{bkind}/{domid}/{devid}"


def libxl_path(domid: int, kind: str, devid: int) -> str:
    return f"/libxl/{domid}/device/{kind}/{devid}"


def _resolve_backend(ctx: Ctx, name: str | None, domid: int) -> int:
    """libxl__resolve_domid: a backend named in the spec must exist."""
    if not name:
        return domid
    if name.isdigit():
        backend = int(name)
        if backend in ctx.hv.domains:
            return backend
        raise DeviceError()
    backend = ctx.host.domid_by_name(name)
    if backend is None:
        raise DeviceError()
    return backend


def generic_add(ctx: Ctx, domid: int, backend: int, kind: str, bkind: str, devid: int,
                back: list[tuple[str, str]], front: list[tuple[str, str]],
                ro_front: list[tuple[str, str]]) -> str:
    """libxl__device_generic_add in one transaction; returns the backend path."""
    xs = ctx.xs()
    fpath = frontend_path(domid, kind, devid)
    bpath = backend_path(backend, bkind, domid, devid)
    lpath = libxl_path(domid, kind, devid)
    front_perms = [Perm(domid, "n"), Perm(backend, "r")]
    back_perms = [Perm(backend, "n"), Perm(domid, "r")]
    back = [("frontend-id", str(domid)), ("online", "1"), ("state", "1")] + back
    front = [("backend-id", str(backend)), ("state", "1")] + front

    def body(t) -> None:
        tx = t.id
        if xs.exists(fpath, tx=tx):
            raise DeviceError()
        for path in (lpath,):
            if xs.exists(path, tx=tx):
                xs.rm(path, tx=tx)
        xs.write(f"{lpath}/frontend", fpath.encode(), tx=tx)
        xs.write(f"{lpath}/backend", bpath.encode(), tx=tx)
        xs.mkdir(fpath, tx=tx)
        xs.set_perms(fpath, front_perms, tx=tx)
        xs.write(f"{fpath}/backend", bpath.encode(), tx=tx)
        for entries, perms in ((front, front_perms), (ro_front, back_perms)):
            for key, value in entries:
                xs.write(f"{fpath}/{key}", value.encode(), tx=tx)
                xs.set_perms(f"{fpath}/{key}", perms, tx=tx)
        if xs.exists(bpath, tx=tx):
            xs.rm(bpath, tx=tx)
        xs.mkdir(bpath, tx=tx)
        xs.set_perms(bpath, back_perms, tx=tx)
        xs.write(f"{bpath}/frontend", fpath.encode(), tx=tx)
        for key, value in back:
            xs.write(f"{bpath}/{key}", value.encode(), tx=tx)
            xs.write(f"{lpath}/{key}", value.encode(), tx=tx)

    xs.transaction(body)
    from pyxl.sim import frontend

    frontend.backend_probe(ctx.host, backend, bpath, kind)
    return bpath


# --- vif ---

def _mac(new_uuid: str) -> str:
    """libxl's random MAC in Xen's OUI, from a fresh UUID's bytes."""
    import uuid as uuidlib

    r = uuidlib.UUID(new_uuid).bytes
    return f"00:16:3e:{r[0] & 0x7f:02x}:{r[1]:02x}:{r[2]:02x}"


def _next_devid(ctx: Ctx, domid: int, kind: str) -> int:
    """libxl__device_nextid: one past the highest devid the guest has."""
    devids = [int(x) for x in _directory(ctx.xs(), f"/local/domain/{domid}/device/{kind}")
              if x.isdigit()]
    return max(devids, default=-1) + 1


def nic_add(ctx: Ctx, domid: int, nic, new_uuid) -> int:
    """libxl_device_nic_add: setdefault, then the vif's three directories.
    `new_uuid(ctx)` gives the UUID whose bytes make an unset MAC."""
    d = ctx.hv.domains.get(domid)
    if d is None:
        raise DeviceError()
    backend = _resolve_backend(ctx, nic.backend_domname, nic.backend_domid)
    if d.type != "hvm" and nic.nictype == "vif_ioemu":
        raise DeviceError()
    devid = nic.devid if nic.devid >= 0 else _next_devid(ctx, domid, "vif")
    mac = nic.mac or _mac(new_uuid(ctx))
    mtu = nic.mtu or MTU_DEFAULT
    script = nic.script or "vif-bridge"
    if not script.startswith("/"):
        script = f"{SCRIPT_DIR}/{script}"
    back = [("script", script)]
    if nic.ifname:
        back.append(("vifname", nic.ifname))
    back.append(("mac", mac))
    for key, value in (("ip", nic.ip), ("gatewaydev", nic.gatewaydev)):
        if value:
            back.append((key, value))
    if nic.rate_interval_usecs > 0:
        back.append(("rate", f"{nic.rate_bytes_per_interval},{nic.rate_interval_usecs}"))
    if mtu != MTU_DEFAULT:
        back.append(("mtu", str(mtu)))
    if nic.vlan:
        back.append(("vlan", nic.vlan))
    back += [("bridge", nic.bridge or "xenbr0"), ("handle", str(devid)),
             ("type", "vif" if d.type != "hvm" else (nic.nictype if nic.nictype != "unknown"
                                                     else "vif")),
             ("hotplug-status", "")]
    front = [("handle", str(devid)), ("mac", mac),
             ("trusted", "0" if nic.trusted is False else "1")]
    generic_add(ctx, domid, backend, "vif", "vif", devid, back, front, [("mtu", str(mtu))])
    nic.devid, nic.mac = devid, mac
    save_config(ctx, domid, "nics", nic.to_dict(), lambda old: old.get("devid") == devid)
    return devid


# --- vbd ---

def _disk_backend(disk) -> str:
    """libxl__device_disk_set_backend: phy for raw images and devices, qdisk else."""
    if disk.backend in ("phy", "qdisk"):
        return disk.backend
    if disk.backend == "tap":
        return "vbd3"
    return "phy" if disk.format in ("raw", "unknown", "empty") else "qdisk"


def disk_add(ctx: Ctx, domid: int, disk) -> int:
    """libxl_device_disk_add: the vbd's three directories."""
    from pyxl.toolstack.devices import vdev_to_devid

    d = ctx.hv.domains.get(domid)
    if d is None:
        raise DeviceError()
    backend = _resolve_backend(ctx, disk.backend_domname, disk.backend_domid)
    devid = vdev_to_devid(disk.vdev or "")
    if devid is None:
        raise DeviceError()
    btype = _disk_backend(disk)
    bkind = {"phy": "vbd", "vbd3": "vbd3", "qdisk": "qdisk"}[btype]
    fmt = disk.format if disk.format not in ("unknown", "empty") else "raw"
    target = disk.pdev_path or ""
    params = target if btype == "phy" else (f"{fmt}:{target}" if target else "")
    devtype = "cdrom" if disk.is_cdrom else "disk"
    back = [("params", params)]
    if btype == "phy":
        back.append(("script", f"{SCRIPT_DIR}/{disk.script or 'block'}"))
    back += [("removable", str(disk.removable)), ("bootable", "1"),
             ("dev", disk.vdev), ("type", btype), ("mode", "w" if disk.readwrite else "r"),
             ("device-type", devtype),
             ("discard-enable", "0" if disk.discard_enable is False else "1"),
             ("specification", "xen")]
    front = [("virtual-device", str(devid)), ("device-type", devtype),
             ("trusted", "0" if disk.trusted is False else "1")]
    if d.type == "pv":
        front.append(("protocol", "x86_64-abi"))
    generic_add(ctx, domid, backend, "vbd", bkind, devid, back, front, [])
    save_config(ctx, domid, "disks", disk.to_dict(), lambda old: old.get("vdev") == disk.vdev)
    return devid


# --- the domain's stored config (libxl__device_add_async's update_json) ---

# The stored config's list for each kind whose detach forgets the device,
# and how an entry names the device.
CONFIG_LISTS = {"vif": ("nics", "devid"), "vbd": ("disks", "vdev"), "vtpm": ("vtpms", "devid"),
                "vdispl": ("vdispls", "devid"), "vsnd": ("vsnds", "devid"),
                "vusb": ("usbctrls", "devid")}


def save_config(ctx: Ctx, domid: int, field: str, entry: dict, same) -> None:
    """A hot-added device joins the domain's stored config, replacing an
    entry `same` matches. At create there is no stored config yet: the whole
    config, these devices in it, is stored once the domain is built."""
    stored = ctx.host.config(domid)
    if stored is None:
        return
    items = stored.setdefault(field, [])
    for i, old in enumerate(items):
        if same(old):
            items[i] = entry
            break
    else:
        items.append(entry)
    ctx.host.set_config(domid, stored)


def forget_config(ctx: Ctx, domid: int, kind: str, devid: int) -> None:
    """A detached device leaves the stored config, so that `list -l` no
    longer shows it (libxl drops it when it next retrieves the config)."""
    if kind not in CONFIG_LISTS:
        return
    stored = ctx.host.config(domid)
    field, key = CONFIG_LISTS[kind]
    if stored is None or not stored.get(field):
        return
    if key == "vdev":
        from pyxl.toolstack.devices import vdev_to_devid

        stored[field] = [d for d in stored[field] if vdev_to_devid(d.get("vdev") or "") != devid]
    else:
        stored[field] = [d for d in stored[field] if d.get("devid") != devid]
    ctx.host.set_config(domid, stored)


# --- listing ---

def list_devices(ctx: Ctx, domid: int, kind: str) -> list[DeviceInfo]:
    """libxl_device_{nic,disk}_list + getinfo: from /libxl/D/device/<kind> only."""
    xs = ctx.xs()
    rows = []
    for devid in sorted((int(x) for x in _directory(xs, f"/libxl/{domid}/device/{kind}")
                         if x.isdigit())):
        lpath = libxl_path(domid, kind, devid)
        bpath = _read(xs, f"{lpath}/backend")
        if bpath is None:
            continue
        fpath = frontend_path(domid, kind, devid)
        parts = bpath.split("/")
        backend = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0

        def num(key: str) -> int:
            value = _read(xs, f"{fpath}/{key}")
            return int(value) if value and value.isdigit() else -1

        ring = "tx-ring-ref" if kind == "vif" else "ring-ref"
        rows.append(DeviceInfo(kind, devid, backend, domid, num("state"), num("event-channel"),
                               num(ring), num("rx-ring-ref"), bpath,
                               _read(xs, f"{lpath}/mac") or ""))
    return rows


def find_devid(ctx: Ctx, domid: int, kind: str, which: str) -> int | None:
    """A vif by devid or MAC; a vbd by devid or vdev name."""
    xs = ctx.xs()
    devids = [int(x) for x in _directory(xs, f"/libxl/{domid}/device/{kind}") if x.isdigit()]
    if kind == "vif" and ":" in which:
        for devid in devids:
            if (_read(xs, f"{libxl_path(domid, kind, devid)}/mac") or "").lower() == which.lower():
                return devid
        return None
    if kind == "vbd" and not which.isdigit():
        from pyxl.toolstack.devices import vdev_to_devid

        devid = vdev_to_devid(which)
    else:
        devid = _atoi(which)
    return devid if devid in devids else None


def _atoi(text: str) -> int:
    import re

    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


# --- removal ---

def remove(ctx: Ctx, domid: int, kind: str, devid: int) -> None:
    """libxl__initiate_device_generic_remove: the backend goes to Closing,
    the drivers walk to Closed, then the three directories go."""
    from pyxl.sim import frontend

    xs = ctx.xs()
    lpath = libxl_path(domid, kind, devid)
    bpath = _read(xs, f"{lpath}/backend")
    fpath = _read(xs, f"{lpath}/frontend")
    if bpath is None or fpath is None:
        raise DeviceError()
    backend = _backend_of(bpath)

    def closing(t) -> None:
        if xs.exists(bpath, tx=t.id):
            xs.write(f"{bpath}/online", b"0", tx=t.id)
            xs.write(f"{bpath}/state", b"5", tx=t.id)

    xs.transaction(closing)
    frontend.close(ctx.host, domid, backend, fpath, bpath)
    _remove_dirs(ctx, fpath, bpath, lpath)
    forget_config(ctx, domid, kind, devid)


def _backend_of(bpath: str) -> int:
    parts = bpath.split("/")
    return int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0


def _remove_dirs(ctx: Ctx, *paths: str) -> None:
    """Each path, then its parents while they are empty (libxl__xs_path_cleanup)."""
    xs = ctx.xs()

    def body(t) -> None:
        for path in paths:
            _path_cleanup(xs, path, t.id)

    xs.transaction(body)


def _path_cleanup(xs, path: str, tx: int) -> None:
    if not xs.exists(path, tx=tx):
        return
    xs.rm(path, tx=tx)
    while (path := path.rsplit("/", 1)[0]):
        if (not xs.exists(path, tx=tx) or xs.read(path, tx=tx)
                or xs.directory(path, tx=tx)):
            return
        xs.rm(path, tx=tx)


def destroy_all(ctx: Ctx, domid: int) -> None:
    """libxl__devices_destroy: each backend lets go of the dying guest's rings
    and channels, and its directory goes (the guest's and libxl's go with
    the domain's own directories)."""
    xs = ctx.xs()
    kinds = _directory(xs, f"/libxl/{domid}/device")
    for kind in ("vif", "vbd", "vkbd", "vtpm", "vdispl", "vsnd"):
        if kind not in kinds:
            continue
        for devid in _directory(xs, f"/libxl/{domid}/device/{kind}"):
            lpath = f"/libxl/{domid}/device/{kind}/{devid}"
            bpath = _read(xs, f"{lpath}/backend")
            if bpath is None:
                continue
            from pyxl.sim import frontend

            backend = _backend_of(bpath)
            frontend.backend_disconnect(ctx.host, domid, backend,
                                        _read(xs, f"{lpath}/frontend"))
            _remove_dirs(ctx, lpath, bpath)


# --- cd-insert / cd-eject ---

def cdrom_insert(ctx: Ctx, domid: int, disk) -> None:
    """libxl_cdrom_insert: an HVM guest's emulated CD drive gets a new medium
    (or none): the drive's backend `params` change; the device stays."""
    d = ctx.hv.domains.get(domid)
    if d is None:
        raise DeviceError()
    if d.type != "hvm":
        ctx.log("error", "libxl_disk.c:990:libxl_cdrom_insert",
                "cdrom-insert requires an HVM domain", domid)
        raise DeviceError()
    xs = ctx.xs()
    for devid in _directory(xs, f"/libxl/{domid}/device/vbd"):
        lpath = f"/libxl/{domid}/device/vbd/{devid}"
        bpath = _read(xs, f"{lpath}/backend")
        if (bpath and _read(xs, f"{lpath}/dev") == disk.vdev
                and _read(xs, f"{lpath}/device-type") == "cdrom"):
            target = disk.pdev_path or ""
            params = target if _read(xs, f"{lpath}/type") == "phy" else (
                f"raw:{target}" if target else "")

            def body(t, bpath=bpath, lpath=lpath) -> None:
                for path in (bpath, lpath):
                    xs.write(f"{path}/params", params.encode(), tx=t.id)

            xs.transaction(body)
            return
    ctx.log("error", "libxl_disk.c:1020:libxl_cdrom_insert", "Virtual device not found",
            domid)
    raise DeviceError()
