"""SEDF, as Xen 4.5's xen/common/sched_sedf.c did it (removed in 4.6).

Per-pCPU EDF, no migration: each vCPU stays on its pCPU. A vCPU with a
reservation (period, slice) sits on the runqueue (sorted by absolute deadline)
once its period has begun, else on the waitqueue (sorted by period start). The
earliest deadline runs until its slice for the period is used up or the next
period starts; then `cputime -= slice`, `deadline += period`. When no
reservation is due, extra time is handed out in 500 us quanta: first to the
"penalty" queue L0 (vCPUs that lost part of their slice by blocking), then to
the "utilisation" queue L1 (extratime vCPUs) in stride order: after a quantum
the runner's score is reset to 2^17/extraweight (best-effort vCPUs) or
(period << 10)/slice (reservations) and every other waiter's score is reduced
by the runner's old score. Best-effort vCPUs (the default: slice 0, extraweight
1) only ever get extra time. Parameters come from the domain (ms, as libxl
passed them); weight-driven domains get `slice = weight x (100 ms - 5 ms -
reserved) / sum of weights` of their pCPU. Latency is stored but unused, as in
the final code.
"""

from __future__ import annotations

from pyxl.hv.runstate import RUNNING, RUNSTATES
from pyxl.hv.sched.engine import Engine, PCpu, VS, absol, rel
from pyxl.hv.sched.params import DOMAIN_PARAMS

DEFAULTS = DOMAIN_PARAMS["sedf"]

MS = 1_000_000
EXTRA_QUANTUM = 500_000
WEIGHT_PERIOD = 100 * MS
WEIGHT_SAFETY = 5 * MS
PEN, UTIL = 0, 1


class SV:
    __slots__ = ("period", "slice", "extraweight", "aware", "deadl", "cputime",
                 "score", "want_pen", "lost", "onq", "exq", "run_extra",
                 "sched_start", "block_abs", "home", "was_aware")

    def __init__(self):
        self.period = WEIGHT_PERIOD
        self.slice = 0
        self.extraweight = 1
        self.aware = True
        self.deadl: int | None = None
        self.cputime = 0
        self.score = [0, 0]
        self.want_pen = False
        self.lost = 0
        self.onq: str | None = None   # "run" | "wait" | None
        self.exq = [False, False]
        self.run_extra: int | None = None  # PEN | UTIL while running extra time
        self.sched_start = 0
        self.block_abs: int | None = None
        self.home = 0
        self.was_aware: bool | None = None  # as last saved: a change is an adjust


def _begin(vs: VS) -> int:
    return vs.s.deadl - vs.s.period


