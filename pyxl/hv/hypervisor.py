"""The simulated hypervisor: the operations libxl asks Xen to perform.

Each public method stands for one hypercall or domctl/sysctl, named after it,
so that a student reading a trace sees what `xl create` really asks of Xen.
The state it acts on (domains, vCPUs, cpupools) is plain data from
pyxl/hv/model.py; nothing here prints, reads the wall clock or touches disk.

Time is the simulation's (pyxl/sim): the hypervisor reads it through the
`clock` it is given and runs its schedulers up to a time when asked. Each
cpupool's scheduler engine stays loaded between those runs, so the model's
runstates and times are current only after `sched_sync()`; every operation
here that changes what a scheduler reads first writes the engines back and
drops them. Code outside changes domains and vCPUs through these operations,
never by assigning to the model, or a loaded engine would not see it.

A steady pool (pyxl/hv/steady.py) runs no engine at all: its vCPUs in
memory are a view at now of their rows as stored (`views`), refreshed by
`sched_sync()`; an operation on one domain settles that domain, one that a
scheduler must decide on settles the pool, and `stored_form()` puts the rows
back before the host writes the model, so that only what changed is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from pyxl.hv.domains import Domains
from pyxl.hv.errors import HypercallError  # raised here; importers find it here too
from pyxl.hv.model import (
    DOMID_FIRST_RESERVED,
    MAX_PAGES_KB,
    MAX_VCPUS,
    CpuPool,
    Domain,
    Vcpu,
)
from pyxl.hv.runstate import OFFLINE, RUNNABLE, RUNNING

if TYPE_CHECKING:
    from pyxl.hv.sched.engine import Engine

# The domain whose kernel issues the toolstack's domctls (current->domain).
TOOLSTACK_DOMID = 0


# Plain classes, not dataclasses: every command defines them at start-up,
# where a dataclass costs ~30 times more to define.
class PhysInfo:
    """What XEN_SYSCTL_physinfo reports about the machine."""

    def __init__(self, nr_cpus: int, threads_per_core: int, cores_per_socket: int,
                 nr_nodes: int, cpu_khz: int, total_kb: int):
        self.nr_cpus = nr_cpus
        self.threads_per_core = threads_per_core
        self.cores_per_socket = cores_per_socket
        self.nr_nodes = nr_nodes
        self.cpu_khz = cpu_khz
        self.total_kb = total_kb

    @property
    def max_cpu_id(self) -> int:
        return self.nr_cpus - 1

    def node_of(self, cpu: int) -> int:
        return cpu // (self.nr_cpus // self.nr_nodes)

    def socket_of(self, cpu: int) -> int:
        return self.node_of(cpu)

    def core_of(self, cpu: int) -> int:
        return (cpu % (self.nr_cpus // self.nr_nodes)) // self.threads_per_core


class DomainInfo:
    """XEN_DOMCTL_getdomaininfo's answer, the way libxl_dominfo carries it."""

    def __init__(self, domid: int, uuid: str, running: bool, blocked: bool, paused: bool,
                 shutdown: bool, shutdown_reason: int | None, dying: bool,
                 current_memkb: int, max_memkb: int, cpu_time_ns: int, vcpu_max_id: int,
                 vcpu_online: int, cpupool: int, ssidref: int):
        self.domid = domid
        self.uuid = uuid
        self.running = running
        self.blocked = blocked
        self.paused = paused
        self.shutdown = shutdown
        self.shutdown_reason = shutdown_reason
        self.dying = dying
        self.current_memkb = current_memkb
        self.max_memkb = max_memkb
        self.cpu_time_ns = cpu_time_ns
        self.vcpu_max_id = vcpu_max_id
        self.vcpu_online = vcpu_online
        self.cpupool = cpupool
        self.ssidref = ssidref


