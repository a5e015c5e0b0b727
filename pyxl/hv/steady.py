"""Steady pools: a cpupool whose future its guests' workloads alone decide.

Most hosts sit idle most of the time: each vCPU wakes for its few ms of work
and finds a pCPU free at once. Then no scheduler decision changes what any
vCPU gets, and a vCPU's runstates at any later time follow from its own
workload alone: a busy vCPU runs, an idle or periodic one runs its job from
each release and blocks until the next. Running the scheduler's events over
a gap (or even a bounded window of them) is then wasted work, and so is
rewriting every vCPU row after it.

So when a scheduler engine saves a pool, it also asks `headroom(engine)`:
if every eligible vCPU's demand is of a repeating kind (busy, idle,
periodic), may run on every pCPU of the pool and prefers none, is not
capped (credit, credit2) and may use spare time (RTDS extratime), if none is
waiting for a pCPU, and if at no instant can more vCPUs want a pCPU than the
pool has (busy ones count always, idle and periodic ones by how their jobs'
windows overlap over one period), the pool is steady with
`pCPUs - that bound` to spare, saved as the pool's `sched_state["steady"]`.

A steady pool's vCPU rows hold each vCPU as of an anchor: the pool's saved
moment (`sched_state["t"]`), or the vCPU's own `sched_state["at"]` when an
operation on its domain alone settled it since (pausing it, unpausing it
while the pool had room). `evolve` brings a row from its anchor to any
later time exactly (what simulating every event would give, runstate times
included). Readers see those views; the rows are not rewritten. The pool
stays steady until something a scheduler would have to decide on happens:
a domain unpaused with more vCPUs than the room left, new scheduler
parameters, a cpupool change; then the hypervisor settles the pool (every
row brought to now and written) and the engine runs from there.

Simplifications (named, as the docs list them): a vCPU of a steady pool
stays on the pCPU it last ran on (the real scheduler may move a waking vCPU
to another idle pCPU; what it gets is the same), and the scheduler's own
bookkeeping (credits, deadlines) is carried over as saved, the relabelling
the long-gap shortcut already makes (pyxl/hv/sched/__init__.py). SEDF, whose
reservations can hold a vCPU back with pCPUs idle, is never steady.
"""

from __future__ import annotations

import functools

from pyxl.hv.runstate import BLOCKED, OFFLINE, RUNNING

STEADY_SCHEDS = frozenset({"credit", "credit2", "rtds"})
REPEATING_KINDS = frozenset({"busy", "idle", "periodic"})


def pool_is_steady(sched_state: dict, now_ns: int) -> bool:
    """Whether the pool's stored rows can be read at `now_ns` without
    running its scheduler: steady, or saved at that very moment."""
    return sched_state.get("steady") is not None or sched_state.get("t") == now_ns


def vcpu_fits(sched: str, pool_cpus: list[int], dom, v) -> bool:
    """Whether vCPU `v` of `dom` has a shape a steady pool allows (see the
    module docstring): its demand repeats, nothing restricts or caps it."""
    if sched not in STEADY_SCHEDS:
        return False
    kind = v.workload.split(":", 1)[0]
    if kind not in REPEATING_KINDS:
        return False
    if v.hard_affinity is not None and not set(pool_cpus) <= set(v.hard_affinity):
        return False
    if v.soft_affinity is not None and not set(pool_cpus) <= set(v.soft_affinity):
        return False
    if sched in ("credit", "credit2") and int(dom.sched_params.get("cap", 0) or 0):
        return False
    if sched == "rtds":
        # with extratime a vCPU runs past its budget when a pCPU is free, but
        # a job longer than the budget, or one released as the last ends, can
        # still wait at a replenishment (an exact run shows it)
        p = dict(dom.sched_params)
        p.update(v.sched_params)
        if not int(p.get("extratime", 1)):
            return False
        job, period = _job_of_spec(v.workload)
        if kind != "busy" and (job > int(p.get("budget", 4000)) * 1000 or job >= period):
            return False
    return True


@functools.lru_cache(maxsize=64)
def _job_of_spec(spec: str) -> tuple[int, int]:
    """(CPU time per release, release period) of a workload spec; (0, 0) for busy."""
    from pyxl.hv.workload import IDLE_PERIOD_NS, IDLE_WORK_NS, periodic_params

    if spec == "idle":
        return IDLE_WORK_NS, IDLE_PERIOD_NS
    if spec.startswith("periodic:"):
        return periodic_params(spec)
    return 0, 0


def headroom(eng) -> int | None:
    """How many more always-runnable vCPUs the pool could take and stay
    steady, or None if it is not steady now (see the module docstring)."""
    if eng.name not in STEADY_SCHEDS:
        return None
    pool_cpus = [pc.cpu for pc in eng.pcpus]
    n = len(pool_cpus)
    now = eng.now
    always = 0
    windows: dict[tuple[int, int], list[int]] = {}  # (job, period) -> release phases
    for vs in eng.vss:
        if not vs.eligible:
            continue
        if vs.parked or vs.state not in (RUNNING, BLOCKED) or vs.demand is None \
                or not vcpu_fits(eng.name, pool_cpus, vs.dom, vs.v):
            return None
        d = vs.demand
        job, period = _job_of_spec(d.spec)
        if period == 0 or job >= period:  # busy, or a job as long as its period
            always += 1
            continue
        nr = d.next_release
        if nr is None:
            return None
        if vs.state == RUNNING:
            # its job must end by the next release, and from where it would
            # have started on time: else it waited, or is late, so count it
            # beside the pattern
            end = now + (d.work or 0)
            if end > nr:
                return None
            if end != nr - period + job:
                always += 1
        windows.setdefault((job, period), []).append(nr % period)
    bound = always + sum(_max_overlap(phases, job, period)
                         for (job, period), phases in windows.items())
    return n - bound if bound <= n else None


