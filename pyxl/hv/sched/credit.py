"""Credit (credit1), as xen/common/sched/credit.c does it.

Credits: 1 credit = 100 us of CPU (10 per ms). Every tick (tslice/3, 10 ms by
default) the pCPU burns its running vCPU's credits, ends a wake-up BOOST and
puts the vCPU on the active list. Every tslice (30 ms) the master accounting
shares C x nr_pCPUs credits among active domains by weight (limited by cap),
sets UNDER/OVER, parks capped vCPUs that overspent (runstate offline, as Xen
pauses them) and unparks those back in credit; vCPUs with more than C credits
leave the active list with their credit halved. Each pCPU has a runqueue
ordered by priority (BOOST > UNDER > OVER), FIFO within one; a pCPU whose best
local candidate is OVER (or idle) steals an UNDER/BOOST vCPU from a busy peer
(soft affinity first, then hard). A chosen vCPU runs a full tslice unless
preempted; ratelimit keeps a just-scheduled vCPU on for at least ratelimit_us.

Differences from credit.c, on purpose: one pool-wide accounting timer (Xen's
runs on a master pCPU); burning keeps an exact ns residual; no SMT/NUMA
topology (load balancing walks the pool's pCPUs round-robin); a running vCPU
is not pushed to an idle pCPU at tick time (idle pCPUs steal instead);
yield is not simulated.
"""

from __future__ import annotations

import heapq

from pyxl.hv.runstate import RUNNABLE, RUNNING
from pyxl.hv.sched.engine import EV_SCHED, KIND_ORDER, Engine, PCpu, VS, absol, rel
from pyxl.hv.sched.params import DOMAIN_PARAMS

DEFAULTS = DOMAIN_PARAMS["credit"]

CREDITS_PER_MSEC = 10
MIN_TIMER = 100_000
LB_RATELIMIT = 1_000_000

BOOST, UNDER, OVER, IDLE = 0, -1, -2, -64
PRI_NAMES = {BOOST: "BOOST", UNDER: "UNDER", OVER: "OVER", IDLE: "IDLE"}

EV_TICK = EV_SCHED
EV_ACCT = EV_SCHED + 1
KIND_ORDER_TICK = KIND_ORDER[EV_TICK]


class CV:
    """credit.c's struct csched_unit, reduced."""

    __slots__ = ("credit", "pri", "residual", "burn_start", "active", "last_ran", "w", "cap")

    def __init__(self):
        self.w = DEFAULTS["weight"]  # the domain's weight and cap, fixed for the engine's life
        self.cap = DEFAULTS["cap"]
        self.credit = 0
        self.pri = UNDER
        self.residual = 0
        self.burn_start = 0
        self.active = False
        self.last_ran = None


