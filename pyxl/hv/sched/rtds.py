"""RTDS, as xen/common/sched/rt.c does it: global EDF over deferrable servers.

Each vCPU has a period and a budget (us at the interface, ns here), a current
deadline, a remaining budget and a priority level. At each deadline the budget
is refilled, the deadline moves one period on (missed periods are skipped) and
the level returns to 0; unused budget is lost. Budget burns only while the
vCPU runs, so a blocked vCPU keeps it (deferrable server). A vCPU whose budget
runs out either waits for its next period ("depleted", still runnable in
runstate terms) or, with extratime, drops one priority level and gets another
full budget, so spare time goes to extratime vCPUs in rounds. The pool's
pCPUs run the best vCPUs of one global runqueue ordered by (level, deadline);
a vCPU is scheduled for at most its remaining budget. A waking vCPU past its
deadline starts a fresh period at once. Wakers and refilled vCPUs tickle an
idle pCPU, else the pCPU running the lowest-priority vCPU, if they beat it.
"""

from __future__ import annotations

from pyxl.hv.runstate import RUNNABLE, RUNNING
from pyxl.hv.sched.engine import EV_SCHED, Engine, PCpu, VS, absol, rel
from pyxl.hv.sched.params import DOMAIN_PARAMS

DEFAULTS = DOMAIN_PARAMS["rtds"]

EV_REPL = EV_SCHED


class RV:
    __slots__ = ("period", "budget", "extra", "deadline", "cur_budget", "level",
                 "depleted", "last_start", "rgen", "prio")

    def __init__(self):
        self.period = 10_000_000
        self.budget = 4_000_000
        self.extra = True
        self.deadline = 0
        self.cur_budget = 0
        self.level = 0
        self.depleted = False
        self.last_start = 0
        self.rgen = 0
        self.prio = 0  # prio_key(level, deadline), kept up to date with them


def prio_key(level: int, deadline: int) -> int:
    """(level, deadline) as one integer in the same order (lower runs first):
    one int comparison where the hot paths compared tuples."""
    return (level << 66) + deadline + (1 << 64)


def set_prio(s: RV) -> None:
    s.prio = prio_key(s.level, s.deadline)


def _prio(vs: VS) -> int:
    return vs.s.prio