def _max_overlap(phases: list[int], job: int, period: int) -> int:
    """The most windows [phase, phase + job) that overlap at one instant,
    on a circle of `period` (a window ending as another starts does not
    overlap it: the block is handled before the release)."""
    edges = []
    for p in phases:
        end = p + job
        if end <= period:
            edges += ((p, 1), (end, -1))
        else:
            edges += ((p, 1), (period, -1), (0, 1), (end - period, -1))
    edges.sort()  # at one instant, -1 before +1
    best = cur = 0
    for _, step in edges:
        cur += step
        best = max(best, cur)
    return best


def evolve(v, eligible: bool, t_a: int, t: int, seed: int) -> None:
    """Bring vCPU `v` (a model Vcpu whose row describes it at `t_a`) to
    time `t`, in place: runstate, runstate times and workload state, as
    simulating every event of a steady pool gives them."""
    from pyxl.hv.workload import Demand

    if t <= t_a:
        return
    d = Demand.load(v.workload, v.wl_state, seed, v.domid, v.vcpuid, t_a)
    time = dict(v.time)
    if not eligible:
        state = OFFLINE
        time[state] += t - t_a
    else:
        state = _run(d, v.runstate, time, t_a, t)
    v.runstate = state
    v.time = time
    v.wl_state = d.dump(t)


def _run(d, state: str, time: dict, t_a: int, t: int) -> str:
    """One eligible vCPU that always finds a pCPU free, from t_a to t."""
    job, period = _job_of_spec(d.spec)
    cur = t_a
    # as an engine loading the row at t_a would: work overdue (a vCPU that
    # was paused) arrives now, and it runs if it has work (new work, or a
    # new workload), else it blocks
    if d.next_release is not None and d.next_release <= cur:
        d.release(cur)
    state = RUNNING if d.wants_cpu() else BLOCKED
    while True:
        if state == RUNNING:
            if d.work is None:  # busy
                time[RUNNING] += t - cur
                return RUNNING
            end = cur + d.work
            nr = d.next_release
            if nr is None or end <= nr:  # its job ends first (or as work arrives)
                if end > t:
                    time[RUNNING] += t - cur
                    d.consume(t - cur)
                    return RUNNING
                time[RUNNING] += end - cur
                d.on_block(end)
                cur, state = end, BLOCKED
                continue
            if nr > t:
                time[RUNNING] += t - cur
                d.consume(t - cur)
                return RUNNING
            time[RUNNING] += nr - cur
            d.consume(nr - cur)
            cur = nr
            d.release(cur)  # the unfinished job is dropped (missed)
            continue
        nr = d.next_release
        if nr is None or nr > t:
            time[BLOCKED] += t - cur
            return BLOCKED
        time[BLOCKED] += nr - cur
        cur = nr
        d.release(cur)
        if not d.wants_cpu():
            continue
        state = RUNNING
        if period and job <= period and d.work == job and d.next_release == cur + period:
            # on the pattern: skip the whole periods before t at once
            k = (t - cur) // period
            if k > 0:
                time[RUNNING] += k * job
                time[BLOCKED] += k * (period - job)
                cur += k * period
                d.next_release += k * period


def running_at(runstate: str, running_ns: int, workload: str, wl_state: dict,
               eligible: bool, t_s: int, t: int, seed: int = 0,
               domid: int = 0, vcpuid: int = 0) -> tuple[str, int]:
    """A vCPU of a steady pool at time `t`: its runstate and running time,
    from its row as saved at `t_s` (for a reader that has not built the
    model: `list` at a thousand domains; the idle workload's phase, when the
    row has none yet, needs the host's seed and the ids)."""
    if not eligible:
        return OFFLINE, running_ns
    quick = _running_quick(runstate, running_ns, workload, wl_state, t_s, t)
    if quick is not None:
        return quick
    from pyxl.hv.model import Vcpu
    from pyxl.hv.runstate import RUNSTATES

    v = Vcpu(domid=domid, vcpuid=vcpuid, runstate=runstate,
             time={s: (running_ns if s == RUNNING else 0) for s in RUNSTATES},
             workload=workload, wl_state=wl_state)
    evolve(v, eligible, t_s, t, seed)
    return v.runstate, v.time[RUNNING]


def _running_quick(runstate: str, running_ns: int, workload: str, wl_state: dict,
                   t_s: int, t: int) -> tuple[str, int] | None:
    """`_run` in closed form for the usual row (a job in progress or none,
    releases on the grid); None for anything else."""
    if t <= t_s or wl_state.get("spec") != workload:
        return None
    if workload == "busy":
        return (RUNNING, running_ns + t - t_s) if runstate == RUNNING else None
    job, period = _job_of_spec(workload)
    work, rel = wl_state.get("work"), wl_state.get("next_release")
    if not period or type(work) is not int or type(rel) is not int:
        return None
    cur, release = t_s, t_s + rel
    if runstate == RUNNING:
        end = cur + work
        if end > release:
            return None  # a job that would be cut short: the general path
        if end > t:
            return RUNNING, running_ns + t - cur
        running_ns += work
    elif runstate != BLOCKED or work:
        return None
    if release > t:
        return BLOCKED, running_ns
    cycles, into = divmod(t - release, period)
    running_ns += cycles * job + min(into, job)
    return (RUNNING if into < job else BLOCKED), running_ns
