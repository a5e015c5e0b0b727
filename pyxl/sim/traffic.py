"""Traffic you can watch: packets on vifs and requests on vbds, as the
backends count them.

A guest whose workload has a ``net:`` or ``io:`` part (pyxl/hv/workload.py)
sends on its first vif or issues requests on its first vbd. Domain-0's
netback and blkback count what they carry, per device, the way Linux does:

- a vif is dom0's interface vifD.N, seen from dom0: its *rx* counts what the
  guest sent (netback received it from the guest's TX ring), its *tx* what
  netback delivered to the guest. A packet goes from the sender's vif to the
  bridge (the backend's ``bridge`` node, libxl's default xenbr0) and from
  there to the destination's first vif on the same bridge. A destination
  whose vif there is not Connected drops it in netback's start_xmit (that
  vif's tx_dropped); one with no vif on that bridge, or no such domain, is
  a packet the bridge has nowhere to send: counted as a drop against the
  device it came in on (the sender's vif, rx_dropped). ``to=bridge`` is
  traffic for dom0 itself.
- a vbd counts rd_req, wr_req, rd_sect, wr_sect and oo_req (requests that
  found no free slot: none here, the backend keeps up) as blkback's sysfs
  ``statistics`` do.

Closed form: over a window of simulated time the number of packets (or
requests) is rate x time in integer arithmetic, the remainder carried to
the next window, so an hour costs what a second does. The host calls
`account` for each window the clock moves through (pyxl/sim/host.py).
Simplification: a guest sends while its domain may run (not paused, shut
down or dying) and its userspace is up, whatever its vCPUs' runstates;
nothing is sent on a device whose two ends are not both Connected (4).

What each ring pass is, for ``--trace``: netfront notifies netback
(EVTCHNOP_send on the vif's channel), netback copies the pass's packets
from the guest's granted pages in one GNTTABOP_copy batch (up to
NET_TX_RING_SIZE = 256 requests a pass; a packet larger than a page is one
copy per page) and notifies the guest of the responses; delivery to the
destination is another GNTTABOP_copy batch into its granted rx buffers and
a notification. The data pages are represented by the ring's own grant
(tx-ring-ref, rx-ring-ref). blkfront's requests (32 a pass, a one-page
ring) use persistent grants, so a pass is the two notifications only.
Every command makes the first TRACED_PASSES passes of each device for real
(they raise the channels' pending bits) and counts the rest: a trace shows
those passes, then one ``pyxl_traffic`` line with what was not shown.

The counters and carries live in Domain-0's guest state (`backend`); the
host's meta ``traffic`` lists the sending guests, so that a host without
traffic reads nothing more.
"""

from __future__ import annotations

import json

from pyxl.xenstore.lookup import directory_or_empty as _directory
from pyxl.xenstore.lookup import read_or_none as _read

NS_PER_S = 1_000_000_000
CONNECTED = 4
NET_TX_RING_SIZE = 256
BLK_RING_SIZE = 32
PAGE_SIZE = 4096
SECTOR = 512
TRACED_PASSES = 2
DEFAULT_BRIDGE = "xenbr0"
# vifD.N's counters as /proc/net/dev has them (dom0's view).
RX_BYTES, RX_PACKETS, RX_ERRS, RX_DROP, TX_BYTES, TX_PACKETS, TX_ERRS, TX_DROP = range(8)
# vbd-D-DEV's statistics.
OO_REQ, RD_REQ, WR_REQ, RD_SECT, WR_SECT = range(5)


# --- which guests send --------------------------------------------------------

def senders(host) -> list[int]:
    text = host.meta.get("traffic")
    try:
        return [int(x) for x in json.loads(text)] if text else []
    except (ValueError, TypeError):
        return []


def _set_senders(host, domids: list[int]) -> None:
    value = json.dumps(sorted(set(domids)))
    if host.meta.get("traffic") != value:
        host.set_meta("traffic", value)


def workload_changed(host, d, g) -> None:
    """The guest's workload was set: it sends from now on, or no longer."""
    from pyxl.hv.workload import guest_parts

    now = senders(host)
    sends = bool(guest_parts(g.workload))
    if sends and d.domid not in now:
        _set_senders(host, now + [d.domid])
    elif not sends and d.domid in now:
        _set_senders(host, [x for x in now if x != d.domid])


def backend_state(host) -> dict:
    """Domain-0's netback/blkback counters: {"vif": {"D.N": [8 counters]},
    "vbd": {"D.DEV": [5 counters]}, "carry": {...}, "upto": ns}."""
    return host.guest(0).backend


# --- the window ----------------------------------------------------------------

