"""The discrete-event core the four schedulers share.

An `Engine` loads the pool's vCPUs, their workload demand and the scheduler's
saved state at t0, runs an event heap forward (`run(t1)` handles the events
due by t1; a later `run(t2)` carries on, and saving then loading in between
changes nothing, so t0->t1->t2 equals t0->t2), and writes everything back with
`save()`. The hypervisor keeps one per pool for as long as nothing it loaded
changes; `advance_pool` uses one for a single interval.

What is common lives here: runstate accounting (a vCPU's time is charged to the
runstate it was in, at every change), the workload events (a running vCPU
blocks when its work is done, a blocked one wakes at its next release), the
per-pCPU scheduling timer and "kicks" (Xen's SCHEDULE_SOFTIRQ: reschedule this
pCPU now, after the current event), parking (a capped vCPU is paused by the
scheduler, so its runstate is offline, as in Xen) and the trace callback.
Each scheduler subclasses `Engine` and supplies `schedule(pc, reason)`,
`on_wake(vs)`, `dequeue(vs)` and its own load/dump of state; the record of a
pCPU (its current vCPU and timer) is saved and restored here for all four.

Persisted state stores every time RELATIVE to the moment it was saved
(`rel()`/`absol()`), so a saved state can be resumed at any later instant: this
is what makes the long-gap shortcut (see __init__.py) a matter of relabelling.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

from pyxl.hv.runstate import BLOCKED, OFFLINE, RUNNABLE, RUNNING
from pyxl.hv.workload import Demand

EV_RELEASE = 0   # workload: new work arrives for a vCPU
EV_BLOCK = 1     # workload: a running vCPU has finished its work
EV_PCPU = 2      # a pCPU's scheduling timer (slice end, or a kick)
EV_SCHED = 3     # first kind free for the scheduler's own timers
# Order of same-instant events: work ends and arrives, scheduler timers
# (ticks, accounting, replenishment), and only then the pCPUs decide.
KIND_ORDER = (1, 0, 9, 2, 3, 4, 5)
KIND_ORDER_PCPU = KIND_ORDER[EV_PCPU]
KIND_ORDER_BLOCK = KIND_ORDER[EV_BLOCK]


def rel(t: int | None, now: int) -> int | None:
    return None if t is None else t - now


def absol(t: int | None, now: int) -> int | None:
    return None if t is None else t + now


def vcpu_key(domid: int, vcpuid: int) -> str:
    """Xen's own notation for a vCPU (printk's %pv): d1v0."""
    return f"d{domid}v{vcpuid}"


class PCpu:
    """A physical CPU of the pool: who runs on it and its scheduling timer."""

    __slots__ = ("cpu", "idx", "curr", "tgen", "timer_at", "timer_reason", "x")

    def __init__(self, cpu: int, idx: int):
        self.cpu = cpu
        self.idx = idx
        self.curr: VS | None = None
        self.tgen = 0
        self.timer_at: int | None = None
        self.timer_reason = "slice end"
        self.x: dict = {}  # scheduler-private


class VS:
    """A vCPU as the simulation sees it (wraps the model's Vcpu)."""

    __slots__ = ("v", "dom", "key", "idx", "state", "since", "pc", "demand",
                 "run_start", "sched_in", "blk_gen", "rel_gen", "hard", "soft",
                 "parked", "eligible", "s", "hset", "hpcs")

    def __init__(self, v, dom):
        self.idx = 0
        self.v = v
        self.dom = dom
        self.key = vcpu_key(v.domid, v.vcpuid)
        self.state = OFFLINE
        self.since = 0
        self.pc: PCpu | None = None
        self.demand: Demand | None = None
        self.run_start = 0
        self.sched_in = 0
        self.blk_gen = 0
        self.rel_gen = 0
        self.hard: list[int] = []
        self.hset: frozenset = frozenset()  # the same pCPUs, for `in` tests
        self.hpcs: list[PCpu] = []  # and as the engine's PCpu records
        self.soft: list[int] | None = None
        self.parked = False
        self.eligible = False
        self.s = None  # scheduler-private record


class Engine:
    """Event loop, runstate bookkeeping and workload plumbing."""

    name = "engine"
    # The shortest window simulated exactly before a long gap is extrapolated
    # (see pyxl/hv/sched/__init__.py); a scheduler with coarse slices raises it.
    min_window_ns = 2_000_000_000
    timer_reason = "slice end"  # what a saved pCPU timer without a reason was for

    def __init__(self, pool, domains, t0: int, seed: int = 0,
                 trace: Callable[[dict], None] | None = None):
        self.pool = pool
        self.now = t0
        self.until = t0  # the end of the current run()
        self.seed = seed
        self.trace = trace
        self.heap: list = []
        self.seq = 0
        self.pcpus = [PCpu(c, i) for i, c in enumerate(sorted(set(pool.cpus)))]
        self.by_cpu = {pc.cpu: pc for pc in self.pcpus}
        self.nidle = len(self.pcpus)  # pCPUs whose curr is None
        self.vss: list[VS] = []
        self.by_key: dict[str, VS] = {}
        self.handlers = [self._ev_release, self._ev_block, self._ev_pcpu]
        pool_cpus = [pc.cpu for pc in self.pcpus]
        for dom in sorted((d for d in domains if d.poolid == pool.poolid),
                          key=lambda d: d.domid):
            for v in sorted(dom.vcpus, key=lambda v: v.vcpuid):
                vs = VS(v, dom)
                hard = [c for c in pool_cpus
                        if v.hard_affinity is None or c in v.hard_affinity]
                vs.hard = hard or list(pool_cpus)  # Xen breaks an impossible affinity
                vs.hset = frozenset(vs.hard)
                vs.hpcs = [self.by_cpu[c] for c in vs.hard]
                if v.soft_affinity is not None:
                    soft = [c for c in vs.hard if c in v.soft_affinity]
                    vs.soft = soft if soft and soft != vs.hard else None
                vs.idx = len(self.vss)
                self.vss.append(vs)
                self.by_key[vs.key] = vs

    # ---------------------------------------------------------------- events
    def post(self, t: int, kind: int, obj, gen: int = 0) -> None:
        # Events due at the same instant run in a canonical order (kind, then
        # the pCPU's or vCPU's index), not in posting order, so that a run
        # resumed from saved state replays exactly what an unbroken run does.
        self.seq += 1
        idx = getattr(obj, "idx", None)
        if idx is None:
            idx = obj or 0
        heapq.heappush(self.heap, (t, KIND_ORDER[kind], idx, self.seq, kind, obj, gen))

    def run(self, t1: int) -> None:
        self.until = t1  # a scheduler may settle whole cycles up to here at once
        heap = self.heap
        pop = heapq.heappop
        handlers = self.handlers
        schedule = self.schedule
        while heap and heap[0][0] <= t1:
            t, _, _, _, kind, obj, gen = pop(heap)
            self.now = t
            if kind == EV_PCPU:  # self._ev_pcpu(obj, gen), inlined: most events are these
                if gen == obj.tgen:
                    obj.timer_at = None
                    schedule(obj, obj.timer_reason)
            else:
                handlers[kind](obj, gen)
        self.now = t1

    def set_timer(self, pc: PCpu, t: int, reason: str = "slice end") -> None:
        gen = pc.tgen = pc.tgen + 1
        pc.timer_at = t
        pc.timer_reason = reason
        self.seq += 1  # self.post(t, EV_PCPU, pc, gen), inlined: the hottest path
        heapq.heappush(self.heap, (t, KIND_ORDER_PCPU, pc.idx, self.seq, EV_PCPU, pc, gen))

    def stop_timer(self, pc: PCpu) -> None:
        pc.tgen += 1
        pc.timer_at = None

    def kick(self, pc: PCpu, reason: str) -> None:
        """Ask pc to reschedule now (after the current event), like raising
        SCHEDULE_SOFTIRQ; an earlier pending kick keeps its reason."""
        if pc.timer_at == self.now and pc.timer_reason != "slice end":
            return
        self.set_timer(pc, self.now, reason)

    def _ev_pcpu(self, pc: PCpu, gen: int) -> None:
        if gen != pc.tgen:
            return
        pc.timer_at = None
        self.schedule(pc, pc.timer_reason)

    # ------------------------------------------------------ runstates, work
    def set_state(self, vs: VS, state: str) -> None:
        now = self.now
        vs.v.time[vs.state] += now - vs.since
        vs.state = state
        vs.since = now

    def start_running(self, vs: VS, pc: PCpu) -> None:
        now = self.now
        self.set_state(vs, RUNNING)
        vs.pc = pc
        vs.v.cpu = pc.cpu
        vs.run_start = now
        vs.sched_in = now
        work = vs.demand.work
        if work is not None:
            vs.blk_gen += 1
            self.post(now + work, EV_BLOCK, vs, vs.blk_gen)

    def stop_running(self, vs: VS, state: str = RUNNABLE) -> None:
        vs.demand.consume(self.now - vs.run_start)
        vs.run_start = self.now
        vs.blk_gen += 1
        self.set_state(vs, state)

    def switch(self, pc: PCpu, nxt: VS | None) -> None:
        """Put `nxt` (None: idle) on pc; the previous vCPU, if it was still
        running, becomes runnable (the scheduler has already re-queued it)."""
        prev = pc.curr
        if prev is nxt:
            return
        now = self.now
        if prev is None:
            self.nidle -= 1
        else:
            if nxt is None:
                self.nidle += 1
            if prev.state == RUNNING and prev.pc is pc:
                # self.stop_running(prev, RUNNABLE), inlined
                prev.demand.consume(now - prev.run_start)
                prev.run_start = now
                prev.blk_gen += 1
                prev.v.time[RUNNING] += now - prev.since
                prev.state = RUNNABLE
                prev.since = now
        pc.curr = nxt
        if nxt is not None:
            # self.start_running(nxt, pc), inlined
            nxt.v.time[nxt.state] += now - nxt.since
            nxt.state = RUNNING
            nxt.since = now
            nxt.pc = pc
            nxt.v.cpu = pc.cpu
            nxt.run_start = now
            nxt.sched_in = now
            work = nxt.demand.work
            if work is not None:
                gen = nxt.blk_gen = nxt.blk_gen + 1
                self.seq += 1
                heapq.heappush(self.heap, (now + work, KIND_ORDER_BLOCK, nxt.idx, self.seq,
                                           EV_BLOCK, nxt, gen))

    def post_release(self, vs: VS) -> None:
        vs.rel_gen += 1
        nr = vs.demand.next_release
        if nr is not None:
            self.post(max(nr, self.now), EV_RELEASE, vs, vs.rel_gen)

    def _ev_block(self, vs: VS, gen: int) -> None:
        if gen != vs.blk_gen:
            return
        d = vs.demand
        d.consume(self.now - vs.run_start)
        d.on_block(self.now)
        vs.blk_gen += 1
        self.set_state(vs, BLOCKED)
        self.post_release(vs)
        self.on_block(vs)

    def _ev_release(self, vs: VS, gen: int) -> None:
        if gen != vs.rel_gen:
            return
        d = vs.demand
        st = vs.state
        if st == RUNNING:
            d.consume(self.now - vs.run_start)
            vs.run_start = self.now
            d.release(self.now)
            vs.blk_gen += 1
            if d.work is not None:
                self.post(self.now + d.work, EV_BLOCK, vs, vs.blk_gen)
        else:
            d.release(self.now)
            if st == BLOCKED and d.wants_cpu():
                if vs.parked:
                    self.set_state(vs, OFFLINE)
                else:
                    self.set_state(vs, RUNNABLE)
                    self.on_wake(vs, True)
        self.post_release(vs)

    # ---------------------------------------------------------- parking
    def may_park(self, vs: VS) -> bool:
        """Whether vs may stay parked (its domain still has a cap)."""
        return False

    def park(self, vs: VS, why: str = "parked (cap)", resched: bool = True) -> None:
        """The scheduler pauses vs (credit/credit2 caps): runstate offline."""
        if vs.parked:
            return
        vs.parked = True
        if vs.state == RUNNING:
            pc = vs.pc
            self.stop_running(vs, OFFLINE)
            if resched:
                self.kick(pc, why)
        elif vs.state == RUNNABLE:
            self.dequeue(vs)
            self.set_state(vs, OFFLINE)
        self.emit(vs.pc, None, vs, why, parked=vs.key)

    def unpark(self, vs: VS, why: str = "unparked") -> None:
        if not vs.parked:
            return
        vs.parked = False
        if vs.state == OFFLINE and vs.eligible:
            if vs.demand.wants_cpu():
                self.set_state(vs, RUNNABLE)
                self.on_wake(vs, False)
            else:
                self.set_state(vs, BLOCKED)

    # ---------------------------------------------------------- tracing
    def emit(self, pc: PCpu | None, nxt: VS | None, prev: VS | None, reason: str,
             **extra) -> None:
        if self.trace is None:
            return
        rec = {
            "time": self.now,
            "pcpu": None if pc is None else pc.cpu,
            "vcpu": None if nxt is None else nxt.key,
            "prev": None if prev is None else prev.key,
            "reason": reason,
            "sched": self.name,
        }
        rec.update(extra)
        self.trace(rec)

    # ------------------------------------------------------- load / save
    def load(self) -> None:
        now = self.now
        ps = self.pool.sched_state if self.pool.sched_state.get("sched") == self.name else {}
        fresh_pool = not ps
        for vs in self.vss:
            v, dom = vs.v, vs.dom
            vs.since = now
            vs.eligible = bool(dom.can_run and v.online)
            vs.demand = Demand.load(v.workload, v.wl_state, self.seed, v.domid,
                                    v.vcpuid, now)
            ss = {} if fresh_pool else (v.sched_state or {})
            vs.parked = bool(ss.get("parked", False)) and vs.eligible and self.may_park(vs)
            vs.sched_in = absol(ss.get("sched_in"), now) if ss.get("sched_in") is not None else now
            self.load_vcpu(vs, ss)
            if not vs.eligible:
                vs.state = OFFLINE
            elif v.runstate == RUNNING and not vs.parked:
                vs.state = RUNNABLE  # restored as its pCPU's current below
            elif not vs.demand.wants_cpu():
                vs.state = BLOCKED
            elif vs.parked:
                vs.state = OFFLINE
            else:
                vs.state = RUNNABLE
            if vs.eligible and (v.runstate == RUNNING or ss.get("cpu") is not None):
                vs.v.cpu = v.cpu
        placed = self.load_pool(ps)
        for vs in self.vss:
            if vs.eligible:
                self.post_release(vs)
        for vs in self.vss:
            if vs.state == RUNNABLE and vs.key not in placed:
                self.on_wake(vs, True)

    def restore_curr(self, pc: PCpu, key: str | None, placed: set) -> None:
        """Put back the vCPU that was running on pc when the state was saved."""
        vs = self.by_key.get(key) if key else None
        if vs is None or vs.state != RUNNABLE or vs.key in placed or pc.cpu not in vs.hset:
            return
        placed.add(vs.key)
        if pc.curr is None:
            self.nidle -= 1
        pc.curr = vs
        sched_in = vs.sched_in
        self.start_running(vs, pc)
        vs.sched_in = sched_in

    # Every scheduler keeps the same record of a pCPU (who runs there, when its
    # timer fires and why), plus its own fields beside them.

    def saved_pcpus(self, ps: dict) -> dict:
        """The saved pool state's pCPU records, by pCPU number."""
        return {p.get("cpu"): p for p in ps.get("pcpus", [])}

    def restore_pcpu(self, pc: PCpu, p: dict, placed: set) -> None:
        """Put back pc's running vCPU and, if one runs, its timer."""
        self.restore_curr(pc, p.get("curr"), placed)
        if pc.curr is not None:
            self.restore_timer(pc, p)

    def restore_timer(self, pc: PCpu, p: dict) -> None:
        """pc's scheduling timer as saved; without one, pc reschedules at once."""
        if p.get("timer_at") is not None:
            self.set_timer(pc, absol(p["timer_at"], self.now),
                           p.get("timer_reason", self.timer_reason))
        else:
            self.kick(pc, "resume")

    def dump_pcpu(self, pc: PCpu) -> dict:
        cur = pc.curr
        return {"cpu": pc.cpu,
                "curr": cur.key if cur is not None and cur.state == RUNNING else None,
                "timer_at": rel(pc.timer_at, self.now), "timer_reason": pc.timer_reason}

    def save(self) -> None:
        now = self.now
        for vs in self.vss:
            if vs.state == RUNNING:
                vs.demand.consume(now - vs.run_start)
                vs.run_start = now
            self.set_state(vs, vs.state)
            v = vs.v
            v.runstate = vs.state
            if vs.pc is not None:
                v.cpu = vs.pc.cpu
            v.wl_state = vs.demand.dump(now)
            ss = self.dump_vcpu(vs)
            ss["parked"] = vs.parked
            ss["sched_in"] = rel(vs.sched_in, now)
            v.sched_state = ss
        ps = {"sched": self.name, "t": now}
        ps.update(self.dump_pool())
        from pyxl.hv.steady import headroom

        room = headroom(self)
        if room is not None:  # readers may evaluate the rows at any later time
            ps["steady"] = room
        self.pool.sched_state = ps

    def longest_cycle(self) -> int:
        """The longest period in play (workloads, reservations), in ns."""
        return max((vs.demand.longest_period() for vs in self.vss if vs.demand),
                   default=0)

    # ------------------------------------------------- contention
    # Workloads whose demand repeats exactly (bursty draws random lengths).
    PERIODIC_KINDS = frozenset({"busy", "idle", "periodic"})

    def periods(self) -> list[int]:
        """Every period in play (workloads, reservations), in ns, 0 for none."""
        return [vs.demand.longest_period() for vs in self.vss if vs.demand]

    def uncontended(self) -> bool:
        """Whether every vCPU that may want a pCPU always finds one free at
        once, and nothing but its workload decides when it runs, so that
        its runstates repeat with the workloads' periods. The base rule: no
        more eligible vCPUs than pCPUs, each may run on every pCPU of the
        pool and prefers none, and every workload is periodic (not bursty);
        a scheduler adds its own conditions (no caps, ...)."""
        n = len(self.pcpus)
        count = 0
        kinds = self.PERIODIC_KINDS
        for vs in self.vss:
            if not vs.eligible:
                continue
            count += 1
            if count > n or len(vs.hard) != n or vs.soft is not None or vs.parked \
                    or vs.demand is None or vs.demand.kind not in kinds:
                return False
        return True

    # ----------------------------------------------------- helpers
    def _idle_in(self, cpus: list[int]) -> Iterator[PCpu]:
        """The pCPUs of `cpus` with nothing to run and no decision due now."""
        if not self.nidle:
            return
        by_cpu = self.by_cpu
        now = self.now
        for c in cpus:
            pc = by_cpu[c]
            if pc.curr is None and not (pc.timer_at == now and pc.timer_reason != "slice end"):
                yield pc

    def idle_pcpus(self, cpus: list[int]) -> list[PCpu]:
        return list(self._idle_in(cpus))

    def first_idle_pcpu(self, cpus: list[int]) -> PCpu | None:
        return next(self._idle_in(cpus), None)

    # ----------------------------------------------- scheduler interface
    def load_vcpu(self, vs: VS, ss: dict) -> None:
        raise NotImplementedError

    def load_pool(self, ps: dict) -> set:
        raise NotImplementedError

    def dump_vcpu(self, vs: VS) -> dict:
        raise NotImplementedError

    def dump_pool(self) -> dict:
        raise NotImplementedError

    def schedule(self, pc: PCpu, reason: str) -> None:
        raise NotImplementedError

    def on_wake(self, vs: VS, boost: bool) -> None:
        raise NotImplementedError

    def on_block(self, vs: VS) -> None:
        """A running vCPU blocked: its pCPU picks someone else."""
        self.kick(vs.pc, "blocked")

    def dequeue(self, vs: VS) -> None:
        raise NotImplementedError