class CreditEngine(Engine):
    name = "credit"
    min_window_ns = 8_000_000_000  # whole 30 ms slices need a longer sample

    def __init__(self, pool, domains, t0, seed=0, trace=None):
        super().__init__(pool, domains, t0, seed, trace)
        self.handlers += [self._ev_tick, self._ev_acct]
        p = pool.params or {}
        tslice_ms = int(p.get("tslice_ms", 30))
        self.tslice = tslice_ms * 1_000_000
        self.tick_period = self.tslice // 3 if tslice_ms >= 3 else self.tslice
        self.C = CREDITS_PER_MSEC * tslice_ms
        rl = int(p.get("ratelimit_us", 1000)) * 1000
        self.ratelimit = min(rl, self.tslice)
        self.migr_delay = int(p.get("migration_delay_us", 0)) * 1000
        self.acct_gen = 0
        self.acct_at = None
        self.active_doms: list[int] = []
        self.dom_active: dict[int, list[VS]] = {}
        self.weight_total = 0
        self.balance = 0
        self.runq_sort = 0
        self.bias = 0
        self._lb_steps: tuple[str, ...] | None = None
        self.loaded: set[int] = set()  # idx of the pCPUs whose runqueue is not empty

    # ---------------------------------------------------------- helpers
    def may_park(self, vs: VS) -> bool:
        return self.cap(vs) > 0

    def uncontended(self) -> bool:
        # a capped vCPU is parked by the accounting even on an idle host
        return super().uncontended() and not any(
            self.cap(vs) for vs in self.vss if vs.eligible)

    def weight(self, vs: VS) -> int:
        return int(vs.dom.sched_params.get("weight", DEFAULTS["weight"]))

    def cap(self, vs: VS) -> int:
        return int(vs.dom.sched_params.get("cap", DEFAULTS["cap"]))

    def info(self, vs: VS | None) -> dict:
        if vs is None:
            return {"credit": None, "pri": "IDLE"}
        return {"credit": vs.s.credit, "pri": PRI_NAMES[vs.s.pri]}

    def burn(self, vs: VS) -> None:
        s = vs.s
        delta = self.now - s.burn_start
        if delta <= 0:
            return
        val = delta * CREDITS_PER_MSEC + s.residual
        credits, s.residual = divmod(val, 1_000_000)
        s.credit -= credits
        s.burn_start = self.now

    def acct_start(self, vs: VS) -> None:
        vs.s.active = True
        domid = vs.dom.domid
        lst = self.dom_active.setdefault(domid, [])
        if not lst:
            self.active_doms.append(domid)
        lst.append(vs)
        self.weight_total += vs.s.w

    def acct_stop(self, vs: VS) -> None:
        vs.s.active = False
        domid = vs.dom.domid
        lst = self.dom_active[domid]
        lst.remove(vs)
        if not lst:
            self.active_doms.remove(domid)
            del self.dom_active[domid]
        self.weight_total -= vs.s.w

    def runq_insert(self, pc: PCpu, vs: VS) -> None:
        rq = pc.x["runq"]
        pri = vs.s.pri
        i = len(rq)
        while i > 0 and rq[i - 1].s.pri < pri:
            i -= 1
        rq.insert(i, vs)
        vs.pc = pc
        self.loaded.add(pc.idx)

    def dequeue(self, vs: VS) -> None:
        pc = vs.pc
        if pc is not None and vs in pc.x["runq"]:
            rq = pc.x["runq"]
            rq.remove(vs)
            if not rq:
                self.loaded.discard(pc.idx)

    def nr_runnable(self, pc: PCpu) -> int:
        n = len(pc.x["runq"])
        if pc.curr is not None and pc.curr.state == RUNNING:
            n += 1
        return n

    # ----------------------------------------------------------- timers
    def start_tick(self, pc: PCpu) -> None:
        tp = self.tick_period
        t = self.now + tp - self.now % tp
        pc.x["tick_at"] = t
        pc.x["tick_gen"] += 1
        self.post(t, EV_TICK, pc, pc.x["tick_gen"])

    def stop_tick(self, pc: PCpu) -> None:
        pc.x["tick_at"] = None
        pc.x["tick_gen"] += 1
        pc.x["dormant"] = False

    # A tick whose running vCPU is neither boosted nor off the active list,
    # on a runqueue sorted since the last accounting, only burns credits, and
    # burning is exact whenever it is done (the ns residual carries over).
    # Such ticks are not posted ("dormant"): the chain keeps its phase and is
    # posted again when a tick could matter (a new vCPU runs, accounting).

    def tick_idle(self, pc: PCpu) -> bool:
        """Whether pc's next tick would only burn its running vCPU's credits."""
        cur = pc.curr
        if cur is None or cur.state != RUNNING:
            return False
        s = cur.s
        return s.pri != BOOST and s.active and pc.x["sort_seen"] == self.runq_sort

    def next_tick(self, pc: PCpu) -> int:
        """The first tick of pc's chain after now (those at now have run)."""
        t = pc.x["tick_at"]
        now = self.now
        if t <= now:
            tp = self.tick_period
            t += ((now - t) // tp + 1) * tp
        return t

    def wake_tick(self, pc: PCpu) -> None:
        """Post a dormant chain's next tick again."""
        x = pc.x
        t = x["tick_at"] = self.next_tick(pc)
        x["dormant"] = False
        x["tick_gen"] += 1
        self.post(t, EV_TICK, pc, x["tick_gen"])

    def sync_tick(self, pc: PCpu) -> None:
        """Bring a dormant chain up to now: burn what its ticks would have."""
        x = pc.x
        t = x["tick_at"] = self.next_tick(pc)
        cur = pc.curr
        last = t - self.tick_period
        s = cur.s
        if last > s.burn_start:
            credits, s.residual = divmod((last - s.burn_start) * CREDITS_PER_MSEC + s.residual,
                                         1_000_000)
            s.credit -= credits
            s.burn_start = last

    def _ev_tick(self, pc: PCpu, gen: int) -> None:
        x = pc.x
        if gen != x["tick_gen"]:
            return
        cur = pc.curr
        now = self.now
        if cur is not None and cur.state == RUNNING:
            s = cur.s
            if s.pri == BOOST:
                s.pri = UNDER
                self.emit(pc, cur, cur, "tick: boost ends", **self.info(cur))
            # self.burn(cur), inlined
            delta = now - s.burn_start
            if delta > 0:
                credits, s.residual = divmod(delta * CREDITS_PER_MSEC + s.residual, 1_000_000)
                s.credit -= credits
                s.burn_start = now
            if not s.active:
                self.acct_start(cur)
        if x["sort_seen"] != self.runq_sort:
            x["sort_seen"] = self.runq_sort
            x["runq"].sort(key=_neg_pri)
        t = now + self.tick_period
        x["tick_at"] = t
        if cur is not None and cur.state == RUNNING and s.pri != BOOST and s.active:
            x["dormant"] = True  # (the runqueue is sorted now)
            return
        self.seq += 1  # self.post(t, EV_TICK, pc, gen), inlined
        heapq.heappush(self.heap, (t, KIND_ORDER_TICK, pc.idx, self.seq, EV_TICK, pc, gen))

    def _ev_acct(self, _obj, gen: int) -> None:
        if gen != self.acct_gen:
            return
        self.account()
        self.acct_at = self.now + self.tslice
        self.post(self.acct_at, EV_ACCT, None, gen)

    def account(self) -> None:
        """csched_acct: share this period's credits among active domains."""
        C = self.C
        W = self.weight_total
        T = C * len(self.pcpus)
        old_balance = self.balance
        if old_balance < 0:
            T -= old_balance
        if W == 0:
            self.balance = 0
            return
        weight_left = W
        balance = 0
        xtra = False
        changes = {}
        now = self.now
        tracing = self.trace is not None
        for domid in list(self.active_doms):
            vss = self.dom_active[domid]
            n = len(vss)
            first = vss[0]
            w = first.s.w
            cap = first.s.cap
            weight_left -= w * n
            peak = n * C
            if old_balance < 0:
                peak += (-old_balance * w * n + W - 1) // W
            capv = 0
            if cap:
                capc = (cap * C + 99) // 100
                peak = min(peak, capc)
                capv = (capc + n - 1) // n
            fair = (T * w * n + W - 1) // W
            if fair < peak:
                xtra = True
            else:
                if weight_left > 0:
                    T += ((fair - peak) * W + weight_left - 1) // weight_left
                if xtra:
                    self.active_doms.remove(domid)
                    self.active_doms.insert(0, domid)
                fair = peak
            fair = (fair + n - 1) // n
            for vs in list(vss):
                s = vs.s
                if vs.state == RUNNING:
                    # self.burn(vs), inlined
                    delta = now - s.burn_start
                    if delta > 0:
                        credits, s.residual = divmod(delta * CREDITS_PER_MSEC + s.residual,
                                                     1_000_000)
                        s.credit -= credits
                        s.burn_start = now
                credit = s.credit = s.credit + fair
                if credit < 0:
                    s.pri = OVER
                    if cap and credit < -capv and not vs.parked:
                        self.park(vs)
                    if credit < -C:
                        s.credit = -C
                else:
                    s.pri = UNDER
                    if vs.parked:
                        self.unpark(vs, "unparked (credit back)")
                    if credit > C:
                        self.acct_stop(vs)
                        s.credit //= 2
                balance += s.credit
                if tracing:
                    changes[vs.key] = {"credit": s.credit, "pri": PRI_NAMES[s.pri],
                                       "earned": fair}
        self.balance = balance
        self.runq_sort += 1
        for pc in self.pcpus:
            if pc.x["dormant"]:
                self.wake_tick(pc)
        self.emit(None, None, None, "accounting", vcpus=changes,
                  weight_total=W, credit_total=T)

    # -------------------------------------------------------- decisions
    def schedule(self, pc: PCpu, reason: str) -> None:
        now = self.now
        cur = pc.curr
        x = pc.x
        if cur is not None and cur.pc is pc:
            self.burn(cur)
        if cur is not None and cur.state == RUNNING and cur.pc is pc:
            runtime = now - cur.sched_in
            if self.ratelimit and runtime < self.ratelimit:
                ts = self.ratelimit - runtime
                if runtime < MIN_TIMER:
                    ts = MIN_TIMER
                self.set_timer(pc, now + ts)
                if self.trace is not None:
                    self.emit(pc, cur, cur, "ratelimit", wanted=reason, **self.info(cur))
                return
            self.runq_insert(pc, cur)
        elif cur is not None and cur.pc is pc:
            cur.s.last_ran = now
        rq = x["runq"]
        snext = rq[0] if rq else None
        spri = snext.s.pri if snext is not None else IDLE
        why = reason
        if spri <= OVER and now - x["last_lb"] > LB_RATELIMIT:
            x["last_lb"] = now
            got = self.load_balance(pc, spri)
            if got is not None:
                snext, peer = got
                why = f"steal from cpu {peer.cpu}"
            elif snext is not None:
                rq.pop(0)
        elif snext is not None:
            rq.pop(0)
        if not rq:
            self.loaded.discard(pc.idx)
        if cur is not None and cur is not snext and cur.state == RUNNING:
            cur.s.last_ran = now
        if snext is not None and snext is not cur:
            snext.s.burn_start = now
        prev = cur
        self.switch(pc, snext)
        if snext is None:
            self.stop_timer(pc)
            if x["tick_at"] is not None:
                self.stop_tick(pc)
        else:
            snext.pc = pc
            self.set_timer(pc, now + self.tslice)
            if x["tick_at"] is None:
                self.start_tick(pc)
            elif x["dormant"] and not self.tick_idle(pc):
                self.wake_tick(pc)
        if self.trace is not None:
            self.emit(pc, snext, prev, why, **self.info(snext),
                      prev_credit=None if prev is None else prev.s.credit,
                      prev_pri=None if prev is None else PRI_NAMES[prev.s.pri])

    def load_balance(self, pc: PCpu, pri: int):
        """csched_load_balance: steal a better vCPU from a busy peer."""
        n = len(self.pcpus)
        if self._lb_steps is None:  # affinities do not change during one run
            self._lb_steps = ("soft", "hard") if any(vs.soft for vs in self.vss) else ("hard",)
        steps = self._lb_steps
        # Only a pCPU with a non-empty runqueue has anything to steal: visit
        # those, in the order of the round-robin walk from `bias`.
        loaded = self.loaded
        bias = self.bias
        if 4 * len(loaded) >= n:
            order = [self.pcpus[(bias + k) % n] for k in range(n)]
        else:
            order = [self.pcpus[i] for i in sorted(loaded, key=lambda i: (i - bias) % n)]
        for step in steps:
            for peer in order:
                if peer is pc or peer.curr is None or self.nr_runnable(peer) <= 1:
                    continue
                for vs in peer.x["runq"]:
                    if vs.s.pri <= pri:
                        break
                    if step == "soft" and not vs.soft:
                        continue
                    mask = vs.soft if step == "soft" else vs.hard
                    if pc.cpu not in mask:
                        continue
                    lr = vs.s.last_ran
                    if self.migr_delay and lr is not None and self.now - lr < self.migr_delay:
                        continue
                    prq = peer.x["runq"]
                    prq.remove(vs)
                    if not prq:
                        loaded.discard(peer.idx)
                    self.bias = peer.idx
                    return vs, peer
        return None

    def pick_cpu(self, vs: VS) -> PCpu:
        cands = vs.soft or vs.hard
        home = vs.pc if vs.pc is not None else self.by_cpu.get(vs.v.cpu)
        if home is not None and home.cpu in cands and home.curr is None \
                and not home.x["runq"]:
            return home
        start = home.idx if home is not None else 0
        n = len(self.pcpus)
        for k in range(n):
            pc = self.pcpus[(start + k) % n]
            if pc.cpu in cands and pc.curr is None and not pc.x["runq"]:
                return pc
        if home is not None and home.cpu in vs.hard:
            return home
        return self.by_cpu[vs.hard[0]]

    def on_wake(self, vs: VS, boost: bool) -> None:
        s = vs.s
        if boost and s.pri == UNDER and not vs.parked:
            s.pri = BOOST
        pc = self.pick_cpu(vs)
        self.runq_insert(pc, vs)
        self.tickle(pc, vs)

    def tickle(self, pc: PCpu, new: VS) -> None:
        """__runq_tickle: preempt a lower-priority current, or wake an idler."""
        cur = pc.curr
        if cur is None or cur.state != RUNNING:
            self.kick(pc, "wake" if new.s.pri != BOOST else "boost on wake")
            return
        if new.s.pri > cur.s.pri:
            self.kick(pc, "preempt (boost on wake)" if new.s.pri == BOOST else "preempt")
            return
        if new.s.pri > IDLE:
            idlers = self.idle_pcpus(new.hard)
            if idlers:
                self.kick(idlers[0], "idle pcpu tickled")

    # ------------------------------------------------------ persistence
    def load_vcpu(self, vs: VS, ss: dict) -> None:
        now = self.now
        s = CV()
        s.credit = int(ss.get("credit", 0))
        s.pri = int(ss.get("pri", UNDER))
        if s.pri not in PRI_NAMES or s.pri == IDLE:
            s.pri = UNDER
        s.residual = int(ss.get("residual", 0))
        s.burn_start = absol(ss.get("burn_start"), now) if ss.get("burn_start") is not None else now
        s.last_ran = absol(ss.get("last_ran"), now)
        s.w = self.weight(vs)
        s.cap = self.cap(vs)
        vs.s = s
        if ss.get("active") and vs.eligible:
            vs.s.active = False  # re-added in stored order by load_pool

    def load_pool(self, ps: dict) -> set:
        now = self.now
        placed: set = set()
        for pc in self.pcpus:
            pc.x = {"runq": [], "tick_at": None, "tick_gen": 0, "last_lb": now - 2 * LB_RATELIMIT,
                    "sort_seen": 0, "dormant": False}
        self.runq_sort = int(ps.get("runq_sort", 0))
        self.balance = int(ps.get("balance", 0))
        self.bias = int(ps.get("bias", 0)) % max(1, len(self.pcpus))
        for key in ps.get("active", []):
            vs = self.by_key.get(key)
            if vs is not None and vs.eligible and vs.v.sched_state.get("active"):
                self.acct_start(vs)
        saved = self.saved_pcpus(ps)
        for pc in self.pcpus:
            p = saved.get(pc.cpu, {})
            x = pc.x
            x["sort_seen"] = int(p.get("sort_seen", self.runq_sort))
            if p.get("last_lb") is not None:
                x["last_lb"] = absol(p["last_lb"], now)
            for key in p.get("runq", []):
                vs = self.by_key.get(key)
                if vs is not None and vs.state == RUNNABLE and key not in placed \
                        and pc.cpu in vs.hard:
                    x["runq"].append(vs)
                    vs.pc = pc
                    placed.add(key)
            self.restore_pcpu(pc, p, placed)
            if pc.curr is not None:
                if p.get("tick_at") is not None:
                    x["tick_at"] = absol(p["tick_at"], now)
                    x["tick_gen"] += 1
                    self.post(x["tick_at"], EV_TICK, pc, x["tick_gen"])
                else:
                    self.start_tick(pc)
            elif x["runq"]:
                self.kick(pc, "resume")
            if x["runq"]:
                self.loaded.add(pc.idx)
        acct = ps.get("acct_at")
        self.acct_at = absol(acct, now) if acct is not None else now + self.tslice
        self.acct_gen += 1
        self.post(self.acct_at, EV_ACCT, None, self.acct_gen)
        return placed

    def dump_vcpu(self, vs: VS) -> dict:
        pc = vs.pc
        if pc is not None and pc.curr is vs and pc.x["dormant"]:
            self.sync_tick(pc)
        s = vs.s
        now = self.now
        return {"credit": s.credit, "pri": s.pri, "residual": s.residual,
                "burn_start": rel(s.burn_start, now), "active": s.active,
                "last_ran": rel(s.last_ran, now),
                "cpu": vs.pc.cpu if vs.pc is not None else None}

    def dump_pool(self) -> dict:
        now = self.now
        pcpus = []
        for pc in self.pcpus:
            x = pc.x
            pcpus.append(dict(self.dump_pcpu(pc), runq=[vs.key for vs in x["runq"]],
                              tick_at=rel(self.next_tick(pc) if x["dormant"] else x["tick_at"],
                                          now), last_lb=rel(x["last_lb"], now),
                              sort_seen=x["sort_seen"]))
        active = [vs.key for d in self.active_doms for vs in self.dom_active[d]]
        return {"pcpus": pcpus, "acct_at": rel(self.acct_at, now), "active": active,
                "balance": self.balance, "runq_sort": self.runq_sort, "bias": self.bias}


def _neg_pri(vs: VS) -> int:
    return -vs.s.pri