def account(host, t0: int, t1: int, trace: bool = True) -> None:
    """Carry every sender's traffic over (t0, t1]."""
    if t1 <= t0:
        return
    from pyxl.hv.workload import guest_parts

    if not senders(host):
        return
    state = backend_state(host)
    t0 = max(t0, state.get("upto", t0))  # a view at now already counted up to there
    if t1 <= t0:
        return
    keep = []
    for domid in senders(host):
        d = host.hv.domains.get(domid)
        if d is None:
            continue
        g = host.guest(domid)
        parts = guest_parts(g.workload)
        if not parts:
            continue
        keep.append(domid)
        sending = d.can_run and g.phase == "up"
        if "net" in parts:
            _net(host, state, d, parts["net"], t0, t1, sending, trace)
        if "io" in parts:
            _io(host, state, d, parts["io"], t0, t1, sending, trace)
    _prune(host, state)
    state["upto"] = t1
    host.mark_guest_dirty(0)
    _set_senders(host, keep)


def _count(state: dict, key: str, rate: int, t0: int, t1: int) -> int:
    """rate x (t1 - t0) in whole events, the remainder carried."""
    carry = state.setdefault("carry", {})
    acc = carry.get(key, 0) + rate * (t1 - t0)
    carry[key] = acc % NS_PER_S
    return acc // NS_PER_S


def _first(xs, domid: int, kind: str) -> str | None:
    devs = [x for x in _directory(xs, f"/local/domain/{domid}/device/{kind}") if x.isdigit()]
    return min(devs, key=int) if devs else None


def _ends(xs, domid: int, kind: str, devid: str) -> tuple[str, str | None, bool]:
    """(frontend path, backend path, both ends Connected)."""
    fpath = f"/local/domain/{domid}/device/{kind}/{devid}"
    bpath = _read(xs, f"{fpath}/backend")
    up = (_read(xs, f"{fpath}/state") == str(CONNECTED) and bpath is not None
          and _read(xs, f"{bpath}/state") == str(CONNECTED))
    return fpath, bpath, up


def _first_connected(xs, domid: int, kind: str) -> tuple[str, str, str] | None:
    """(devid, frontend path, backend path) of the guest's first device of the
    kind, when both its ends are Connected; None otherwise (a guest's stack
    drops what it has no ring for)."""
    devid = _first(xs, domid, kind)
    if devid is None:
        return None
    fpath, bpath, up = _ends(xs, domid, kind, devid)
    return (devid, fpath, bpath) if up else None


def _bridge(xs, bpath: str | None) -> str:
    return (_read(xs, f"{bpath}/bridge") if bpath else None) or DEFAULT_BRIDGE


def _net(host, state, d, net: dict, t0, t1, sending, trace) -> None:
    n = _count(state, f"net:{d.domid}", net["tx"], t0, t1)
    if not sending or n == 0:
        return
    xs = host.xs()
    dev = _first_connected(xs, d.domid, "vif")
    if dev is None:
        return
    devid, fpath, bpath = dev
    vifs = state.setdefault("vif", {})
    size = net["size"]
    src = vifs.setdefault(f"{d.domid}.{devid}", [0] * 8)
    src[RX_BYTES] += n * size
    src[RX_PACKETS] += n
    dest = _destination(host, xs, net["to"], _bridge(xs, bpath))
    if dest is None:
        src[RX_DROP] += n
    elif dest != "bridge":
        ddomid, ddevid, dup = dest
        dst = vifs.setdefault(f"{ddomid}.{ddevid}", [0] * 8)
        if dup:
            dst[TX_BYTES] += n * size
            dst[TX_PACKETS] += n
        else:
            dst[TX_DROP] += n
    if trace:
        deliver = dest if dest not in (None, "bridge") and dest[2] else None
        _net_passes(host, d.domid, fpath, deliver, n, size)


def _destination(host, xs, to: str, bridge: str):
    """"bridge", (domid, devid, Connected) of the destination's first vif on
    `bridge`, or None: nowhere on this bridge to send it."""
    if to == "bridge":
        return "bridge"
    domid = int(to) if to.isdigit() else host.domid_by_name(to)
    if domid is None or domid not in host.hv.domains:
        return None
    for devid in sorted((x for x in _directory(xs, f"/local/domain/{domid}/device/vif")
                         if x.isdigit()), key=int):
        _, bpath, up = _ends(xs, domid, "vif", devid)
        if bpath is not None and _bridge(xs, bpath) == bridge:
            return domid, devid, up
    return None


def _io(host, state, d, io: dict, t0, t1, sending, trace) -> None:
    reads = _count(state, f"io-read:{d.domid}", io["read"], t0, t1)
    writes = _count(state, f"io-write:{d.domid}", io["write"], t0, t1)
    if not sending or reads + writes == 0:
        return
    xs = host.xs()
    dev = _first_connected(xs, d.domid, "vbd")
    if dev is None:
        return
    devid, fpath, _bpath = dev
    sects = io["size"] // SECTOR
    c = state.setdefault("vbd", {}).setdefault(f"{d.domid}.{devid}", [0] * 5)
    c[RD_REQ] += reads
    c[WR_REQ] += writes
    c[RD_SECT] += reads * sects
    c[WR_SECT] += writes * sects
    if trace:
        _passes(host, f"vbd{d.domid}.{devid}", reads + writes, BLK_RING_SIZE,
                lambda k: _notify(host, d.domid, fpath))


