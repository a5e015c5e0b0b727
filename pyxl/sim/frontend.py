"""Split drivers: the guest's frontends and the backend domain's backends.

Linux's xen-netfront/xen-blkfront in the guest and netback/blkback in
Domain-0 (or a driver domain) find each other through XenStore and walk the
XenbusState handshake (internals.md 1.4):

- the toolstack writes both directories at state 1 (Initialising);
- the backend's probe moves it to 2 (InitWait); a vif's hotplug script
  (the `script` node) writes hotplug-status "connected";
- the frontend, once its xenbus is up and its `device` watch fires, grants
  its ring page(s) to the backend, allocates an unbound event channel for it,
  publishes `ring-ref` (vif: `tx-ring-ref`/`rx-ring-ref`) and
  `event-channel`, and moves to 3 (Initialised);
- the backend maps the grant(s), binds the channel, moves to 4 (Connected),
  and the frontend, seeing it, moves to 4 too.

On detach the backend closes (5), the frontend answers 5, the backend unmaps
and unbinds and reaches 6, the frontend revokes its grants, closes its port
and reaches 6. A guest without PV drivers never answers: its frontends stay 1.
"""

from __future__ import annotations

from pyxl.sim import vfront  # the other kinds' drivers, and the handshake all share
from pyxl.xenstore.lookup import directory_or_empty as _directory
from pyxl.xenstore.lookup import read_or_none as _read

INITIALISING, INIT_WAIT, INITIALISED, CONNECTED, CLOSING, CLOSED = 1, 2, 3, 4, 5, 6
KINDS = ("vif", "vbd", "vusb", "vkbd", "vtpm", "vdispl", "vsnd")
# The ring grants a frontend publishes when it is not one ring-ref (xen-hcd:
# the URB ring and the port-connection ring).
RING_KEYS = {"vif": ("tx-ring-ref", "rx-ring-ref"), "vusb": ("urb-ring-ref", "conn-ring-ref")}


def _state(xs, path: str) -> int:
    value = _read(xs, f"{path}/state")
    return int(value) if value and value.isdigit() else 0


# --- the backend (Domain-0's or a driver domain's kernel) ---------------------

def backend_probe(host, backend: int, bpath: str, kind: str) -> None:
    """netback/blkback probe of a new backend directory: InitWait; a vif's
    hotplug script (vif-bridge) plugs the interface and says so."""
    if kind in vfront.KINDS:
        return vfront.backend_probe(host, backend, bpath)
    xs = host.xs(caller=backend)
    if kind == "vif":
        xs.write(f"{bpath}/hotplug-status", b"connected")
    elif kind == "vbd":
        xs.write(f"{bpath}/physical-device", b"fe:0")
    xs.write(f"{bpath}/state", str(INIT_WAIT).encode())


def _backend_connect(host, domid: int, backend: int, fpath: str,
                     bpath: str, kind: str) -> bool:
    """The frontend is Initialised: map its ring grant(s), bind its channel."""
    from pyxl.hv import gnttab
    from pyxl.hv.errors import HypercallError

    hv, xs = host.hv, host.xs(caller=backend)
    keys = RING_KEYS.get(kind, ("ring-ref",))
    port = _read(xs, f"{fpath}/event-channel")
    refs = [_read(xs, f"{fpath}/{k}") for k in keys]
    if port is None or not port.isdigit() or not all(r and r.isdigit() for r in refs):
        return False
    for ref in refs:
        status, _ = hv.gnttab_op_map_grant_ref(backend, domid, int(ref), gnttab.GNTMAP_host_map)
        if status != gnttab.GNTST_okay:
            return False
    try:  # what the frontend wrote is the guest's to write: a bad port fails the bind
        hv.evtchn_op_bind_interdomain(backend, domid, int(port))
    except HypercallError:
        return False
    if kind == "vbd":
        for key, value in (("sectors", "2097152"), ("info", "0"), ("sector-size", "512"),
                           ("feature-flush-cache", "1")):
            xs.write(f"{bpath}/{key}", value.encode())
    xs.write(f"{bpath}/state", str(CONNECTED).encode())
    return True


