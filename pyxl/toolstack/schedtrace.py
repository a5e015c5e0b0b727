"""sched-trace: run a cpupool's scheduler forward and keep what it did and why.

The duration is cut into equal buckets and the host is advanced bucket by
bucket (the engines resume exactly, so t0->t1->t2 is t0->t2), which gives,
per vCPU and bucket, the share of the bucket it ran and its credit/priority
at the bucket's end, plus every decision record the scheduler emitted (who
was picked on which pCPU, and the reason). Short buckets also mean every
instant is simulated: no long-gap extrapolation happens inside a trace.
Whether the advance is kept is the caller's choice (for --dry-run the CLI
opens a context that commits nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyxl.errors import PyxlError
from pyxl.toolstack.ctx import Ctx

PRI_NAMES = {0: "BOOST", -1: "UNDER", -2: "OVER", -64: "IDLE"}
MAX_BUCKETS = 200


@dataclass
class VcpuTrace:
    key: str            # Xen's d<domid>v<vcpuid>
    domid: int
    vcpuid: int
    name: str
    running_ns: int = 0
    share: float = 0.0                                   # % of one pCPU over the trace
    timeline: list[float] = field(default_factory=list)  # fraction of each bucket run
    credit: list[int | None] = field(default_factory=list)
    pri: list[str | None] = field(default_factory=list)
    cpus: list[int] = field(default_factory=list)        # pCPUs it ran on, by bucket end


@dataclass
class Trace:
    poolid: int
    pool: str
    sched: str
    t0_ns: int
    t1_ns: int
    bucket_ns: int
    nr_pcpus: int
    vcpus: list[VcpuTrace]
    decisions: list[dict]
    decisions_total: int


def run_trace(ctx: Ctx, duration_ns: int, poolid: int = 0, buckets: int = 50,
              max_decisions: int = 2000) -> Trace:
    host, hv = ctx.host, ctx.hv
    if duration_ns <= 0:
        raise PyxlError("sched-trace: the duration must be positive")
    if not host.writable:
        raise PyxlError("sched-trace needs to run the simulation (write access)")
    pool = hv.pools[poolid]
    buckets = max(1, min(buckets, MAX_BUCKETS, duration_ns // 1_000_000 or 1))
    t0 = host.now_ns
    bounds = [t0 + duration_ns * (i + 1) // buckets for i in range(buckets)]
    members = [d for d in sorted(hv.domains.values(), key=lambda d: d.domid)
               if d.poolid == poolid]
    traces = {f"d{d.domid}v{v.vcpuid}": VcpuTrace(f"d{d.domid}v{v.vcpuid}", d.domid,
                                                  v.vcpuid, d.name)
              for d in members for v in d.vcpus}
    pool_cpus = set(pool.cpus)
    records: list[dict] = []
    total = 0

    def keep(rec: dict) -> None:
        nonlocal total
        mine = (rec.get("pcpu") in pool_cpus or rec.get("vcpu") in traces
                or rec.get("prev") in traces
                or (rec.get("pcpu") is None and rec.get("sched") == pool.sched
                    and rec.get("vcpu") is None and rec.get("prev") is None))
        if not mine:
            return
        total += 1
        if len(records) < max_decisions:
            records.append(_plain(rec))

    hv.sched_trace = keep
    try:
        start = t0
        for end in bounds:
            before = _run_times(members)
            host.advance_to(end)
            after = _run_times(members)
            span = end - start
            for d in members:
                for v in d.vcpus:
                    vt = traces.get(f"d{d.domid}v{v.vcpuid}")
                    if vt is None:
                        continue
                    ran = after.get(vt.key, 0) - before.get(vt.key, 0)
                    vt.running_ns += ran
                    vt.timeline.append(ran / span if span else 0.0)
                    ss = v.sched_state or {}
                    vt.credit.append(ss.get("credit"))
                    pri = ss.get("pri")
                    vt.pri.append(PRI_NAMES.get(pri, str(pri)) if pri is not None else None)
                    vt.cpus.append(v.cpu)
            start = end
    finally:
        hv.sched_trace = None
    for vt in traces.values():
        vt.share = 100.0 * vt.running_ns / duration_ns
    return Trace(poolid=poolid, pool=pool.name, sched=pool.sched, t0_ns=t0,
                 t1_ns=t0 + duration_ns, bucket_ns=duration_ns // buckets,
                 nr_pcpus=len(pool.cpus), vcpus=list(traces.values()),
                 decisions=records, decisions_total=total)


def _run_times(domains) -> dict[str, int]:
    return {f"d{d.domid}v{v.vcpuid}": v.cpu_time for d in domains for v in d.vcpus}


def _plain(rec: dict) -> dict:
    """A record safe to keep and to dump as JSON (no live objects)."""
    out = {}
    for k, v in rec.items():
        if isinstance(v, (dict, list, str, int, float, bool)) or v is None:
            out[k] = v
        else:
            out[k] = str(v)
    return out
