"""Credit2, as xen/common/sched/credit2.c does it.

Credits are nanoseconds. A running vCPU burns `delta x max_weight / weight`
(the heaviest vCPU of the runqueue burns 1 per ns), floored at CREDIT_MIN.
The runqueue is ordered by credit; the pCPU runs the runnable vCPU with the
most credit (the current one keeps the CPU on a tie). When the best candidate
has no credit left, every vCPU of the runqueue gets CREDIT_INIT more (twice
that if the candidate sits at the floor), clipped to CREDIT_INIT +
CARRYOVER_MAX ("credit reset"). A slice lasts until the chosen vCPU's credit
would fall to the next waiter's, clamped to [max(MIN_TIMER, rest of
ratelimit), MAX_TIMER]. Caps: a capped domain has a budget of
`cap% x 10 ms` refilled every 10 ms (no accumulation); a vCPU grabs a quota
from it to run and returns the rest when it stops; with the budget gone its
vCPUs are parked (runstate offline) until the refill.

Simplification: one runqueue for the whole pool (credit2_runqueue=all), so no
inter-runqueue load balancing; wakers preempt the pCPU running the vCPU with
the least credit when their own credit is higher.
"""

from __future__ import annotations

from pyxl.hv.runstate import RUNNABLE, RUNNING
from pyxl.hv.sched.engine import EV_SCHED, Engine, PCpu, VS, absol, rel
from pyxl.hv.sched.params import DOMAIN_PARAMS

DEFAULTS = DOMAIN_PARAMS["credit2"]

CREDIT_INIT = 10_000_000
CREDIT_MIN = -CREDIT_INIT
CARRYOVER_MAX = 500_000
MIN_TIMER = 500_000
MAX_TIMER = 10_000_000
CAP_PERIOD = 10_000_000

EV_REPL = EV_SCHED


class C2V:
    __slots__ = ("credit", "residual", "burn_start", "budget", "seq", "w")

    def __init__(self):
        self.w = DEFAULTS["weight"]  # the domain's weight, fixed for the engine's life
        self.credit = CREDIT_INIT
        self.residual = 0
        self.burn_start = 0
        self.budget = 0
        self.seq = 0


