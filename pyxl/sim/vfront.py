"""Split drivers for the input, TPM, display and sound devices.

xen-kbdfront, xen-tpmfront, xen-front-drm (displfront) and xen-front-pcm
(sndfront) in the guest, and their backends in the backend domain (QEMU's
or the Linux input backend, vtpmback, displ_be, snd_be), walk the same
XenbusState handshake as the vif and vbd drivers (see frontend.py). What
differs is where the rings are: one page for vkbd and vtpm, a request and
an event ring per display connector, and a request and an event ring per
sound stream, each with its own event channel.
"""

from __future__ import annotations

from pyxl.xenstore.lookup import directory_or_empty as _directory
from pyxl.xenstore.lookup import read_or_none as _read

INITIALISING, INIT_WAIT, INITIALISED, CONNECTED, CLOSING = 1, 2, 3, 4, 5
KINDS = ("vkbd", "vtpm", "vdispl", "vsnd")


def _numbered(xs, path: str) -> list[str]:
    """The 0, 1, ... subdirectories a frontend has (connectors, pcms, streams)."""
    return sorted((x for x in _directory(xs, path) if x.isdigit()), key=int)


def rings(xs, fpath: str, kind: str) -> list[tuple[str, str]]:
    """(ring-ref node, event-channel node) of each ring the frontend shares."""
    if kind == "vkbd":
        return [("page-gref", "event-channel")]
    if kind == "vtpm":
        return [("ring-ref", "event-channel")]
    if kind == "vdispl":
        return [(f"{c}/{side}-ring-ref", f"{c}/{side}-event-channel")
                for c in _numbered(xs, fpath) for side in ("req", "evt")]
    return [(f"{p}/{s}/{ref}", f"{p}/{s}/{port}")
            for p in _numbered(xs, fpath) for s in _numbered(xs, f"{fpath}/{p}")
            for ref, port in (("ring-ref", "event-channel"),
                              ("evt-ring-ref", "evt-event-channel"))]


def kind_of(fpath: str | None) -> str | None:
    """The device kind a frontend path names (…/device/<kind>/<devid>)."""
    parts = (fpath or "").split("/")
    return parts[-2] if len(parts) >= 2 else None


def ring_gfn(domid: int, ref: int) -> int:
    """Where a frontend's ring page sits in the guest's memory (below the
    xenstore and console rings the builder placed at the top of its frames),
    for every kind."""
    return 0x100000 + domid * 0x1000 + 0x800 + ref


# --- the backend ---------------------------------------------------------------

def backend_probe(host, backend: int, bpath: str) -> None:
    """The backend sees its new directory and waits for the frontend."""
    host.xs(caller=backend).write(f"{bpath}/state", str(INIT_WAIT).encode())


def _backend_connect(host, domid: int, backend: int, fpath: str, bpath: str,
                     pairs: list[tuple[str, str]]) -> bool:
    """Map each ring grant and bind each channel the frontend published."""
    from pyxl.hv import gnttab
    from pyxl.hv.errors import HypercallError

    hv, xs = host.hv, host.xs(caller=backend)
    for ref_key, port_key in pairs:
        ref, port = _read(xs, f"{fpath}/{ref_key}"), _read(xs, f"{fpath}/{port_key}")
        if not (ref and ref.isdigit() and port and port.isdigit()):
            return False
        status, _ = hv.gnttab_op_map_grant_ref(backend, domid, int(ref),
                                               gnttab.GNTMAP_host_map)
        if status != gnttab.GNTST_okay:
            return False
        try:  # what the frontend wrote is the guest's to write: a bad port fails the bind
            hv.evtchn_op_bind_interdomain(backend, domid, int(port))
        except HypercallError:
            return False
    xs.write(f"{bpath}/state", str(CONNECTED).encode())
    return True


def backend_disconnect(host, domid: int, backend: int, fpath: str | None) -> None:
    """Unmap this frontend's ring grants and close the backend's ends of its
    channels."""
    from pyxl.hv import evtchn, gnttab

    hv = host.hv
    bd = hv.domains.get(backend)
    if bd is None or fpath is None:
        return
    xs = host.xs()
    refs, ports = set(), []
    for ref_key, port_key in rings(xs, fpath, kind_of(fpath)):
        ref, port = _read(xs, f"{fpath}/{ref_key}"), _read(xs, f"{fpath}/{port_key}")
        if ref and ref.isdigit():
            refs.add(int(ref))
        if port and port.isdigit():
            ports.append(int(port))
    for handle, (dom, ref, _flags) in gnttab.entries(bd, "maps"):
        if dom == domid and ref in refs:
            hv.gnttab_op_unmap_grant_ref(backend, handle)
    fd = hv.domains.get(domid)
    for port in ports if fd is not None else ():
        e = evtchn._entry(fd, port)
        if e is not None and e[0] == evtchn.INTERDOMAIN and e[2] == backend:
            hv.evtchn_op_close(backend, e[3])


