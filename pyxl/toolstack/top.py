"""What xentop reads through libxenstat: one sample of the host and its domains.

CPU% is computed by the caller between two samples, from simulated time
(xentop uses the wall-clock gap between its samples; here the clock that
counts is the host's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyxl.hv.model import SHUTDOWN_CRASH
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


def _count(ctx: Ctx, path: str) -> int:
    xs = ctx.xs()
    return len(xs.directory(path)) if xs.exists(path) else 0


def sample(ctx: Ctx) -> Sample:
    """xenstat_get_node: every domain, sorted later by the viewer."""
    hv = ctx.hv
    doms = []
    for info in hv.list_domains():
        d = hv.domains[info.domid]
        crashed = info.shutdown and info.shutdown_reason == SHUTDOWN_CRASH
        flags = (("d", info.dying), ("s", info.shutdown), ("b", info.blocked),
                 ("c", crashed), ("p", info.paused), ("r", info.running))
        state = "".join(ch if on else "-" for ch, on in flags)
        dpath = f"/local/domain/{info.domid}/device"
        doms.append(DomStat(
            domid=info.domid, name=d.name, state=state, cpu_ns=info.cpu_time_ns,
            cur_kb=info.current_memkb, max_kb=info.max_memkb, vcpus=info.vcpu_online,
            nets=_count(ctx, f"{dpath}/vif"), vbds=_count(ctx, f"{dpath}/vbd"),
            ssid=info.ssidref,
            vcpu_ns=[(v.vcpuid, v.cpu_time) for v in d.vcpus if v.online]))
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