class Hypervisor:
    """Xen, as far as the toolstack can see it, over the loaded host state."""

    def __init__(self, physinfo: PhysInfo, domains: Mapping[int, Domain],
                 pools: dict[int, CpuPool], clock: Callable[[], int], domid_rover: int,
                 seed: int = 0, trace: Callable[[str, dict], None] | None = None,
                 heap_free: list[list[int]] | None = None):
        self.physinfo = physinfo
        # The heap's free frames as [mfn, count] runs (pyxl/hv/mm.py); None
        # until first used.
        self.heap_free = heap_free
        # A host's table loads its domains on demand and answers questions
        # about all of them (memory in use, names) without loading them all.
        self.domains = domains if isinstance(domains, Domains) else Domains(domains)
        self.pools = pools
        self._clock = clock
        self._engines: dict[int, Engine] = {}  # poolid -> its loaded scheduler engine
        self._engines_unsaved = False
        self.domid_rover = domid_rover
        self.seed = seed
        self.console_ring: list[str] = []  # lines logged during this command
        self.destroyed: set[int] = set()
        # Sees every operation as it is made (pyxl --trace shows them to a student).
        self.tracer = trace
        # Set by sched-trace to watch the schedulers' decisions as they are made.
        self.sched_trace: Callable[[dict], None] | None = None
        # Triggers sent this command, (domid, trigger, vcpuid): the guest takes
        # them at its next step, before the command ends.
        self.triggers: list[tuple[int, str, int]] = []
        # Told the domid when a domain's kernel has something to notice at
        # once (it may run now, a trigger arrived): the simulation wakes it.
        self.notify: Callable[[int], None] = _nobody
        # Told when memory a balloon may be waiting for appears: None when a
        # domain gave pages back or was destroyed (any domain may now grow),
        # a domid when that domain's max_pages grew (it alone may). The
        # simulation wakes the balloon drivers that found none (no polling).
        self.memory_freed: Callable[[int | None], None] = _nobody
        # Steady pools (pyxl/hv/steady.py): by domid, the vCPU rows as
        # stored of each domain whose in-memory vCPUs are a view at now.
        self.views: dict[int, list[tuple[str, dict, dict]]] = {}
        self._view_t: int | None = None
        self._refresh_views()

    @property
    def now_ns(self) -> int:
        return self._clock()

    # --- bookkeeping -----------------------------------------------------

    def trace(self, op: str, **args) -> None:
        if self.tracer is not None:
            self.tracer(op, args)

    def log(self, line: str) -> None:
        """Append a line to Xen's console ring (what `xl dmesg` reads)."""
        self.console_ring.append(f"(XEN) {line}")

    def domain(self, domid: int) -> Domain:
        d = self.domains.get(domid)
        if d is None:
            raise HypercallError("ESRCH")
        return d

    # --- sysctls --------------------------------------------------------

    def free_kb(self) -> int:
        return self.physinfo.total_kb - self.domains.total_memkb()

    # --- domctls --------------------------------------------------------

    def domctl_createdomain(self, uuid: str, name: str, type: str, poolid: int = 0,
                            domid: int | None = None, ssidref: int = 0,
                            max_vcpus: int | None = None,
                            max_grant_frames: int | None = None,
                            max_evtchn_port: int | None = None,
                            max_maptrack_frames: int | None = None) -> Domain:
        """Create an empty, paused domain; pick a domid as Xen's rover does.

        Xen checks the requested vCPU count against the type's limit first
        (sanitise_domain_config): 0, or more than 128 for HVM/PVH or 8192
        for PV, is EINVAL. So is a grant table limit below its initial frame
        (grant_table_init); a negative one means Xen's default. The event
        channel and maptrack limits are kept only when given (xl.cfg's
        max_event_channels, max_maptrack_frames).
        """
        self._reload_engines()  # a paused domain without vCPUs: steady pools stay so
        if max_vcpus is not None and not 1 <= max_vcpus <= MAX_VCPUS[type]:
            raise HypercallError("EINVAL", "XEN_DOMCTL_createdomain")
        if domid is None:
            domid = self._next_free_domid()
        elif domid in self.domains or not 0 < domid < DOMID_FIRST_RESERVED:
            raise HypercallError("EEXIST" if domid in self.domains else "EINVAL",
                                 "XEN_DOMCTL_createdomain")
        if poolid not in self.pools:
            raise HypercallError("ESRCH", "XEN_DOMCTL_createdomain")
        if max_grant_frames is not None and 0 <= max_grant_frames < 1:
            raise HypercallError("EINVAL", "XEN_DOMCTL_createdomain")
        from pyxl.hv.sched import default_domain_params

        d = Domain(domid=domid, name=name, uuid=uuid, type=type, poolid=poolid,
                   pause_count=1, created_ns=self.now_ns, ssidref=ssidref,
                   sched_params=default_domain_params(self.pools[poolid].sched))
        if max_evtchn_port:
            d.max_evtchn_port = max_evtchn_port
        if max_grant_frames is not None or max_maptrack_frames is not None:
            from pyxl.hv import gnttab

            if max_grant_frames is not None:
                gnttab.set_max_frames(d, max_grant_frames)
            if max_maptrack_frames is not None:
                gnttab.set_max_maptrack_frames(d, max_maptrack_frames)
        self.domains[domid] = d
        self.trace("XEN_DOMCTL_createdomain", domid=domid, uuid=uuid, type=type)
        return d

    def _next_free_domid(self) -> int:
        # Xen's domid rover moves forward and wraps, so a destroyed domain's id
        # is not reused until the rover comes round again.
        for _ in range(DOMID_FIRST_RESERVED):
            self.domid_rover += 1
            if self.domid_rover >= DOMID_FIRST_RESERVED:
                self.domid_rover = 1
            if self.domid_rover not in self.domains:
                return self.domid_rover
        raise HypercallError("ENOMEM", "XEN_DOMCTL_createdomain")

    def domctl_max_vcpus(self, domid: int, max_vcpus: int, online: int,
                         params: dict, workload: list[str]) -> None:
        self._reload_engines()
        d = self.domain(domid)
        self._settle_domain(d)
        if not 1 <= max_vcpus <= MAX_VCPUS[d.type]:
            raise HypercallError("EINVAL", "XEN_DOMCTL_max_vcpus")
        # in a steady pool, the new rows describe the vCPUs as of now
        fresh = {"at": self.now_ns} if self._is_steady(d.poolid) else {}
        d.vcpus = [
            Vcpu(domid=domid, vcpuid=i, online=i < online, runstate=OFFLINE,
                 cpu=self._initial_cpu(d, i), workload=workload[i],
                 sched_params=dict(params), sched_state=dict(fresh))
            for i in range(max_vcpus)
        ]
        self.trace("XEN_DOMCTL_max_vcpus", domid=domid, max=max_vcpus)

    def _initial_cpu(self, d: Domain, vcpuid: int) -> int:
        cpus = self.pools[d.poolid].cpus or [0]
        return cpus[(d.domid + vcpuid) % len(cpus)]

    def domctl_setvcpuaffinity(self, domid: int, vcpuid: int,
                               hard: list[int] | None, soft: list[int] | None) -> None:
        """XEN_DOMCTL_setvcpuaffinity: a hard affinity with no pCPU of the
        domain's cpupool is EINVAL (vcpu_set_hard_affinity); a vCPU sitting
        outside its new hard affinity moves into it, as Xen migrates it."""
        self._sched_params_change(domid)  # an affinity is a parameter too
        v = self.vcpu(domid, vcpuid)
        pool_cpus = self.pools[self.domain(domid).poolid].cpus
        if hard is not None and not set(hard) & set(pool_cpus):
            raise HypercallError("EINVAL", "XEN_DOMCTL_setvcpuaffinity")
        if hard is not None:
            v.hard_affinity = None if len(hard) >= self.physinfo.nr_cpus else sorted(hard)
        if soft is not None:
            v.soft_affinity = None if len(soft) >= self.physinfo.nr_cpus else sorted(soft)
        allowed = set(pool_cpus) if v.hard_affinity is None else \
            set(v.hard_affinity) & set(pool_cpus)
        if allowed and v.cpu not in allowed:
            v.cpu = min(allowed)
            if v.runstate == RUNNING:
                v.runstate = RUNNABLE
        self.trace("XEN_DOMCTL_setvcpuaffinity", domid=domid, vcpu=vcpuid,
                   hard=v.hard_affinity, soft=v.soft_affinity)

    def vcpu(self, domid: int, vcpuid: int) -> Vcpu:
        d = self.domain(domid)
        if not 0 <= vcpuid < len(d.vcpus):
            raise HypercallError("EINVAL")
        return d.vcpus[vcpuid]

    def domctl_max_mem(self, domid: int, max_memkb: int) -> None:
        """Xen keeps max_pages in an unsigned int, so a larger limit is cut to it."""
        d = self.domain(domid)
        old, d.max_memkb = d.max_memkb, min(max_memkb, MAX_PAGES_KB)
        self.trace("XEN_DOMCTL_max_mem", domid=domid, max_memkb=max_memkb)
        if d.max_memkb > old:
            self.memory_freed(domid)

    def memory_populate_physmap(self, domid: int, kb: int) -> None:
        """XENMEM_populate_physmap: give the domain `kb` more memory."""
        d = self.domain(domid)
        if kb > self.free_kb():
            raise HypercallError("ENOMEM", "XENMEM_populate_physmap")
        if d.tot_memkb + kb > d.max_memkb:
            raise HypercallError("ENOMEM", "XENMEM_populate_physmap")
        d.tot_memkb += kb
        from pyxl.hv import mm

        mm.sync(self, d)
        self.trace("XENMEM_populate_physmap", domid=domid, kb=kb)

    def memory_decrease_reservation(self, domid: int, kb: int) -> None:
        d = self.domain(domid)
        old, d.tot_memkb = d.tot_memkb, max(0, d.tot_memkb - kb)
        from pyxl.hv import mm

        mm.sync(self, d)
        self.trace("XENMEM_decrease_reservation", domid=domid, kb=kb)
        if d.tot_memkb < old:
            self.memory_freed(None)

    def mmuext_pin_l4_table(self, domid: int, tables: list[tuple[int, int, int, int]]) -> None:
        """MMUEXT_PIN_L4_TABLE as the domain builder issues it for a PV guest:
        Xen validates the tree under the L4, so each table gets its level's
        type (one type reference from the entry above it; the L4's from the
        pin) and a general reference more. `tables`: (level, mfn, count, refs)."""
        from pyxl.hv import mm

        d = self.domain(domid)
        for level, mfn, count, refs in tables:
            mm.set_types(d, mfn, count, level, 1, 1 + refs, pinned=level == mm.PGT_L4)
        top = next(mfn for level, mfn, _, _ in tables if level == mm.PGT_L4)
        self.trace("MMUEXT_PIN_L4_TABLE", domid=domid, mfn=top)

    def domctl_pausedomain(self, domid: int) -> None:
        """EINVAL for the caller's own domain: Xen will not pause the domain
        whose vCPU is making the hypercall."""
        self._reload_engines()
        d = self.domain(domid)
        self._settle_domain(d)
        if d.dying or domid == TOOLSTACK_DOMID:
            raise HypercallError("EINVAL", "XEN_DOMCTL_pausedomain")
        d.pause_count += 1
        self._release_room(d)
        self.trace("XEN_DOMCTL_pausedomain", domid=domid, pause_count=d.pause_count)

    def domctl_unpausedomain(self, domid: int) -> None:
        self._reload_engines()
        d = self.domain(domid)
        self._settle_domain(d)
        if d.pause_count == 0 or d.dying:
            raise HypercallError("EINVAL", "XEN_DOMCTL_unpausedomain")
        d.pause_count -= 1
        self._admit(d)
        self.trace("XEN_DOMCTL_unpausedomain", domid=domid, pause_count=d.pause_count)
        self.notify(domid)

    def domctl_destroydomain(self, domid: int) -> None:
        self._reload_engines()
        d = self.domain(domid)
        self.views.pop(domid, None)
        self._release_room(d)
        d.dying = True
        self._release_channels(d)
        if d.p2m:
            from pyxl.hv import mm

            mm.release_all(self, d)
        del self.domains[domid]
        self.destroyed.add(domid)
        self.trace("XEN_DOMCTL_destroydomain", domid=domid)
        if d.tot_memkb > 0:
            self.memory_freed(None)

    def sched_shutdown(self, domid: int, reason: int) -> None:
        """SCHEDOP_shutdown (from the guest) or SCHEDOP_remote_shutdown."""
        self._reload_engines()
        d = self.domain(domid)
        self._settle_domain(d)
        if d.shutdown:
            return  # Xen latches the first reason
        d.shutdown = True
        d.shutdown_reason = reason
        self._release_room(d)
        self.trace("SCHEDOP_shutdown", domid=domid, reason=reason)

    def domctl_resumedomain(self, domid: int) -> None:
        self._reload_engines()
        d = self.domain(domid)
        self._settle_domain(d)
        if domid == TOOLSTACK_DOMID:
            raise HypercallError("EINVAL", "XEN_DOMCTL_resumedomain")
        d.shutdown = False
        d.shutdown_reason = None
        self._admit(d)
        self.trace("XEN_DOMCTL_resumedomain", domid=domid)
        self.notify(domid)

    def getdomaininfo(self, domid: int) -> DomainInfo:
        from pyxl.hv.dominfo import vcpu_summary

        d = self.domain(domid)
        running, blocked, online, cpu_time = vcpu_summary(
            domid, d.can_run, ((v.online, v.runstate, v.cpu_time) for v in d.vcpus))
        return DomainInfo(
            domid=d.domid, uuid=d.uuid, running=running,
            blocked=blocked, paused=d.paused, shutdown=d.shutdown,
            shutdown_reason=d.shutdown_reason, dying=d.dying,
            current_memkb=d.tot_memkb, max_memkb=d.max_memkb, cpu_time_ns=cpu_time,
            vcpu_max_id=len(d.vcpus) - 1, vcpu_online=online, cpupool=d.poolid,
            ssidref=d.ssidref,
        )

    def list_domains(self) -> list[DomainInfo]:
        domains = sorted(self.domains.values(), key=lambda d: d.domid)  # decoded at once
        return [self.getdomaininfo(d.domid) for d in domains]

    # --- time -----------------------------------------------------------

    def advance(self, t_ns: int) -> None:
        """Run every cpupool's scheduler from the clock's time to `t_ns`; the
        simulation, which owns the clock, then moves it there."""
        t0 = self.now_ns
        if t_ns <= t0:
            return
        from pyxl.hv.sched import open_engine, run_engine

        for poolid, pool in self.pools.items():
            eng = self._engines.pop(poolid, None)
            if eng is None:
                if self._is_steady(poolid):
                    if self.sched_trace is None:
                        continue  # its rows are read at any time (sched_sync)
                    self._settle_pool(poolid)  # a trace shows every decision
                members = [d for d in self.domains.values() if d.poolid == poolid]
                eng = open_engine(pool, members, t0, seed=self.seed, trace=self.sched_trace)
            eng.trace = self.sched_trace
            if run_engine(eng, t_ns):
                self._engines[poolid] = eng
                self._engines_unsaved = True

    def sched_sync(self) -> None:
        """Write what the loaded scheduler engines know (runstates, times,
        their own state) into the model, where everyone else reads it, and
        show the steady pools' vCPUs as they are now."""
        if self._engines_unsaved:
            for eng in self._engines.values():
                eng.save()
            self._engines_unsaved = False
        self._refresh_views()

    def sched_reload(self) -> None:
        """The model changed under the schedulers: write the engines back,
        settle the steady pools, and load engines afresh from the model at
        the next advance."""
        self._reload_engines()
        for poolid in list(self.pools):
            self._settle_pool(poolid)

    def _reload_engines(self) -> None:
        self.sched_sync()
        self._engines.clear()

    # --- steady pools (pyxl/hv/steady.py) ---

    def _is_steady(self, poolid: int) -> bool:
        pool = self.pools.get(poolid)
        return (pool is not None and poolid not in self._engines
                and pool.sched_state.get("steady") is not None)

    def _refresh_views(self) -> None:
        """Show the vCPUs of every steady pool as they are now: each from
        its row as stored, brought forward by its workload alone (a domain
        decoded later in the command, as it arrives)."""
        now = self.now_ns
        if self._view_t == now:
            return
        self._view_t = now
        self.domains.on_load = self._view
        for _, d in list(self.domains.loaded_items()):
            self._view(d)

    def _view(self, d: Domain) -> None:
        """One domain's vCPUs as they are at the last refresh, if its pool is steady."""
        from pyxl.hv.steady import evolve

        now = self._view_t
        if now is None or not self._is_steady(d.poolid):
            return
        t_pool = self.pools[d.poolid].sched_state.get("t", now)
        snap = self.views.get(d.domid)
        if snap is None:
            snap = self.views[d.domid] = [(v.runstate, v.time, v.wl_state)
                                          for v in d.vcpus]
        eligible = d.can_run
        for v, (runstate, times, wl_state) in zip(d.vcpus, snap):
            v.runstate, v.time, v.wl_state = runstate, times, wl_state
            at = v.sched_state.get("at")
            evolve(v, eligible and v.online, at if isinstance(at, int) else t_pool,
                   now, self.seed)

    def stored_form(self) -> None:
        """Put the steady pools' vCPUs back as their rows hold them (what
        readers saw was derived from those), so that writing the model back
        rewrites only the rows that changed: the domains settled here."""
        for domid, snap in self.views.items():
            d = self.domains.get(domid)
            for v, (runstate, times, wl_state) in zip(d.vcpus if d else [], snap):
                v.runstate, v.time, v.wl_state = runstate, times, wl_state
        self.views.clear()
        self._view_t = None

    def _settle_domain(self, d: Domain) -> None:
        """About to change one domain of a steady pool: its vCPUs' view at
        now becomes their stored state, anchored now (the pool stays steady)."""
        if not self._is_steady(d.poolid):
            return
        self._refresh_views()
        if self.views.pop(d.domid, None) is not None:
            now = self.now_ns
            t_pool = self.pools[d.poolid].sched_state.get("t", now)
            for v in d.vcpus:
                if v.sched_state.get("at", t_pool) != now:  # else the row holds now already
                    v.sched_state = dict(v.sched_state, at=now)

    def _settle_pool(self, poolid: int) -> None:
        """The pool's scheduler must decide again: every vCPU's view at now
        becomes its stored state, and the pool is no longer steady."""
        if not self._is_steady(poolid):
            return
        self._refresh_views()
        pool = self.pools[poolid]
        for d in self.domains.values():
            if d.poolid != poolid:
                continue
            self.views.pop(d.domid, None)
            for v in d.vcpus:
                if "at" in v.sched_state:
                    v.sched_state = {k: x for k, x in v.sched_state.items() if k != "at"}
        state = {k: x for k, x in pool.sched_state.items() if k != "steady"}
        state["t"] = self.now_ns
        pool.sched_state = state

    def _admit(self, d: Domain) -> None:
        """d's vCPUs may run now: a steady pool takes them if it has room
        for them all at once and they fit its rules, else it settles. The
        room given to each domain is kept, so that it is given once and
        returns when the domain stops running (`_release_room`)."""
        if not self._is_steady(d.poolid) or not d.can_run:
            return
        from pyxl.hv.steady import vcpu_fits

        pool = self.pools[d.poolid]
        state = pool.sched_state
        admitted = dict(state.get("admitted", {}))
        online = [v for v in d.vcpus if v.online]
        need = max(len(online) - admitted.get(str(d.domid), 0), 0)
        if need <= state["steady"] and all(vcpu_fits(pool.sched, pool.cpus, d, v)
                                           for v in online):
            admitted[str(d.domid)] = len(online)
            pool.sched_state = dict(state, steady=state["steady"] - need, admitted=admitted)
        else:
            self._settle_pool(d.poolid)

    def _release_room(self, d: Domain) -> None:
        """d no longer runs (paused, shut down, destroyed): the room its
        pool gave it when it was admitted is free again."""
        pool = self.pools.get(d.poolid)
        if pool is None or not self._is_steady(d.poolid):
            return
        state = pool.sched_state
        admitted = dict(state.get("admitted", {}))
        given = admitted.pop(str(d.domid), 0)
        if given:
            pool.sched_state = dict(state, steady=state["steady"] + given, admitted=admitted)

    # --- scheduler and cpupool operations ---

    def _sched_params_change(self, domid: int) -> None:
        """New parameters for a domain: only its own rows change while it
        cannot run (whether they fit a steady pool is asked when it is
        unpaused); else the scheduler decides again."""
        d = self.domain(domid)
        if d.can_run:
            self.sched_reload()
        else:
            self._reload_engines()
            self._settle_domain(d)

    def domctl_scheduler_op_getinfo(self, domid: int, sched: str) -> dict:
        """XEN_DOMCTL_SCHEDOP_getinfo: EINVAL unless `sched` is the domain's pool's."""
        d = self.domain(domid)
        if self.pools[d.poolid].sched != sched:
            raise HypercallError("EINVAL", "XEN_DOMCTL_scheduler_op")
        return dict(d.sched_params)

    def domctl_scheduler_op_putinfo(self, domid: int, sched: str, params: dict) -> None:
        """XEN_DOMCTL_SCHEDOP_putinfo: EINVAL for parameters the scheduler refuses."""
        self._sched_params_change(domid)
        from pyxl.hv.sched.params import domain_putinfo

        d = self.domain(domid)
        if self.pools[d.poolid].sched != sched:
            raise HypercallError("EINVAL", "XEN_DOMCTL_scheduler_op")
        d.sched_params = domain_putinfo(sched, d.sched_params, params, len(d.vcpus))
        if sched == "rtds":
            # RTDS's putinfo applies the domain's period and budget to every vCPU.
            for v in d.vcpus:
                v.sched_params = {k: d.sched_params[k] for k in ("period", "budget", "extratime")}
        self.trace("XEN_DOMCTL_SCHEDOP_putinfo", domid=domid, sched=sched, **params)

    def domctl_scheduler_op_getvcpuinfo(self, domid: int, vcpuid: int, sched: str) -> dict:
        d = self.domain(domid)
        if self.pools[d.poolid].sched != sched:
            raise HypercallError("EINVAL", "XEN_DOMCTL_scheduler_op")
        v = self.vcpu(domid, vcpuid)
        params = dict(d.sched_params)
        params.update(v.sched_params)
        return params

    def domctl_scheduler_op_putvcpuinfo(self, domid: int, vcpuid: int, sched: str,
                                        params: dict) -> None:
        self._sched_params_change(domid)
        from pyxl.hv.sched.params import vcpu_putinfo

        d = self.domain(domid)
        if self.pools[d.poolid].sched != sched:
            raise HypercallError("EINVAL", "XEN_DOMCTL_scheduler_op")
        self.vcpu(domid, vcpuid).sched_params = vcpu_putinfo(sched, params)
        self.trace("XEN_DOMCTL_SCHEDOP_putvcpuinfo", domid=domid, vcpu=vcpuid, **params)

    def sysctl_scheduler_op_getinfo(self, poolid: int, sched: str) -> dict:
        """XEN_SYSCTL_SCHEDOP_getinfo for one pool (EINVAL if it runs another scheduler)."""
        pool = self.pools.get(poolid)
        if pool is None:
            raise HypercallError("ESRCH", "XEN_SYSCTL_scheduler_op")
        if pool.sched != sched:
            raise HypercallError("EINVAL", "XEN_SYSCTL_scheduler_op")
        return dict(pool.params)

    def sysctl_scheduler_op_putinfo(self, poolid: int, sched: str, params: dict) -> None:
        self.sched_reload()
        from pyxl.hv.sched.params import pool_putinfo

        self.sysctl_scheduler_op_getinfo(poolid, sched)
        self.pools[poolid].params = pool_putinfo(sched, params)
        self.trace("XEN_SYSCTL_SCHEDOP_putinfo", poolid=poolid, sched=sched, **params)

    def free_cpus(self) -> list[int]:
        """pCPUs in no cpupool (what XEN_SYSCTL_cpupool_op FREEINFO reports)."""
        used = {c for p in self.pools.values() for c in p.cpus}
        return [c for c in range(self.physinfo.nr_cpus) if c not in used]

    def sysctl_cpupool_create(self, sched: str, name: str) -> CpuPool:
        """XEN_SYSCTL_CPUPOOL_OP_CREATE: an empty pool with the lowest free id."""
        from pyxl.hv.sched import default_pool_params

        poolid = 0
        while poolid in self.pools:
            poolid += 1
        pool = CpuPool(poolid=poolid, name=name, sched=sched,
                       params=default_pool_params(sched))
        self.pools[poolid] = pool
        self.trace("XEN_SYSCTL_CPUPOOL_OP_CREATE", poolid=poolid, sched=sched)
        return pool

    def _pool(self, poolid: int, op: str) -> CpuPool:
        pool = self.pools.get(poolid)
        if pool is None:
            raise HypercallError("ENOENT", op)
        return pool

    def _pool_domains(self, poolid: int) -> list[Domain]:
        return [d for d in self.domains.values() if d.poolid == poolid]

    def sysctl_cpupool_destroy(self, poolid: int) -> None:
        self.sched_reload()
        op = "XEN_SYSCTL_CPUPOOL_OP_DESTROY"
        pool = self._pool(poolid, op)
        if poolid == 0 or pool.cpus or self._pool_domains(poolid):
            raise HypercallError("EBUSY", op)
        del self.pools[poolid]
        self.trace(op, poolid=poolid)

    def sysctl_cpupool_addcpu(self, poolid: int, cpu: int) -> None:
        self.sched_reload()
        op = "XEN_SYSCTL_CPUPOOL_OP_ADDCPU"
        pool = self._pool(poolid, op)
        if not 0 <= cpu < self.physinfo.nr_cpus:
            raise HypercallError("EINVAL", op)
        if cpu not in self.free_cpus():
            raise HypercallError("EBUSY", op)
        pool.cpus = sorted(pool.cpus + [cpu])
        self.trace(op, poolid=poolid, cpu=cpu)

    def sysctl_cpupool_removecpu(self, poolid: int, cpu: int) -> None:
        """A pool with domains keeps at least one pCPU (EBUSY), as in Xen."""
        self.sched_reload()
        op = "XEN_SYSCTL_CPUPOOL_OP_RMCPU"
        pool = self._pool(poolid, op)
        if cpu not in pool.cpus:
            raise HypercallError("EINVAL", op)
        if len(pool.cpus) == 1 and self._pool_domains(poolid):
            raise HypercallError("EBUSY", op)
        pool.cpus = [c for c in pool.cpus if c != cpu]
        for d in self._pool_domains(poolid):
            for v in d.vcpus:
                if v.hard_affinity is not None and not set(v.hard_affinity) & set(pool.cpus):
                    # cpu_disable_scheduler: "Breaking affinity for %pv"
                    v.hard_affinity = None
                if v.cpu == cpu:
                    allowed = [c for c in pool.cpus
                               if v.hard_affinity is None or c in v.hard_affinity]
                    v.cpu = allowed[0]
                    if v.runstate == RUNNING:
                        v.runstate = RUNNABLE
        self.trace(op, poolid=poolid, cpu=cpu)

    def sysctl_cpupool_movedomain(self, poolid: int, domid: int) -> None:
        """Move a domain to another pool; it gets the new scheduler's defaults."""
        self.sched_reload()
        from pyxl.hv.sched import default_domain_params, default_vcpu_params

        op = "XEN_SYSCTL_CPUPOOL_OP_MOVEDOMAIN"
        pool = self._pool(poolid, op)
        d = self.domain(domid)
        if domid == 0 or not pool.cpus:
            raise HypercallError("EINVAL" if domid == 0 else "EBUSY", op)
        if d.poolid == poolid:
            return
        d.poolid = poolid
        d.sched_params = default_domain_params(pool.sched)
        for v in d.vcpus:
            v.sched_params = default_vcpu_params(pool.sched)
            v.sched_state = {}
            v.hard_affinity = v.soft_affinity = None   # sched_move_domain: all CPUs
            if v.runstate == RUNNING:
                v.runstate = "runnable"
            if v.cpu not in pool.cpus:
                v.cpu = pool.cpus[(d.domid + v.vcpuid) % len(pool.cpus)]
        self.trace(op, poolid=poolid, domid=domid)

    # --- PV protocol support: vCPU hotplug and triggers ---

    # XEN_DOMCTL_SENDTRIGGER_* by libxl's trigger name; x86 Xen implements
    # only nmi, power and sleep (reset and init answer ENOSYS).
    TRIGGERS = {"nmi": 0, "reset": 1, "init": 2, "power": 3, "sleep": 4}

    def vcpu_op_up(self, domid: int, vcpuid: int, workload: str = "idle") -> None:
        """VCPUOP_up, issued by the guest kernel bringing a vCPU online."""
        self._reload_engines()
        self._settle_domain(self.domain(domid))
        v = self.vcpu(domid, vcpuid)
        if v.online:
            return
        v.online, v.runstate, v.workload, v.wl_state = True, RUNNABLE, workload, {}
        self._admit(self.domain(domid))
        self.trace("VCPUOP_up", domid=domid, vcpu=vcpuid)

    def vcpu_set_workload(self, domid: int, vcpuid: int, workload: str) -> None:
        """Not a hypercall: the guest kernel now runs `workload` on this vCPU
        (pyxl's demand model, which the schedulers read), from a fresh start."""
        self._reload_engines()
        self._settle_domain(self.domain(domid))
        v = self.vcpu(domid, vcpuid)
        v.workload, v.wl_state = workload, {}
        self._admit(self.domain(domid))

    def vcpu_op_down(self, domid: int, vcpuid: int) -> None:
        """VCPUOP_down, issued by the guest kernel taking a vCPU offline."""
        self._reload_engines()
        self._settle_domain(self.domain(domid))
        v = self.vcpu(domid, vcpuid)
        if not v.online:
            return
        v.online, v.runstate = False, OFFLINE
        self.trace("VCPUOP_down", domid=domid, vcpu=vcpuid)

    def domctl_setvcpucontext(self, domid: int, vcpuid: int, context: dict) -> None:
        """XEN_DOMCTL_setvcpucontext, as a restore sets a paused domain's vCPU
        from the image: whether it is up, what it runs (pyxl's demand model)
        and its runstate times, so Time(s) goes on from where it was."""
        self._reload_engines()
        d = self.domain(domid)
        self._settle_domain(d)
        if not d.paused:
            raise HypercallError("EBUSY", "XEN_DOMCTL_setvcpucontext")
        v = self.vcpu(domid, vcpuid)
        v.online = bool(context.get("online", v.online))
        v.runstate = RUNNABLE if v.online else OFFLINE
        v.workload = str(context.get("workload", v.workload))
        v.wl_state = dict(context.get("wl_state", {}))
        times = context.get("time")
        if isinstance(times, dict):
            v.time = {s: int(times.get(s, 0)) for s in v.time}
        self.trace("XEN_DOMCTL_setvcpucontext", domid=domid, vcpu=vcpuid)

    def hvmop_set_param(self, domid: int, param: str, value: int) -> None:
        """HVMOP_set_param from an HVM guest's kernel (its PV drivers set
        CALLBACK_IRQ, the interrupt Xen's event channels arrive on)."""
        d = self.domain(domid)
        if d.type == "pv":
            raise HypercallError("EINVAL", "HVMOP_set_param")
        d.hvm_params[param] = value
        self.trace("HVMOP_set_param", domid=domid, param=param, value=value)

    def hvmop_get_param(self, domid: int, param: str) -> int:
        """HVMOP_get_param (xc_hvm_param_get): 0 for a parameter never set."""
        return self.domain(domid).hvm_params.get(param, 0)

    def domctl_sendtrigger(self, domid: int, trigger: str, vcpuid: int = 0) -> None:
        """XEN_DOMCTL_sendtrigger; the guest notices it in `triggers` this command."""
        d = self.domain(domid)
        if not 0 <= vcpuid < len(d.vcpus):
            raise HypercallError("ESRCH", "XEN_DOMCTL_sendtrigger")
        if trigger not in ("nmi", "power", "sleep"):
            raise HypercallError("ENOSYS", "XEN_DOMCTL_sendtrigger")
        if trigger != "nmi" and d.type != "hvm":
            raise HypercallError("EINVAL", "XEN_DOMCTL_sendtrigger")
        self.triggers.append((domid, trigger, vcpuid))
        self.trace("XEN_DOMCTL_sendtrigger", domid=domid, trigger=self.TRIGGERS[trigger],
                   vcpu=vcpuid)
        self.notify(domid)

    # --- event channels (pyxl/hv/evtchn.py) and grant tables (pyxl/hv/gnttab.py) ---
    # `caller` is the domain whose kernel makes the hypercall (current->domain).

    def evtchn_op_alloc_unbound(self, caller: int, dom: int, remote_dom: int) -> int:
        from pyxl.hv import evtchn

        return evtchn.alloc_unbound(self, caller, dom, remote_dom)

    def evtchn_op_bind_interdomain(self, caller: int, remote_dom: int, remote_port: int) -> int:
        from pyxl.hv import evtchn

        return evtchn.bind_interdomain(self, caller, remote_dom, remote_port)

    def evtchn_op_bind_virq(self, caller: int, virq: int, vcpu: int = 0) -> int:
        from pyxl.hv import evtchn

        return evtchn.bind_virq(self, caller, virq, vcpu)

    def evtchn_op_bind_ipi(self, caller: int, vcpu: int) -> int:
        from pyxl.hv import evtchn

        return evtchn.bind_ipi(self, caller, vcpu)

    def evtchn_op_send(self, caller: int, port: int) -> None:
        from pyxl.hv import evtchn

        evtchn.send(self, caller, port)

    def evtchn_op_close(self, caller: int, port: int) -> None:
        from pyxl.hv import evtchn

        evtchn.close(self, caller, port)

    def evtchn_op_status(self, caller: int, dom: int, port: int) -> dict:
        from pyxl.hv import evtchn

        return evtchn.status(self, caller, dom, port)

    def evtchn_op_unmask(self, caller: int, port: int) -> None:
        from pyxl.hv import evtchn

        evtchn.unmask(self, caller, port)

    def gnttab_op_setup_table(self, caller: int, dom: int, nr_frames: int) -> int:
        from pyxl.hv import gnttab

        return gnttab.setup_table(self, caller, dom, nr_frames)

    def gnttab_op_query_size(self, caller: int, dom: int) -> tuple[int, int, int]:
        from pyxl.hv import gnttab

        return gnttab.query_size(self, caller, dom)

    def gnttab_op_map_grant_ref(self, caller: int, dom: int, ref: int,
                                flags: int = 2) -> tuple[int, int | None]:
        """flags: GNTMAP_* (2 = GNTMAP_host_map, writable)."""
        from pyxl.hv import gnttab

        return gnttab.map_grant_ref(self, caller, dom, ref, flags)

    def gnttab_op_unmap_grant_ref(self, caller: int, handle: int) -> int:
        from pyxl.hv import gnttab

        return gnttab.unmap_grant_ref(self, caller, handle)

    def gnttab_op_copy(self, caller: int, source: tuple[int, int, int],
                       dest: tuple[int, int, int], length: int, flags: int) -> int:
        from pyxl.hv import gnttab

        return gnttab.copy(self, caller, source, dest, length, flags)

    # --- a guest kernel's own hypercalls, one at a time (pyxl hypercall) ---
    # Each answers a guestcall.Outcome: Xen's checks in order and its return.

    def mmu_update(self, caller: int, ptr: int, val: int):
        from pyxl.hv import guestcall, mmu

        return guestcall.call(self, caller, "mmu_update",
                              lambda d, c: mmu.mmu_update(self, d, ptr, val, c),
                              ptr=hex(ptr), val=hex(val))

    def mmuext_op(self, caller: int, cmd: str, mfn: int = 0, linear_addr: int = 0):
        from pyxl.hv import guestcall, mmu

        return guestcall.call(self, caller, f"MMUEXT_{cmd.upper()}",
                              lambda d, c: mmu.mmuext_op(self, d, cmd, mfn, linear_addr, c),
                              mfn=hex(mfn), linear_addr=hex(linear_addr))

    def update_va_mapping(self, caller: int, va: int, val: int, flags: int):
        from pyxl.hv import guestcall, mmu

        return guestcall.call(self, caller, "update_va_mapping",
                              lambda d, c: mmu.update_va_mapping(self, d, va, val, flags, c),
                              va=hex(va), val=hex(val), flags=flags)

    def memory_op(self, caller: int, cmd: str, **args):
        """XENMEM_increase_reservation, decrease_reservation, populate_physmap,
        maximum_ram_page, current_reservation as the guest asks them."""
        from pyxl.hv import guestcall as g

        ops = {
            "increase_reservation": lambda d, c: g.increase_reservation(
                self, d, args["nr_extents"], args["extent_order"], c),
            "populate_physmap": lambda d, c: g.increase_reservation(
                self, d, args["nr_extents"], args["extent_order"], c),
            "decrease_reservation": lambda d, c: g.decrease_reservation(
                self, d, args["gmfn"], args["nr_extents"], c),
            "maximum_ram_page": lambda d, c: g.maximum_ram_page(self, d, c),
            "current_reservation": lambda d, c: g.current_reservation(
                self, d, args["domid"], c),
        }
        return g.call(self, caller, f"XENMEM_{cmd}", ops[cmd], **args)

    def sched_op(self, caller: int, cmd: str, **args):
        from pyxl.hv import guestcall as g

        return g.call(self, caller, f"SCHEDOP_{cmd}",
                      lambda d, c: g.sched_op(self, d, cmd, args, c), **args)

    def vcpu_op(self, caller: int, cmd: str, vcpuid: int):
        from pyxl.hv import guestcall as g

        return g.call(self, caller, f"VCPUOP_{cmd}",
                      lambda d, c: g.vcpu_op(self, d, cmd, vcpuid, c), vcpu=vcpuid)

    def sysctl_debug_keys(self, keys: str) -> None:
        """XEN_SYSCTL_debug_keys: the handlers print into the console ring."""
        from pyxl.hv import keyhandler

        self.trace("XEN_SYSCTL_debug_keys", keys=keys)
        keyhandler.handle(self, keys)

    def _release_channels(self, d: Domain) -> None:
        """domain_kill: close the domain's ports and release its grants."""
        if d.evtchn or d.evtchn_upcall:
            from pyxl.hv import evtchn

            evtchn.destroy(self, d)
        if d.gnttab:
            from pyxl.hv import gnttab

            gnttab.release(self, d)


def _nobody(domid: int) -> None:
    """No simulation listens (a hypervisor on its own, in tests)."""