# --- the frontend ----------------------------------------------------------------

def waiting_backend(fxs, fpath: str) -> tuple[str, int] | None:
    """(backend path, backend domid) of a frontend still Initialising whose
    backend waits for it in InitWait; None otherwise (every kind)."""
    bpath = _read(fxs, f"{fpath}/backend")
    backend = _read(fxs, f"{fpath}/backend-id")
    if bpath is None or backend is None or not backend.isdigit():
        return None
    if _read(fxs, f"{fpath}/state") != str(INITIALISING) or \
            _read(fxs, f"{bpath}/state") != str(INIT_WAIT):
        return None
    return bpath, int(backend)


def grant_ring(d, backend_id: int) -> int:
    """The frontend grants a ring page to its backend: the grant ref."""
    from pyxl.hv import gnttab

    ref = gnttab.grant_access(d, backend_id, 0)
    d.gnttab["refs"][str(ref)][2] = ring_gfn(d.domid, ref)
    return ref


def take_rings(host, domid: int, backend_id: int, kind: str, devid: str,
               nr_refs: int, nr_ports: int) -> tuple[list[int], list[int]] | None:
    """Grant ring pages to the backend and allocate channels for it: (refs,
    ports). When the grant table or the ports run out, the driver gives back
    what it took and fails as Linux's xenbus_dev_fatal does: "<errno> <what>"
    in error/device/<kind>/<devid>/error, and the frontend goes to Closing
    (5). None then."""
    import errno

    from pyxl.hv import gnttab
    from pyxl.hv.errors import HypercallError

    hv = host.hv
    d = hv.domain(domid)
    refs: list[int] = []
    ports: list[int] = []
    try:
        what = "granting access to ring page"
        for _ in range(nr_refs):
            refs.append(grant_ring(d, backend_id))
        what = "allocating event channel"
        for _ in range(nr_ports):
            ports.append(hv.evtchn_op_alloc_unbound(domid, domid, backend_id))
    except HypercallError as e:
        for ref in refs:
            gnttab.end_access(d, ref)
        for port in ports:
            hv.evtchn_op_close(domid, port)
        fxs = host.xs(caller=domid)
        fxs.write(f"/local/domain/{domid}/error/device/{kind}/{devid}/error",
                  f"{getattr(errno, e.errno, 0)} {what}".encode())
        fxs.write(f"/local/domain/{domid}/device/{kind}/{devid}/state", str(CLOSING).encode())
        return None
    return refs, ports


def connect(host, domid: int, kind: str, devid: str) -> None:
    """Take one frontend from 1 to 4 once its backend waits: grant each ring,
    allocate each channel, publish them, Initialised, then Connected."""
    fxs = host.xs(caller=domid)
    fpath = f"/local/domain/{domid}/device/{kind}/{devid}"
    waiting = waiting_backend(fxs, fpath)
    if waiting is None:
        return
    bpath, backend_id = waiting
    pairs = rings(fxs, fpath, kind)
    taken = take_rings(host, domid, backend_id, kind, devid, len(pairs), len(pairs))
    if taken is None:
        return
    for (ref_key, port_key), ref, port in zip(pairs, *taken):
        if kind == "vkbd":
            fxs.write(f"{fpath}/page-ref", str(ring_gfn(domid, ref)).encode())
        fxs.write(f"{fpath}/{ref_key}", str(ref).encode())
        fxs.write(f"{fpath}/{port_key}", str(port).encode())
    if kind == "vtpm":
        fxs.write(f"{fpath}/feature-protocol-v2", b"1")
    fxs.write(f"{fpath}/state", str(INITIALISED).encode())
    if _backend_connect(host, domid, backend_id, fpath, bpath, pairs):
        fxs.write(f"{fpath}/state", str(CONNECTED).encode())


def free_rings(host, domid: int, fpath: str) -> None:
    """The frontend's teardown: revoke each ring grant, close each port."""
    from pyxl.hv import gnttab

    hv, xs = host.hv, host.xs()
    d = hv.domains.get(domid)
    if d is None:
        return
    for ref_key, port_key in rings(xs, fpath, kind_of(fpath)):
        ref, port = _read(xs, f"{fpath}/{ref_key}"), _read(xs, f"{fpath}/{port_key}")
        if ref and ref.isdigit():
            gnttab.end_access(d, int(ref))
        if port and port.isdigit():
            hv.evtchn_op_close(domid, int(port))