def _prune(host, state: dict) -> None:
    """A destroyed domain's backends are gone, and their counters with them."""
    for kind in ("vif", "vbd"):
        part = state.get(kind, {})
        for key in [k for k in part if int(k.split(".")[0]) not in host.hv.domains]:
            del part[key]


# --- the ring passes (what --trace shows) ----------------------------------------

def _passes(host, dev: str, n: int, per_pass: int, one_pass) -> None:
    """Make the first TRACED_PASSES passes of this command for `dev`, count the rest."""
    tally = host.traffic_untraced
    shown, passes, packets = tally.get(dev, (0, 0, 0))
    while n > 0:
        k = min(n, per_pass)
        n -= k
        if shown < TRACED_PASSES:
            one_pass(k)
            shown += 1
        else:
            whole = n // per_pass  # the rest in closed form
            passes += 1 + whole + (1 if n % per_pass else 0)
            packets += k + n
            n = 0
    tally[dev] = (shown, passes, packets)


def summarise(host) -> None:
    """One trace line per device for the passes not shown."""
    tally, host.traffic_untraced = host.traffic_untraced, {}
    for dev, (_shown, passes, packets) in sorted(tally.items()):
        if passes:
            host.hv.trace("pyxl_traffic", dev=dev, passes_not_shown=passes,
                          requests=packets)


def _net_passes(host, domid: int, fpath: str, dest, n: int, size: int) -> None:
    xs = host.xs()
    tx_ref = _read(xs, f"{fpath}/tx-ring-ref")
    devid = fpath.rsplit("/", 1)[1]

    def one_pass(k: int) -> None:
        from pyxl.hv import gnttab

        hv = host.hv
        copies = k * -(-size // PAGE_SIZE)
        length = min(size, PAGE_SIZE)
        _notify_backend(host, domid, fpath)
        if tx_ref and tx_ref.isdigit():
            gnttab.copy(hv, 0, (int(tx_ref), domid, 0), (0, gnttab.DOMID_SELF, 0),
                        length, gnttab.GNTCOPY_source_gref, count=copies)
        _notify_frontend(host, domid, fpath)
        if dest is not None:
            ddomid, ddevid, _ = dest
            dpath = f"/local/domain/{ddomid}/device/vif/{ddevid}"
            rx_ref = _read(xs, f"{dpath}/rx-ring-ref")
            if rx_ref and rx_ref.isdigit():
                gnttab.copy(hv, 0, (0, gnttab.DOMID_SELF, 0), (int(rx_ref), ddomid, 0),
                            length, gnttab.GNTCOPY_dest_gref, count=copies)
            _notify_frontend(host, ddomid, dpath)

    _passes(host, f"vif{domid}.{devid}", n, NET_TX_RING_SIZE, one_pass)


def _notify(host, domid: int, fpath: str) -> None:
    _notify_backend(host, domid, fpath)
    _notify_frontend(host, domid, fpath)


def _notify_backend(host, domid: int, fpath: str) -> None:
    """The frontend kicks its backend: EVTCHNOP_send on its own port."""
    from pyxl.hv.errors import HypercallError

    port = _read(host.xs(), f"{fpath}/event-channel")
    if port and port.isdigit():
        try:
            host.hv.evtchn_op_send(domid, int(port))
        except HypercallError:
            pass


def _notify_frontend(host, domid: int, fpath: str) -> None:
    """The backend answers: EVTCHNOP_send on its end of the same channel."""
    from pyxl.hv import evtchn
    from pyxl.hv.errors import HypercallError

    port = _read(host.xs(), f"{fpath}/event-channel")
    d = host.hv.domains.get(domid)
    if not (port and port.isdigit()) or d is None:
        return
    e = evtchn._entry(d, int(port))
    if e is None or e[0] != evtchn.INTERDOMAIN:
        return
    try:
        host.hv.evtchn_op_send(e[2], e[3])
    except HypercallError:
        pass


# --- what xentop reads --------------------------------------------------------------

def vif_stats(host, domid: int, devid: str) -> list[int]:
    """vifD.N's /proc/net/dev counters in dom0 (zeros for one never used)."""
    return list(backend_state(host).get("vif", {}).get(f"{domid}.{devid}", [0] * 8))


def vbd_stats(host, domid: int, devid: str) -> list[int]:
    """vbd-D-DEV's statistics (oo_req, rd_req, wr_req, rd_sect, wr_sect)."""
    return list(backend_state(host).get("vbd", {}).get(f"{domid}.{devid}", [0] * 5))


def has_stats(host) -> bool:
    """Whether any backend counts anything (else dom0's state is not read)."""
    return "traffic" in host.meta


def view_at(host, now: int) -> None:
    """A command that does not move time (a read-only one) sees the counters
    at `now`, counted in memory and not kept."""
    if has_stats(host) and senders(host):
        state = backend_state(host)
        account(host, state.get("upto", now), now, trace=False)