class Credit2Engine(Engine):
    name = "credit2"

    def __init__(self, pool, domains, t0, seed=0, trace=None):
        super().__init__(pool, domains, t0, seed, trace)
        self.handlers += [self._ev_repl]
        p = pool.params or {}
        self.ratelimit = int(p.get("ratelimit_us", 1000)) * 1000
        self.runq: list[VS] = []
        self.max_weight = 1
        self.doms: dict[int, dict] = {}   # capped domains: budget, next refill
        self.repl_gen = 0

    def weight(self, vs: VS) -> int:
        return int(vs.dom.sched_params.get("weight", DEFAULTS["weight"]))

    def cap(self, vs: VS) -> int:
        return int(vs.dom.sched_params.get("cap", DEFAULTS["cap"]))

    # -------------------------------------------------------- credits
    def burn(self, vs: VS) -> None:
        s = vs.s
        delta = self.now - s.burn_start
        if delta <= 0:
            return
        s.burn_start = self.now
        val = delta * self.max_weight + s.residual
        used, s.residual = divmod(val, s.w)
        s.credit -= used
        if s.credit < CREDIT_MIN:
            s.credit, s.residual = CREDIT_MIN, 0
        if vs.dom.domid in self.doms:
            s.budget -= delta

    def may_park(self, vs: VS) -> bool:
        return self.cap(vs) > 0

    def uncontended(self) -> bool:
        # a capped vCPU is parked when its budget runs out, contention or not
        return super().uncontended() and not any(
            self.cap(vs) for vs in self.vss if vs.eligible)

    def reset_credit(self, snext: VS, pc: PCpu) -> None:
        add = CREDIT_INIT * (2 if snext.s.credit <= CREDIT_MIN else 1)
        for vs in self.vss:
            s = vs.s
            if vs.state == RUNNING:
                self.burn(vs)
            s.credit = min(s.credit + add, CREDIT_INIT + CARRYOVER_MAX)
        self.runq.sort(key=_by_credit)
        self.emit(pc, None, None, "credit reset",
                  credits={vs.key: vs.s.credit for vs in self.vss} if self.trace else None)

    def c2t(self, vs: VS, credit: int) -> int:
        return credit * vs.s.w // self.max_weight

    # -------------------------------------------------------- runqueue
    def runq_insert(self, vs: VS) -> None:
        rq = self.runq
        c = vs.s.credit
        i = len(rq)
        while i > 0 and rq[i - 1].s.credit < c:
            i -= 1
        rq.insert(i, vs)

    def dequeue(self, vs: VS) -> None:
        if vs in self.runq:
            self.runq.remove(vs)

    # -------------------------------------------------------- caps
    def grab_budget(self, vs: VS) -> bool:
        d = self.doms.get(vs.dom.domid)
        if d is None:
            return True
        s = vs.s
        if s.budget > 0:
            return True
        if d["budget"] <= 0:
            return False
        quota = max(d["tot"] // max(1, len(vs.dom.vcpus)), MIN_TIMER)
        g = min(quota, d["budget"])
        d["budget"] -= g
        s.budget += g
        return s.budget > 0

    def return_budget(self, vs: VS) -> None:
        d = self.doms.get(vs.dom.domid)
        if d is not None and vs.s.budget != 0:
            d["budget"] += vs.s.budget
            vs.s.budget = 0

    def _ev_repl(self, domid: int, gen: int) -> None:
        if gen != self.repl_gen:
            return
        d = self.doms[domid]
        d["budget"] = min(d["budget"] + d["tot"], d["tot"])
        d["next"] = self.now + CAP_PERIOD
        self.post(d["next"], EV_REPL, domid, gen)
        woke = []
        for vs in self.vss:
            if vs.dom.domid == domid and vs.parked:
                woke.append(vs.key)
                self.unpark(vs, "replenish")
        if woke:
            self.emit(None, None, None, "replenish", domid=domid, budget=d["budget"],
                      unparked=woke)

    # -------------------------------------------------------- decisions
    def schedule(self, pc: PCpu, reason: str) -> None:
        now = self.now
        cur = pc.curr
        doms = self.doms
        if cur is not None and cur.pc is pc and cur.state != RUNNABLE:
            # self.burn(cur), inlined
            s = cur.s
            delta = now - s.burn_start
            if delta > 0:
                s.burn_start = now
                used, s.residual = divmod(delta * self.max_weight + s.residual, s.w)
                s.credit -= used
                if s.credit < CREDIT_MIN:
                    s.credit, s.residual = CREDIT_MIN, 0
                if doms and cur.dom.domid in doms:
                    s.budget -= delta
        cur_ok = cur is not None and cur.state == RUNNING and cur.pc is pc
        if cur_ok and self.ratelimit and now - cur.sched_in < self.ratelimit \
                and (cur.dom.domid not in doms or cur.s.budget > 0):
            self.set_timer(pc, now + max(MIN_TIMER, cur.sched_in + self.ratelimit - now))
            if self.trace is not None:
                self.emit(pc, cur, cur, "ratelimit", wanted=reason, credit=cur.s.credit)
            return
        why = reason
        if cur_ok and doms and not self.grab_budget(cur):
            self.park(cur, "parked (cap)", resched=False)
            cur_ok = False
            why = "budget exhausted"
        # pick: current competes with the best runnable it may run here
        snext = cur if cur_ok else None
        rq = self.runq
        cpu = pc.cpu
        i = 0
        picked = -1
        while i < len(rq):
            vs = rq[i]
            if cpu in vs.hset:
                if snext is not None and vs.s.credit <= snext.s.credit:
                    break
                if doms and not self.grab_budget(vs):
                    rq.pop(i)
                    self.park(vs, "parked (cap)", resched=False)
                    continue
                snext = vs
                picked = i
                break
            i += 1
        if picked >= 0 and snext is not cur:
            del rq[picked]
            if cur_ok:
                self.runq_insert(cur)
        if snext is not None and snext.s.credit <= 0:
            self.reset_credit(snext, pc)
            why = why + ", credit reset"
        if doms and cur is not None and cur is not snext and cur.pc is pc:
            self.return_budget(cur)
        prev = cur
        if snext is not None and snext is not cur:
            snext.s.burn_start = now
        self.switch(pc, snext)
        if snext is None:
            self.stop_timer(pc)
        else:
            snext.pc = pc
            self.set_timer(pc, now + self.runtime(snext, pc))
        if self.trace is not None:
            self.emit(pc, snext, prev, why,
                      credit=None if snext is None else snext.s.credit,
                      prev_credit=None if prev is None else prev.s.credit)

    def runtime(self, snext: VS, pc: PCpu) -> int:
        """csched2_runtime: how long snext may run before the next decision."""
        min_time = MIN_TIMER
        if self.ratelimit:
            rl = snext.sched_in + self.ratelimit - self.now
            if rl > min_time:
                min_time = rl
        swait = 0
        cpu = pc.cpu
        for vs in self.runq:
            if cpu in vs.hset:
                swait = vs.s.credit
                break
        s = snext.s
        rt_credit = s.credit - swait if swait > 0 else s.credit
        t = rt_credit * s.w // self.max_weight if rt_credit > 0 else 0  # c2t
        if self.doms and snext.dom.domid in self.doms:
            t = min(t, s.budget)
            return max(1, min(max(t, min(min_time, s.budget)), MAX_TIMER))
        if t < min_time:
            t = min_time
        return t if t < MAX_TIMER else MAX_TIMER

    def on_wake(self, vs: VS, boost: bool) -> None:
        self.runq_insert(vs)
        # tickle: an idle pCPU if any, else the one whose vCPU has least credit
        idlers = self.idle_pcpus(vs.hard)
        if idlers:
            home = self.by_cpu.get(vs.v.cpu)
            target = home if home in idlers else idlers[0]
            self.kick(target, "wake")
            return
        worst = None
        for c in vs.hard:
            pc = self.by_cpu[c]
            cur = pc.curr
            if cur is None or cur.state != RUNNING:
                continue
            if self.now - cur.sched_in < self.ratelimit:
                continue
            if worst is None or cur.s.credit < worst.curr.s.credit:
                worst = pc
        if worst is not None:
            self.burn(worst.curr)
            if vs.s.credit > worst.curr.s.credit:
                self.kick(worst, "preempt")

    # ---------------------------------------------------- persistence
    def load_vcpu(self, vs: VS, ss: dict) -> None:
        s = C2V()
        s.credit = int(ss.get("credit", CREDIT_INIT))
        s.residual = int(ss.get("residual", 0))
        s.burn_start = absol(ss.get("burn_start"), self.now) if ss.get("burn_start") is not None else self.now
        s.budget = int(ss.get("budget", 0))
        s.w = self.weight(vs)
        vs.s = s

    def load_pool(self, ps: dict) -> set:
        now = self.now
        self.max_weight = max((vs.s.w for vs in self.vss), default=1)
        saved_doms = {d["domid"]: d for d in ps.get("doms", [])}
        self.repl_gen += 1
        seen = set()
        for vs in self.vss:
            domid = vs.dom.domid
            if domid in seen:
                continue
            seen.add(domid)
            cap = self.cap(vs)
            if not cap:
                continue
            tot = CAP_PERIOD * cap // 100
            sd = saved_doms.get(domid)
            if sd is not None and sd.get("tot") == tot:
                d = {"tot": tot, "budget": int(sd["budget"]), "next": absol(sd["next"], now)}
            else:
                d = {"tot": tot, "budget": tot, "next": now + CAP_PERIOD}
            self.doms[domid] = d
            self.post(d["next"], EV_REPL, domid, self.repl_gen)
        for vs in self.vss:
            if vs.dom.domid not in self.doms:
                vs.s.budget = 0
        placed: set = set()
        for key in ps.get("runq", []):
            vs = self.by_key.get(key)
            if vs is not None and vs.state == RUNNABLE and key not in placed:
                self.runq.append(vs)
                placed.add(key)
        self.runq.sort(key=_by_credit)
        saved = self.saved_pcpus(ps)
        for pc in self.pcpus:
            self.restore_pcpu(pc, saved.get(pc.cpu, {}), placed)
        if self.runq:
            for pc in self.pcpus:
                if pc.curr is None:
                    self.kick(pc, "resume")
        return placed

    def dump_vcpu(self, vs: VS) -> dict:
        s = vs.s
        return {"credit": s.credit, "residual": s.residual,
                "burn_start": rel(s.burn_start, self.now), "budget": s.budget,
                "cpu": vs.pc.cpu if vs.pc is not None else None}

    def dump_pool(self) -> dict:
        now = self.now
        return {
            "runq": [vs.key for vs in self.runq],
            "pcpus": [self.dump_pcpu(pc) for pc in self.pcpus],
            "doms": [{"domid": k, "tot": d["tot"], "budget": d["budget"],
                      "next": rel(d["next"], now)} for k, d in self.doms.items()],
        }


def _by_credit(vs: VS) -> int:
    return -vs.s.credit