class SedfEngine(Engine):
    name = "sedf"

    def longest_cycle(self) -> int:
        return max([super().longest_cycle()] + [vs.s.period for vs in self.vss])

    def periods(self) -> list[int]:
        return super().periods() + [vs.s.period for vs in self.vss]

    def uncontended(self) -> bool:
        """SEDF never migrates: contention is per pCPU, so at most one
        eligible vCPU per home pCPU (affinity beside the point); what it gets
        then repeats with its workload's and its own SEDF period."""
        homes = set()
        kinds = self.PERIODIC_KINDS
        for vs in self.vss:
            if not vs.eligible:
                continue
            if vs.s.home in homes or vs.demand is None or vs.demand.kind not in kinds:
                return False
            homes.add(vs.s.home)
        return True

    # --------------------------------------------------------- queues
    def _insert(self, lst: list, vs: VS, key) -> None:
        k = key(vs)
        i = 0
        n = len(lst)
        while i < n and key(lst[i]) <= k:
            i += 1
        lst.insert(i, vs)

    def add_runq(self, vs: VS) -> None:
        self._insert(self.by_cpu[vs.s.home].x["runq"], vs, _deadl)
        vs.s.onq = "run"

    def add_waitq(self, vs: VS) -> None:
        self._insert(self.by_cpu[vs.s.home].x["waitq"], vs, _begin)
        vs.s.onq = "wait"

    def del_queue(self, vs: VS) -> None:
        s = vs.s
        if s.onq is not None:
            self.by_cpu[s.home].x["runq" if s.onq == "run" else "waitq"].remove(vs)
            s.onq = None

    def ex_del(self, vs: VS, i: int) -> None:
        if vs.s.exq[i]:
            self.by_cpu[vs.s.home].x["exq"][i].remove(vs)
            vs.s.exq[i] = False

    def ex_add(self, vs: VS, i: int, sub: int) -> None:
        """extraq_add_sort_update: insert by score, reducing others by sub."""
        q = self.by_cpu[vs.s.home].x["exq"][i]
        my = vs.s.score[i]
        pos = len(q)
        for j, o in enumerate(q):
            o.s.score[i] -= sub
            if my < o.s.score[i]:
                pos = j
                break
        if sub and pos < len(q):
            for o in q[pos + 1:]:
                o.s.score[i] -= sub
        q.insert(pos, vs)
        vs.s.exq[i] = True

    def dequeue(self, vs: VS) -> None:
        self.by_cpu[vs.s.home].x["last"] = None
        self.del_queue(vs)
        self.ex_del(vs, PEN)
        self.ex_del(vs, UTIL)

    # ------------------------------------------------------ descheduling
    def desched_edf(self, vs: VS, runnable: bool) -> None:
        s = vs.s
        s.cputime += self.now - s.sched_start
        if s.cputime < s.slice and runnable:
            return
        self.del_queue(vs)
        if s.cputime >= s.slice:
            s.cputime -= s.slice
            s.deadl += s.period
        if runnable:
            self.add_waitq(vs)
        else:
            self.ex_del(vs, PEN)
            self.ex_del(vs, UTIL)

    def desched_extra(self, vs: VS, runnable: bool) -> None:
        s = vs.s
        i = s.run_extra
        s.run_extra = None
        s.cputime = 0
        if s.exq[i]:  # self.ex_del(vs, i), inlined
            self.by_cpu[s.home].x["exq"][i].remove(vs)
            s.exq[i] = False
        oldscore = s.score[i]
        if i == PEN:
            s.lost = 0
            s.want_pen = False
        else:
            if s.extraweight:
                s.score[UTIL] = (1 << 17) // s.extraweight
            else:
                s.score[UTIL] = (s.period << 10) // s.slice
        if runnable:
            if (s.aware and i == UTIL) or (s.want_pen and i == PEN):
                self.ex_add(vs, i, oldscore)
        else:
            self.del_queue(vs)
            self.ex_del(vs, UTIL if i == PEN else PEN)

    def update_queues(self, pc: PCpu) -> None:
        now = self.now
        runq, waitq = pc.x["runq"], pc.x["waitq"]
        while waitq and _begin(waitq[0]) <= now:
            vs = waitq.pop(0)
            vs.s.onq = None
            self.add_runq(vs)
        i = 0
        while i < len(runq):
            vs = runq[i]
            s = vs.s
            if s.slice == 0:
                runq.pop(i)
                s.onq = None
                s.deadl += s.period
                if _begin(vs) < now:
                    s.deadl += -(-(now - _begin(vs)) // s.period) * s.period
                self.add_waitq(vs)
            elif s.deadl < now or s.cputime > s.slice:
                runq.pop(i)
                s.onq = None
                s.deadl += s.period
                if s.deadl < now:
                    s.deadl += -(-(now - s.deadl) // s.period) * s.period
                s.cputime = 0
                if _begin(vs) > now:
                    self.add_waitq(vs)
                else:
                    self.add_runq(vs)
            else:
                break

    # -------------------------------------------------------- decisions
    def schedule(self, pc: PCpu, reason: str) -> None:
        now = self.now
        x = pc.x
        cur = pc.curr
        # One more quantum of an undisturbed extra-time rotation (see rotate)?
        in_turn = x["last"] == now - EXTRA_QUANTUM and cur is not None \
            and cur.state == RUNNING and cur.s.run_extra == UTIL
        if cur is not None and cur.pc is pc:
            runnable = cur.state == RUNNING
            if not runnable:
                cur.s.block_abs = now
            if cur.s.run_extra is not None:
                self.desched_extra(cur, runnable)
            elif cur.s.onq is not None:
                self.desched_edf(cur, runnable)
        runq, waitq, exq = x["runq"], x["waitq"], x["exq"]
        if runq or (waitq and waitq[0].s.deadl - waitq[0].s.period <= now):
            self.update_queues(pc)  # (which has nothing to do otherwise)
        snext = None
        mode = "idle"
        if runq:
            snext = runq[0]
            end = now + snext.s.slice - snext.s.cputime
            if waitq:
                end = min(end, _begin(waitq[0]))
            mode = "edf"
        elif waitq:
            end = _begin(waitq[0])
            if end - now >= EXTRA_QUANTUM:
                if exq[PEN]:
                    snext, mode = exq[PEN][0], "extra (penalty)"
                    snext.s.run_extra = PEN
                elif exq[UTIL]:
                    snext, mode = exq[UTIL][0], "extra"
                    snext.s.run_extra = UTIL
                if snext is not None:
                    end = now + EXTRA_QUANTUM
        else:
            end = None
        if end is not None and end <= now:
            end = now + EXTRA_QUANTUM
        prev = cur
        if snext is not None:
            snext.s.sched_start = now
        self.switch(pc, snext)
        if snext is not None:
            snext.pc = pc
        if end is None:
            self.stop_timer(pc)
        else:
            self.set_timer(pc, end)
        x["expires"] = end
        if mode == "extra" and self.trace is None:
            self.rotate(pc, snext, in_turn)
        else:
            x["last"] = None
        if self.trace is not None:
            s = None if snext is None else snext.s
            self.emit(pc, snext, prev, reason, mode=mode,
                      deadline=None if s is None else s.deadl,
                      cputime=None if s is None else s.cputime)

    def on_wake(self, vs: VS, boost: bool) -> None:
        now = self.now
        s = vs.s
        self.by_cpu[s.home].x["last"] = None  # the pCPU's extra-time rotation is disturbed
        if s.deadl is None:
            s.deadl = now + s.slice
        if now < _begin(vs):
            if s.want_pen:
                self.ex_add(vs, PEN, 0)
            if s.aware:
                self.ex_add(vs, UTIL, 0)
        else:
            if now < s.deadl:
                s.deadl += s.period
                if s.block_abs is not None:
                    pen = max(0, s.slice - s.cputime)
                    s.lost = pen
                    if pen:
                        s.score[PEN] = (s.period << 10) // pen
                        if s.exq[PEN]:
                            self.ex_del(vs, PEN)
                        else:
                            s.want_pen = True
                        self.ex_add(vs, PEN, 0)
                s.cputime = 0
            else:
                s.deadl = now + s.period
                s.cputime = 0
            if s.aware and not s.exq[UTIL]:
                self.ex_add(vs, UTIL, 0)
        if _begin(vs) > now:
            self.add_waitq(vs)
        else:
            self.add_runq(vs)
        pc = self.by_cpu[s.home]
        if self.should_switch(pc, vs):
            self.kick(pc, "wake")

    # ----------------------------------------------- extra-time rotations
    # A pCPU whose vCPUs are all best-effort and busy hands out 500 us quanta
    # round and round; its queue of scores comes back to the same values after
    # each round, and nothing else happens on it until a period begins or an
    # outsider wakes. SEDF pCPUs never touch one another, so such a pCPU can
    # skip whole rounds at once: every vCPU of the round gets, per round, the
    # same runstate times and its switch times move on by one round, exactly
    # as simulating each quantum would do.

    def rotate(self, pc: PCpu, snext: VS, in_turn: bool) -> None:
        """Bookkeeping after pc chose an extra-time quantum: learn its round
        (the queue's state repeating), then skip the rounds that fit."""
        x = pc.x
        now = self.now
        x["last"] = None
        q = pc.x["exq"][UTIL]
        if snext.s.run_extra != UTIL or x["runq"] or not x["waitq"]:
            return
        x["last"] = now
        if not in_turn:
            x["turns"] = 0
            x["seen"].clear()
            x["arms"].clear()
        turn = x["turns"] = x["turns"] + 1
        sig = (snext.idx,) + tuple([(vs.idx, vs.s.score[UTIL]) for vs in q])
        seen = x["seen"]
        past = seen.get(sig)
        if len(seen) > 64:
            seen.clear()
        seen[sig] = (turn, now)
        if past is None:
            return
        m = turn - past[0]
        span = now - past[1]
        if span != m * EXTRA_QUANTUM or any(vs.demand.work is not None for vs in q):
            return
        cyc = x["cycles"].get(sig)
        if cyc is None or cyc[0] != m:
            # Seen a round: take a snapshot now, and the per-round change
            # when the same state comes round again.
            arm = x["arms"].get(sig)
            if arm is not None and arm[0] == turn - m:
                cyc = self.round_of(q, arm[1], m, span)
                if cyc is not None:
                    if len(x["cycles"]) > 64:
                        x["cycles"].clear()
                    x["cycles"][sig] = cyc
            if cyc is None:
                if len(x["arms"]) > 64:
                    x["arms"].clear()
                x["arms"][sig] = (turn, self.snapshot(q))
                return
        if self.skip_rounds(pc, q, cyc):
            seen.clear()
            seen[sig] = (turn, self.now_of(pc))
            x["arms"].clear()

    def now_of(self, pc: PCpu) -> int:
        """The time of pc's last decision (ahead of the engine after a skip)."""
        return pc.x["expires"] - EXTRA_QUANTUM

    @staticmethod
    def snapshot(q: list) -> dict:
        return {vs.idx: ([vs.v.time[r] for r in RUNSTATES], vs.since, vs.run_start,
                         vs.sched_in, vs.s.sched_start, vs.s.cputime, vs.state,
                         vs.s.run_extra) for vs in q}

    def round_of(self, q: list, before: dict, m: int, span: int):
        """(m, span, per-vCPU runstate deltas and which switch times move)
        over one round, or None if the round is not a clean repeat."""
        after = self.snapshot(q)
        if after.keys() != before.keys():
            return None
        per = {}
        for idx, a in after.items():
            b = before[idx]
            if a[5:] != b[5:]:
                return None
            moves = tuple(f1 - f0 for f0, f1 in zip(b[1:5], a[1:5]))
            if any(d not in (0, span) for d in moves):
                return None
            per[idx] = ([t1 - t0 for t0, t1 in zip(b[0], a[0])], [d == span for d in moves])
        return m, span, per

    def skip_rounds(self, pc: PCpu, q: list, cyc) -> bool:
        _, span, per = cyc
        now = self.now
        x = pc.x
        # Until the next period begins (the quantum must fit before it), an
        # outsider on this pCPU may wake, or the run ends.
        limit = min(_begin(x["waitq"][0]) - EXTRA_QUANTUM, self.until)
        members = set(per)
        for vs in x["homed"]:
            if vs.idx not in members:
                nr = vs.demand.next_release if vs.demand is not None else None
                if nr is not None and nr - 1 < limit:
                    limit = nr - 1
        k = (limit - now) // span
        if k <= 0:
            return False
        shift = k * span
        for vs in q:
            dt, moves = per[vs.idx]
            t = vs.v.time
            for r, d in zip(RUNSTATES, dt):
                if d:
                    t[r] += k * d
            if moves[0]:
                vs.since += shift
            if moves[1]:
                vs.run_start += shift
            if moves[2]:
                vs.sched_in += shift
            if moves[3]:
                vs.s.sched_start += shift
        end = now + shift + EXTRA_QUANTUM
        self.set_timer(pc, end)
        x["expires"] = end
        x["last"] = now + shift
        return True

    def should_switch(self, pc: PCpu, other: VS) -> bool:
        cur = pc.curr
        exp = pc.x.get("expires")
        if exp is not None and _begin(other) < exp:
            return True
        if cur is None or cur.state != RUNNING:
            return True
        mode = cur.s.run_extra
        if mode is None:
            return False
        if mode == PEN:
            return other.s.want_pen and other.s.score[PEN] < cur.s.score[PEN]
        return other.s.want_pen

    # ------------------------------------------------------ parameters
    def effective(self) -> None:
        """Turn each domain's (ms) parameters into per-vCPU ns values."""
        sumw: dict[int, int] = {}
        sumt: dict[int, int] = {}
        kinds = {}
        for vs in self.vss:
            p = vs.dom.sched_params or {}
            period = int(p.get("period", DEFAULTS["period"])) * MS
            slc = int(p.get("slice", DEFAULTS["slice"])) * MS
            extra = bool(int(p.get("extratime", DEFAULTS["extratime"])))
            weight = int(p.get("weight", DEFAULTS["weight"]))
            s = vs.s
            s.aware = extra
            if weight and extra and period == 0:
                kinds[vs.key] = "be"
                s.period, s.slice, s.extraweight = WEIGHT_PERIOD, 0, weight
            elif weight:
                kinds[vs.key] = "wd"
                sumw[s.home] = sumw.get(s.home, 0) + weight
            elif slc == 0:
                kinds[vs.key] = "be"
                s.period, s.slice, s.extraweight = period or WEIGHT_PERIOD, 0, 1
            else:
                kinds[vs.key] = "td"
                s.period, s.slice, s.extraweight = period, slc, 0
                sumt[s.home] = sumt.get(s.home, 0) + WEIGHT_PERIOD * slc // period
        for vs in self.vss:
            if kinds[vs.key] == "wd":
                s = vs.s
                weight = int(vs.dom.sched_params.get("weight", DEFAULTS["weight"]))
                avail = max(0, WEIGHT_PERIOD - WEIGHT_SAFETY - sumt.get(s.home, 0))
                s.period = WEIGHT_PERIOD
                s.slice = max(1, weight * avail // sumw[s.home])
                s.extraweight = 0

    # ----------------------------------------------------- persistence
    def load_vcpu(self, vs: VS, ss: dict) -> None:
        now = self.now
        s = SV()
        home = ss.get("home")
        s.home = home if home in vs.hard else None  # placed in load_pool
        s.was_aware = ss.get("aware")
        if ss.get("deadl") is not None:
            s.deadl = absol(ss["deadl"], now)
            s.cputime = int(ss.get("cputime", 0))
            s.score = list(ss.get("score", [0, 0]))
            s.want_pen = bool(ss.get("want_pen", False))
            s.lost = int(ss.get("lost", 0))
            s.run_extra = ss.get("run_extra")
            s.sched_start = absol(ss.get("sched_start", 0), now)
            s.block_abs = absol(ss.get("block_abs"), now)
        vs.s = s

    def load_pool(self, ps: dict) -> set:
        now = self.now
        # SEDF never migrates: place new vCPUs on the least-loaded pCPU of
        # their affinity, as Xen's initial vCPU placement spreads them.
        load = {pc.cpu: 0 for pc in self.pcpus}
        for vs in self.vss:
            if vs.s.home is not None:
                load[vs.s.home] += 1
        for vs in self.vss:
            if vs.s.home is None:
                vs.s.home = min(vs.hard, key=lambda c: (load[c], c))
                load[vs.s.home] += 1
        self.effective()
        for pc in self.pcpus:
            pc.x = {"runq": [], "waitq": [], "exq": [[], []], "expires": None,
                    "last": None, "turns": 0, "seen": {}, "cycles": {}, "arms": {},
                    "homed": [vs for vs in self.vss if vs.s.home == pc.cpu]}
        placed: set = set()
        saved = self.saved_pcpus(ps)
        for pc in self.pcpus:
            p = saved.get(pc.cpu, {})
            x = pc.x
            for name, q in (("runq", x["runq"]), ("waitq", x["waitq"])):
                for key in p.get(name, []):
                    vs = self.by_key.get(key)
                    if vs is not None and vs.state in ("runnable",) and vs.s.home == pc.cpu \
                            and vs.s.deadl is not None and key not in placed:
                        q.append(vs)
                        vs.s.onq = "run" if name == "runq" else "wait"
                        placed.add(key)
            for i, name in ((PEN, "ex0"), (UTIL, "ex1")):
                for key in p.get(name, []):
                    vs = self.by_key.get(key)
                    if vs is not None and key in placed and not vs.s.exq[i]:
                        x["exq"][i].append(vs)
                        vs.s.exq[i] = True
            x["runq"].sort(key=_deadl)
            x["waitq"].sort(key=_begin)
            ck = p.get("curr")  # queued as well as running: restored as running
            was = ck in placed
            placed.discard(ck)
            self.restore_pcpu(pc, p, placed)
            if was:
                placed.add(ck)
            x["expires"] = absol(p.get("expires"), now)
            if pc.curr is None and (x["runq"] or x["waitq"]):
                self.restore_timer(pc, p)
        for vs in self.vss:
            if vs.pc is None:
                vs.pc = self.by_cpu.get(vs.s.home)
            if vs.key not in placed:
                vs.s.run_extra = None
                vs.s.onq = None
        for vs in self.vss:
            if vs.s.was_aware is not None and vs.s.was_aware != vs.s.aware:
                self.extraq_check(vs)
        return placed

    def extraq_check(self, vs: VS) -> None:
        """What sedf_adjust does to each vCPU whose extratime flag it set: an
        aware runnable vCPU joins the utilisation extra queue; one no longer
        aware leaves it unless it is running extra time now."""
        s = vs.s
        if s.exq[UTIL]:
            if not s.aware and s.run_extra is None:
                self.ex_del(vs, UTIL)
        elif s.aware and vs.state in ("runnable", RUNNING) and s.home is not None:
            self.ex_add(vs, UTIL, 0)

    def dump_vcpu(self, vs: VS) -> dict:
        s = vs.s
        now = self.now
        return {"home": s.home, "aware": s.aware, "deadl": rel(s.deadl, now),
                "cputime": s.cputime,
                "score": list(s.score), "want_pen": s.want_pen, "lost": s.lost,
                "run_extra": s.run_extra, "sched_start": rel(s.sched_start, now),
                "block_abs": rel(s.block_abs, now),
                "cpu": vs.pc.cpu if vs.pc is not None else None}

    def dump_pool(self) -> dict:
        now = self.now
        return {"pcpus": [dict(
            self.dump_pcpu(pc),
            runq=[v.key for v in pc.x["runq"]], waitq=[v.key for v in pc.x["waitq"]],
            ex0=[v.key for v in pc.x["exq"][PEN]], ex1=[v.key for v in pc.x["exq"][UTIL]],
            expires=rel(pc.x["expires"], now),
        ) for pc in self.pcpus]}


def _deadl(vs: VS) -> int:
    return vs.s.deadl