class RtdsEngine(Engine):
    name = "rtds"
    timer_reason = "budget exhausted"

    def __init__(self, pool, domains, t0, seed=0, trace=None):
        super().__init__(pool, domains, t0, seed, trace)
        self.handlers += [self._ev_repl]
        self.runq: list[VS] = []

    def params(self, vs: VS) -> tuple[int, int, bool]:
        p = dict(vs.dom.sched_params or {})
        p.update(vs.v.sched_params or {})
        period = int(p.get("period", DEFAULTS["period"])) * 1000
        budget = int(p.get("budget", DEFAULTS["budget"])) * 1000
        return period, min(budget, period), bool(int(p.get("extratime", DEFAULTS["extratime"])))

    def longest_cycle(self) -> int:
        return max([super().longest_cycle()] + [vs.s.period for vs in self.vss])

    def periods(self) -> list[int]:
        return super().periods() + [vs.s.period for vs in self.vss]

    def uncontended(self) -> bool:
        # without extratime a vCPU waits for its next period when its budget
        # is spent, free pCPUs or not
        return super().uncontended() and all(vs.s.extra for vs in self.vss if vs.eligible)

    # -------------------------------------------------------- queues
    def runq_insert(self, vs: VS) -> None:
        rq = self.runq
        k = vs.s.prio
        i = len(rq)
        while i > 0 and rq[i - 1].s.prio > k:
            i -= 1
        rq.insert(i, vs)

    def dequeue(self, vs: VS) -> None:
        if vs in self.runq:
            self.runq.remove(vs)

    def post_repl(self, vs: VS) -> None:
        s = vs.s
        s.rgen += 1
        self.post(max(s.deadline, self.now), EV_REPL, vs, s.rgen)

    def refresh(self, vs: VS) -> None:
        """Start the period that contains now (rt_update_deadline)."""
        s = vs.s
        now = self.now
        if now >= s.deadline:
            s.deadline += s.period * ((now - s.deadline) // s.period + 1)
        s.cur_budget = s.budget
        s.level = 0
        s.depleted = False
        s.prio = prio_key(0, s.deadline)

    def burn(self, vs: VS) -> None:
        s = vs.s
        delta = self.now - s.last_start
        s.last_start = self.now
        if delta > 0:
            s.cur_budget -= delta
        if s.cur_budget <= 0:
            if s.extra:
                s.level += 1
                s.prio = prio_key(s.level, s.deadline)
                s.cur_budget = s.budget
                if self.trace is not None:
                    self.emit(vs.pc, vs, vs, f"budget exhausted (extratime level {s.level})")
            else:
                s.cur_budget = 0
                s.depleted = True
                self.emit(vs.pc, None, vs, "budget exhausted")

    # ----------------------------------------------------- decisions
    def schedule(self, pc: PCpu, reason: str) -> None:
        now = self.now
        cur = pc.curr
        if cur is not None and cur.pc is pc and cur.state != RUNNABLE:
            self.burn(cur)
        cur_ok = cur is not None and cur.pc is pc and cur.state == RUNNING \
            and not cur.s.depleted
        best = None
        cpu = pc.cpu
        for vs in self.runq:
            if cpu in vs.hset:
                best = vs
                break
        if cur_ok and (best is None or cur.s.prio <= best.s.prio):
            snext = cur
        else:
            snext = best
            if snext is not None:
                self.runq.remove(snext)
            if cur_ok:
                self.runq_insert(cur)
        prev = cur
        if snext is not None and snext is not cur:
            snext.s.last_start = now
        self.switch(pc, snext)
        if snext is None:
            self.stop_timer(pc)
        else:
            snext.pc = pc
            self.set_timer(pc, now + snext.s.cur_budget, "budget exhausted")
        if self.trace is not None:
            s = None if snext is None else snext.s
            self.emit(pc, snext, prev, reason,
                      deadline=None if s is None else s.deadline,
                      budget=None if s is None else s.cur_budget,
                      level=None if s is None else s.level)
        if cur_ok and snext is not cur:
            self.tickle(cur)

    def tickle(self, vs: VS) -> None:
        if self.nidle:
            idlers = self.idle_pcpus(vs.hard)
            if idlers:
                home = self.by_cpu.get(vs.v.cpu)
                self.kick(home if home in idlers else idlers[0], "wake")
                return
        # The pCPU running the lowest-priority vCPU (the first of equals),
        # if vs beats it: only a current vCPU of lower priority than vs can
        # be it, so the others are passed over at one comparison each.
        worst = None
        wp = vs.s.prio
        now = self.now
        for pc in vs.hpcs:
            cur = pc.curr
            if cur is None:
                continue
            p = cur.s.prio
            if p > wp and pc.timer_at != now and cur.state == RUNNING:
                worst = pc
                wp = p
        if worst is not None:
            self.kick(worst, "preempt")

    def on_wake(self, vs: VS, boost: bool) -> None:
        s = vs.s
        if self.now >= s.deadline:
            self.refresh(vs)
        self.post_repl(vs)
        if s.depleted:
            return
        self.runq_insert(vs)
        self.tickle(vs)

    def on_block(self, vs: VS) -> None:
        vs.s.rgen += 1  # off the replenishment queue while asleep
        self.kick(vs.pc, "blocked")

    def _ev_repl(self, vs: VS, gen: int) -> None:
        s = vs.s
        if gen != s.rgen:
            return
        if vs.state == RUNNING:
            s.last_start = self.now
        was_depleted = s.depleted
        self.refresh(vs)
        self.post_repl(vs)
        if vs.state == RUNNING:
            pc = vs.pc
            self.set_timer(pc, self.now + s.cur_budget, "budget exhausted")
            for w in self.runq:
                if pc.cpu in w.hset:
                    if w.s.prio < s.prio:
                        self.kick(pc, "replenish")
                    break
        elif vs.state == RUNNABLE:
            if not was_depleted:
                self.dequeue(vs)
            self.runq_insert(vs)
            if self.trace is not None:
                self.emit(None, vs, None, "replenish", deadline=s.deadline)
            self.tickle(vs)

    # ------------------------------------------------- persistence
    def load_vcpu(self, vs: VS, ss: dict) -> None:
        now = self.now
        s = RV()
        s.period, s.budget, s.extra = self.params(vs)
        if "deadline" in ss:
            s.deadline = absol(ss["deadline"], now)
            s.cur_budget = min(int(ss.get("cur_budget", s.budget)), s.budget)
            s.level = int(ss.get("level", 0))
            s.depleted = bool(ss.get("depleted", False)) and not s.extra
            s.last_start = absol(ss.get("last_start", 0), now)
        else:
            s.deadline = now + s.period
            s.cur_budget = s.budget
            s.last_start = now
        set_prio(s)
        vs.s = s

    def load_pool(self, ps: dict) -> set:
        placed: set = set()
        for key in ps.get("runq", []):
            vs = self.by_key.get(key)
            if vs is not None and vs.state == RUNNABLE and not vs.s.depleted \
                    and key not in placed:
                placed.add(key)
                self.runq_insert(vs)
        saved = self.saved_pcpus(ps)
        for pc in self.pcpus:
            self.restore_pcpu(pc, saved.get(pc.cpu, {}), placed)
        for vs in self.vss:
            if vs.state == RUNNABLE and vs.s.depleted:
                placed.add(vs.key)
            if vs.eligible and vs.key in placed:
                self.post_repl(vs)
        if self.runq:
            for pc in self.pcpus:
                if pc.curr is None:
                    self.kick(pc, "resume")
        return placed

    def dump_vcpu(self, vs: VS) -> dict:
        s = vs.s
        now = self.now
        return {"deadline": rel(s.deadline, now), "cur_budget": s.cur_budget,
                "level": s.level, "depleted": s.depleted,
                "last_start": rel(s.last_start, now),
                "cpu": vs.pc.cpu if vs.pc is not None else None}

    def dump_pool(self) -> dict:
        return {"runq": [vs.key for vs in self.runq],
                "pcpus": [self.dump_pcpu(pc) for pc in self.pcpus]}
