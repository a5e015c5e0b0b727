"""What xentop reads through libxenstat: one sample of the host and its domains.

CPU% is computed by the caller between two samples, from simulated time
(xentop uses the wall-clock gap between its samples; here the clock that
counts is the host's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyxl.hv.model import MAX_PAGES_KB, SHUTDOWN_CRASH
from pyxl.toolstack.ctx import Ctx


@dataclass
class DomStat:
    """xenstat_domain, reduced to what xentop shows."""

    domid: int
    name: str
    state: str            # six letters or '-': d s b c p r, in xentop's order
    cpu_ns: int
    cur_kb: int
    max_kb: int | None    # None: no limit
    vcpus: int            # online vCPUs
    nets: int
    vbds: int
    ssid: int
    vcpu_ns: list[tuple[int, int]] = field(default_factory=list)  # (vcpuid, ns) online
    # xenstat_network of each vif: (rbytes, rpackets, rerrs, rdrop, tbytes,
    # tpackets, terrs, tdrop), dom0's vifD.N counters as libxenstat reads them.
    networks: list[tuple[int, ...]] = field(default_factory=list)
    # xenstat_vbd of each vbd: (dev, oo_reqs, rd_reqs, wr_reqs, rd_sects, wr_sects).
    vbd_list: list[tuple[int, ...]] = field(default_factory=list)

    def net_bytes(self, rx: bool) -> int:
        """xentop's tot_net_bytes: the sum over the domain's vifs."""
        return sum(n[0] if rx else n[4] for n in self.networks)

    def vbd_total(self, i: int) -> int:
        """xentop's tot_vbd_reqs: column i (1 oo, 2 rd, 3 wr, 4 rsect, 5 wsect)."""
        return sum(v[i] for v in self.vbd_list)


@dataclass
class Sample:
    """xenstat_node: the host at one moment (simulated ns since boot)."""

    now_ns: int
    wall: float
    domains: list[DomStat]
    tot_kb: int
    free_kb: int
    nr_cpus: int
    cpu_mhz: int
    xen_version: str = "4.23-unstable"


def _children(ctx: Ctx, path: str) -> list[str]:
    xs = ctx.xs()
    return xs.directory(path) if xs.exists(path) else []


def _devids(names: list[str]) -> list[str]:
    return sorted((x for x in names if x.isdigit()), key=int)


def _backend_stats(ctx: Ctx, domid: int, vifs: list[str], vbds: list[str]) -> tuple[list, list]:
    """What dom0's /proc/net/dev and blkback's sysfs statistics say of the
    domain's vifs and vbds. libxenstat takes each vifD.N line as it is (its
    Receive columns, what the guest sent, become the domain's rbytes, and so
    NETRX), as it has since Xen 4.0 (commit 1fd93d4f8c)."""
    from pyxl.sim import traffic

    host = ctx.host
    nets = [tuple(traffic.vif_stats(host, domid, n)) for n in _devids(vifs)]
    blks = [(int(n), *traffic.vbd_stats(host, domid, n)) for n in _devids(vbds)]
    return nets, blks


def sample(ctx: Ctx) -> Sample:
    """xenstat_get_node: every domain, sorted later by the viewer."""
    hv = ctx.hv
    doms = []
    from pyxl.sim import traffic

    stats = traffic.has_stats(ctx.host)
    if stats:
        traffic.view_at(ctx.host, ctx.host.now_ns)
    for info in hv.list_domains():
        d = hv.domains[info.domid]
        crashed = info.shutdown and info.shutdown_reason == SHUTDOWN_CRASH
        flags = (("d", info.dying), ("s", info.shutdown), ("b", info.blocked),
                 ("c", crashed), ("p", info.paused), ("r", info.running))
        state = "".join(ch if on else "-" for ch, on in flags)
        dpath = f"/local/domain/{info.domid}/device"
        vifs, vbds = _children(ctx, f"{dpath}/vif"), _children(ctx, f"{dpath}/vbd")
        doms.append(DomStat(
            domid=info.domid, name=d.name, state=state, cpu_ns=info.cpu_time_ns,
            cur_kb=info.current_memkb,
            # xenstat: max_pages at UINT_MAX is "no limit"
            max_kb=None if info.max_memkb >= MAX_PAGES_KB else info.max_memkb,
            vcpus=info.vcpu_online,
            nets=len(vifs), vbds=len(vbds), ssid=info.ssidref,
            vcpu_ns=[(v.vcpuid, v.cpu_time) for v in d.vcpus if v.online]))
        if stats:
            doms[-1].networks, doms[-1].vbd_list = _backend_stats(ctx, info.domid, vifs, vbds)
        else:  # no backend has counted anything: Domain-0's state is not read
            doms[-1].networks = [(0,) * 8] * len(_devids(vifs))
            doms[-1].vbd_list = [(int(n), 0, 0, 0, 0, 0) for n in _devids(vbds)]
    phys = ctx.host.physinfo
    return Sample(now_ns=ctx.host.now_ns, wall=ctx.host.wall_time(), domains=doms,
                  tot_kb=phys.total_kb, free_kb=hv.free_kb(), nr_cpus=phys.nr_cpus,
                  cpu_mhz=phys.cpu_khz // 1000)


def cpu_pct(cur: DomStat, prev: Sample | None, now_ns: int) -> float:
    """xentop's get_cpu_pct: 0 without a previous sample of the same domain."""
    if prev is None or now_ns <= prev.now_ns:
        return 0.0
    old = next((d for d in prev.domains if d.domid == cur.domid), None)
    if old is None:
        return 0.0
    return 100.0 * (cur.cpu_ns - old.cpu_ns) / (now_ns - prev.now_ns)


def summary_counts(s: Sample) -> dict[str, int]:
    """do_summary's tally: each domain counted once, in xentop's precedence."""
    counts = dict(running=0, blocked=0, paused=0, crashed=0, dying=0, shutdown=0)
    for d in s.domains:
        for key, letter in (("running", "r"), ("blocked", "b"), ("paused", "p"),
                            ("shutdown", "s"), ("crashed", "c"), ("dying", "d")):
            if letter in d.state:
                counts[key] += 1
                break
    return counts