def backend_disconnect(host, domid: int, backend: int, fpath: str | None) -> None:
    """Unmap what the backend mapped of this frontend's grants and close its
    end of the frontend's channel (the frontend's port goes back to unbound)."""
    from pyxl.hv import evtchn, gnttab

    if vfront.kind_of(fpath) in vfront.KINDS:
        return vfront.backend_disconnect(host, domid, backend, fpath)
    hv = host.hv
    bd = hv.domains.get(backend)
    if bd is None:
        return
    fd = hv.domains.get(domid)
    refs: set[int] = set()
    port = None
    if fpath is not None:
        xs = host.xs()
        for key in ("ring-ref", "tx-ring-ref", "rx-ring-ref", "urb-ring-ref", "conn-ring-ref"):
            value = _read(xs, f"{fpath}/{key}")
            if value and value.isdigit():
                refs.add(int(value))
        value = _read(xs, f"{fpath}/event-channel")
        port = int(value) if value and value.isdigit() else None
    for handle, (dom, ref, _flags) in gnttab.entries(bd, "maps"):
        if dom == domid and ref in refs:
            hv.gnttab_op_unmap_grant_ref(backend, handle)
    if fd is not None and port is not None:
        e = evtchn._entry(fd, port)
        if e is not None and e[0] == evtchn.INTERDOMAIN and e[2] == backend:
            hv.evtchn_op_close(backend, e[3])


# --- the frontend (the guest's kernel) ----------------------------------------

def device_watch(host, d, g, t: int, _path) -> None:
    """xenbus_probe_frontend's watch on `device`: probe the new devices and
    connect every frontend whose backend waits for it."""
    xs = host.xs(caller=d.domid)
    for kind in KINDS:
        for devid in _directory(xs, f"device/{kind}"):
            connect(host, d.domid, kind, devid)


def connect(host, domid: int, kind: str, devid: str) -> None:
    """Take one frontend from 1 to 4 if its backend is waiting."""
    if kind in vfront.KINDS:
        return vfront.connect(host, domid, kind, devid)
    fxs = host.xs(caller=domid)
    fpath = f"/local/domain/{domid}/device/{kind}/{devid}"
    waiting = vfront.waiting_backend(fxs, fpath)
    if waiting is None:
        return
    bpath, backend_id = waiting
    if kind == "vif" and _read(fxs, f"{bpath}/hotplug-status") != "connected":
        return
    keys = RING_KEYS.get(kind, ("ring-ref",))
    taken = vfront.take_rings(host, domid, backend_id, kind, devid, len(keys), 1)
    if taken is None:
        return
    refs, (port,) = taken
    writes = [(key, str(ref)) for key, ref in zip(keys, refs)]
    writes.append(("event-channel", str(port)))
    if kind == "vif":
        writes += [("request-rx-copy", "1"), ("feature-rx-notify", "1"), ("feature-sg", "1")]
    elif kind == "vbd":
        writes.append(("protocol", "x86_64-abi"))
    for key, value in writes:
        fxs.write(f"{fpath}/{key}", value.encode())
    fxs.write(f"{fpath}/state", str(INITIALISED).encode())
    if _backend_connect(host, domid, backend_id, fpath, bpath, kind):
        fxs.write(f"{fpath}/state", str(CONNECTED).encode())


def close(host, domid: int, backend: int, fpath: str, bpath: str) -> None:
    """The toolstack asked the backend to close (5): a frontend that
    connected answers 5, the backend disconnects and reaches 6, the frontend
    frees its rings and channel and reaches 6."""
    xs = host.xs()
    front = _state(xs, fpath)
    if front in (INITIALISED, CONNECTED):
        xs.write(f"{fpath}/state", str(CLOSING).encode())
    backend_disconnect(host, domid, backend, fpath)
    if host.hv.domains.get(backend) is not None and xs.exists(bpath):
        xs.write(f"{bpath}/state", str(CLOSED).encode())
    if front in (INITIALISED, CONNECTED):
        _free_rings(host, domid, fpath)
        xs.write(f"{fpath}/state", str(CLOSED).encode())


def _free_rings(host, domid: int, fpath: str) -> None:
    """The frontend's teardown: revoke its ring grants, close its port."""
    from pyxl.hv import gnttab

    if vfront.kind_of(fpath) in vfront.KINDS:
        return vfront.free_rings(host, domid, fpath)
    hv, xs = host.hv, host.xs()
    d = hv.domains.get(domid)
    if d is None:
        return
    for key in ("ring-ref", "tx-ring-ref", "rx-ring-ref", "urb-ring-ref", "conn-ring-ref"):
        value = _read(xs, f"{fpath}/{key}")
        if value and value.isdigit():
            gnttab.end_access(d, int(value))
    value = _read(xs, f"{fpath}/event-channel")
    if value and value.isdigit():
        hv.evtchn_op_close(domid, int(value))
