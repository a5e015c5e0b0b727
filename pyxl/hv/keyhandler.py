"""Xen's debug keys (xen/common/keyhandler.c): what `xl debug-keys` asks for.

Each key's handler prints into Xen's console ring, which `xl dmesg` reads;
a key with no handler is ignored, as Xen's handle_keypress ignores it.
Only the keys the simulation can answer have handlers (and `h` lists them).
"""

from __future__ import annotations


def _dump_evtchn(hv, key: str) -> None:
    from pyxl.hv import evtchn

    hv.log(f"'{key}' pressed -> dumping event-channel info")
    for domid in sorted(hv.domains):
        for line in evtchn.dump(hv.domains[domid]):
            hv.log(line)


def _dump_gnttab(hv, key: str) -> None:
    from pyxl.hv import gnttab

    hv.log(f"gnttab_usage_print_all [ key '{key}' pressed")
    for domid in sorted(hv.domains):
        d = hv.domains[domid]
        for line in gnttab.dump(d, gnttab.maptrack_frames(d)):
            hv.log(line)
    hv.log("gnttab_usage_print_all ] done")


def _cpus(cpus) -> str:
    """Xen's %*pbl: a CPU list as ranges, 0-3,6."""
    cpus, runs = sorted(cpus), []
    for c in cpus:
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in runs)


def _dump_domains(hv, key: str) -> None:
    """dump_domains: each domain's counts, then its vCPUs and affinities."""
    from pyxl.hv.runstate import RUNNING

    every = range(hv.physinfo.nr_cpus)
    hv.log(f"'{key}' pressed -> dumping domain info (now = {hv.now_ns})")
    for domid in sorted(hv.domains):
        d = hv.domains[domid]
        hv.log(f"General information for domain {domid}:")
        hv.log(f"    refcnt=3 dying={int(d.dying)} pause_count={d.pause_count}")
        hv.log(f"    nr_pages={d.tot_memkb // 4} xenheap_pages=0 dirty_cpus={{}} "
               f"max_pages={d.max_memkb // 4}")
        hv.log(f"    handle={d.uuid} vm_assist=00000000")
        hv.log(f"NODE affinity for domain {domid}: [{_cpus(range(hv.physinfo.nr_nodes))}]")
        hv.log(f"VCPU information and callbacks for domain {domid}:")
        for v in d.vcpus:
            hv.log(f"  UNIT{v.vcpuid} affinities: hard={{{_cpus(v.hard_affinity or every)}}} "
                   f"soft={{{_cpus(v.soft_affinity or every)}}}")
            hv.log(f"    VCPU{v.vcpuid}: CPU{v.cpu} [has={'T' if v.runstate == RUNNING else 'F'}]"
                   f" poll=0 upcall_pend=00 upcall_mask=00 ")
            hv.log(f"    pause_count=0 pause_flags={0 if v.online else 2:x}")
            hv.log("No periodic timer")
    for domid in sorted(hv.domains):
        for v in hv.domains[domid].vcpus:
            hv.log(f"Notifying guest {domid}:{v.vcpuid} (virq 1, port 0)")


SCHED_NAMES = {"credit": "SMP Credit Scheduler", "credit2": "SMP Credit Scheduler rev2",
               "rtds": "SMP RTDS Scheduler", "sedf": "Simple EDF Scheduler"}


def _dump_runq(hv, key: str) -> None:
    """dump_runq: the online and free CPUs, then each pool and who runs where."""
    from pyxl.hv.runstate import RUNNING

    hv.log("sched_smt_power_savings: disabled")
    hv.log(f"NOW={hv.now_ns}")
    hv.log(f"Online Cpus: {_cpus(range(hv.physinfo.nr_cpus))}")
    running = {v.cpu: f"d{v.domid}v{v.vcpuid}" for domid in sorted(hv.domains)
               for v in hv.domains[domid].vcpus if v.runstate == RUNNING}
    free = hv.free_cpus()
    if free:
        hv.log(f"Free Cpus: {_cpus(free)}")
        _dump_cpus(hv, free, running)
    for poolid in sorted(hv.pools):
        pool = hv.pools[poolid]
        hv.log(f"Cpupool {poolid}:")
        hv.log(f"Cpus: {_cpus(pool.cpus)}")
        hv.log("Scheduling granularity: cpu, 1 CPU per sched-resource")
        hv.log(f"Scheduler: {SCHED_NAMES.get(pool.sched, pool.sched)} ({pool.sched})")
        _dump_cpus(hv, pool.cpus, running)


def _dump_cpus(hv, cpus, running: dict) -> None:
    hv.log("CPUs info:")
    for cpu in sorted(cpus):
        cur = running.get(cpu, f"d[IDLE]v{cpu}")
        hv.log(f"CPU[{cpu:02d}] current={cur}, curr={cur}, prev=NULL")


def _show_handlers(hv, key: str) -> None:
    """show_handlers: every key that has a handler, in ASCII order."""
    hv.log(f"'{key}' pressed -> showing installed handlers")
    for k in sorted(HANDLERS):
        hv.log(f" key '{k}' (ascii '{ord(k):02x}') => {DESCRIPTIONS[k]}")


HANDLERS = {"e": _dump_evtchn, "g": _dump_gnttab, "h": _show_handlers,
            "q": _dump_domains, "r": _dump_runq}
DESCRIPTIONS = {"e": "dump evtchn info", "g": "print grant table usage",
                "h": "show this message", "q": "dump domain (and guest debug) info",
                "r": "dump run queues"}


def handle(hv, keys: str) -> None:
    """XEN_SYSCTL_debug_keys: each key in turn."""
    for key in keys:
        handler = HANDLERS.get(key)
        if handler is not None:
            handler(hv, key)
