"""The simulated guest operating system: a small state machine, not an OS.

A guest starts when its domain is first unpaused: it boots (printing console
lines at plausible, fixed offsets, with one vCPU busy), then settles into the
workload its config asks for. Everything is deterministic: the same config
gives the same console and the same timings.

Guests with PV drivers (every PV and PVH guest; HVM guests unless their
config says xen_platform_pci=0) bring up xenbus early in boot: they write
control/feature-{poweroff,reboot,suspend} = "1" and register watches, through
the XenStore engine as their own connection, on control/shutdown,
control/sysrq, memory/target and cpu, as Linux's manage.c, xen-balloon.c and
cpu_hotplug.c do. Watch events are read from the store's change log, so a
write by any process is seen: the host matches each new change once against
every connection's watches (pyxl/xenstore/watches.py `events_by_conn`) and
hands each guest its own events, waking only the guests that have some. Each
is handled WATCH_LATENCY_NS after the step that noticed it, and the guest's
answer comes after the delays below.

A guest's state is a `GuestState`, kept as JSON in the `guest` column of its
domain's row (pyxl/sim/rows.py). Whenever the guest sets a timer it also
schedules an event for that moment on the host's simulation, which steps the
guest then (pyxl/sim/simulation.py); `timers` lists them all again when a
command rebuilds the queue. A guest sees its host through `Machine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyxl.sim.wake import WAKE_NEVER, WAKE_STARVED

if TYPE_CHECKING:
    from typing import Protocol

    from pyxl.hv.hypervisor import Hypervisor
    from pyxl.hv.model import Domain
    from pyxl.sim.simulation import Simulation
    from pyxl.xenstore.store import XenStore

    class Machine(Protocol):
        """What a guest kernel reaches of the host it runs on (pyxl/sim/host.py)."""

        @property
        def hv(self) -> "Hypervisor": ...

        @property
        def sim(self) -> "Simulation": ...

        def xs(self, caller: int = 0) -> "XenStore": ...

        def config(self, domid: int) -> dict | None: ...

        def append_console(self, domid: int, lines: list[tuple[int, str]]) -> None: ...

        def mark_guest_dirty(self, domid: int) -> None: ...


MS = 1_000_000

# How long a guest of each type takes from unpause to login prompt.
BOOT_NS = {"pv": 1800 * MS, "pvh": 1500 * MS, "hvm": 4200 * MS}
# When xenbus is up (kernel time; HVM kernels start after the firmware).
DRIVERS_NS = {"pv": 150 * MS, "pvh": 150 * MS, "hvm": 2550 * MS}
HVM_FIRMWARE_MS = 2400.0
WATCH_LATENCY_NS = 2 * MS          # xenstored -> xenwatch thread -> handler
POWEROFF_NS = 1200 * MS            # systemd stopping units, then SCHEDOP_shutdown
REBOOT_NS = 1400 * MS
SUSPEND_NS = 60 * MS               # freeze processes, suspend devices
CRASH_NS = 1 * MS
ACPI_LATENCY_NS = 20 * MS          # SCI -> acpid/logind
VCPU_HOTPLUG_NS = 5 * MS
# The balloon driver moves BALLOON_STEP_KB per BALLOON_TICK_NS (320 MiB/s).
# When Xen has no memory to give it sleeps until memory is freed, then tries
# again at its next retry tick: BALLOON_RETRY_NS after its last try, or a
# whole number of them (see `memory_freed` and docs/xenstore-and-pv.md).
BALLOON_TICK_NS = 100 * MS
BALLOON_STEP_KB = 32 * 1024
BALLOON_RETRY_NS = 1000 * MS

SHUTDOWN_COMMANDS = ("poweroff", "halt", "reboot", "suspend")
RELEASE = "6.1.0-pyxl-amd64"


# Plain classes, not dataclasses: every command defines them at start-up,
# where a dataclass costs ~30 times more to define.
class GuestInfo:
    """What the guest kernel knows about itself at boot (from the domain config)."""

    def __init__(self, name: str, type: str, vcpus: int, memory_mib: int, cmdline: str = "",
                 kernel: str = "", workload: list[str] | None = None):  # None: ["idle"]
        self.name = name
        self.type = type
        self.vcpus = vcpus
        self.memory_mib = memory_mib
        self.cmdline = cmdline
        self.kernel = kernel
        self.workload = ["idle"] if workload is None else workload


class Reaction:
    """Something the guest does at `due_ns`: a watch handler ("watch:TOKEN",
    with the path), "shutdown" (how), "vcpu" ([id, online]) or "s3" (enter/resume)."""

    def __init__(self, due_ns: int, what: str, arg: object = None):
        self.due_ns = due_ns
        self.what = what
        self.arg = arg

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return (self.due_ns, self.what, self.arg) == (other.due_ns, other.what, other.arg)
        return NotImplemented

    __hash__ = None  # mutable, compared by value: unhashable


class Balloon:
    """The balloon driver while it moves the domain's memory to a target."""

    def __init__(self, target_kb: int = 0,
                 diff_kb: int = 0,  # HVM: the target as the toolstack writes it lacks the video RAM
                 next_ns: int | None = None,  # its next step (None: at the target, or starved)
                 # its last try that found no memory (None: not starved)
                 starved_ns: int | None = None):
        self.target_kb = target_kb
        self.diff_kb = diff_kb
        self.next_ns = next_ns
        self.starved_ns = starved_ns


class GuestState:
    """A guest kernel's life: where it is in it, and what it has still to do."""

    def __init__(self,
                 # never run yet | "booting" | "up" | "s3" (suspended to RAM)
                 phase: str = "created",
                 info: GuestInfo | None = None,
                 workload: list[str] | None = None,  # per vCPU, once up (None: [])
                 boot_ns: int = 0,  # when the kernel started
                 ready_ns: int | None = None,  # when it reaches its login prompt
                 pv: bool = False,  # has PV drivers
                 drivers_ns: int | None = None,  # when xenbus comes up
                 drivers_up: bool = False,
                 xs_seq: int = 0,  # the last XenStore change this guest has looked at
                 xs_notified: bool = False,  # xenstored signalled events for its watches since
                 pending: list[Reaction] | None = None,  # (None: [])
                 balloon: Balloon | None = None,
                 # its netback/blkback counters (sim/traffic.py) (None: {})
                 backend: dict | None = None):
        self.phase = phase
        self.info = info
        self.workload = [] if workload is None else workload
        self.boot_ns = boot_ns
        self.ready_ns = ready_ns
        self.pv = pv
        self.drivers_ns = drivers_ns
        self.drivers_up = drivers_up
        self.xs_seq = xs_seq
        self.xs_notified = xs_notified
        self.pending = [] if pending is None else pending
        self.balloon = balloon
        self.backend = {} if backend is None else backend


def new_state(info: GuestInfo) -> GuestState:
    return GuestState(info=info, workload=list(info.workload))


def boot_console(info: GuestInfo) -> list[tuple[int, str]]:
    """The console lines of one boot, as (offset from boot in ns, text)."""
    lines: list[tuple[int, str]] = []

    if info.type == "hvm":
        lines.append((0, "SeaBIOS (version 1.16.3-pyxl)"))
        lines.append((40 * MS, "Machine UUID from Xen"))
        lines.append((900 * MS, "Booting from Hard Disk..."))
        base = HVM_FIRMWARE_MS
    else:
        base = 0.0

    def rel(ms: float, text: str) -> None:
        # Kernel timestamps count from the kernel's own start.
        lines.append((int((base + ms) * MS), f"[{ms / 1000:12.6f}] {text}"))

    rel(0, f"Linux version {RELEASE} (pyxl@sim) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC")
    rel(0, f"Command line: {info.cmdline}".rstrip())
    if info.type == "pv":
        rel(0, "Booting kernel on Xen")
        rel(0, "Xen version: 4.23-unstable (preserve-AD)")
    elif info.type == "pvh":
        rel(0, "Booting kernel on Xen PVH")
    else:
        rel(0, "Hypervisor detected: Xen HVM")
    rel(0, f"Memory: {info.memory_mib * 1024}K available")
    rel(12, f"smp: Brought up 1 node, {info.vcpus} CPU{'s' if info.vcpus != 1 else ''}")
    rel(95, "xen:grant_table: Grant tables using version 1 layout")
    rel(130, "xen:balloon: Initialising balloon driver")
    if info.type == "hvm":
        rel(180, "serial8250: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A")
    else:
        rel(180, "hvc0: Xen console (hvc) initialised")
    rel(420, "blkfront: xvda: flush diskcache: enabled; persistent grants: enabled")
    rel(700, "xen_netfront: Initialising Xen virtual ethernet driver")
    rel(900, "EXT4-fs (xvda1): mounted filesystem with ordered data mode")
    rel(1100, "systemd[1]: Detected virtualization xen.")
    done = (BOOT_NS[info.type] // MS) - base
    tty = "ttyS0" if info.type == "hvm" else "hvc0"
    lines.append((int((base + done) * MS), ""))
    lines.append((int((base + done) * MS), f"Debian GNU/Linux 12 {info.name} {tty}"))
    lines.append((int((base + done) * MS), ""))
    lines.append((int((base + done) * MS), f"{info.name} login: "))
    return lines


# --- the guest's life over simulated time -----------------------------------


def timers(d: "Domain", g: GuestState) -> list[int]:
    """Every moment this guest will next do something on its own (a paused
    guest does nothing: its timers fire when it is unpaused). The schema
    migration's stand-in for a stored domain has no pause count."""
    if d.domid == 0 or d.shutdown or d.dying or d.paused:
        return []
    times = [r.due_ns for r in g.pending]
    if g.phase == "booting" and g.ready_ns is not None:
        times.append(g.ready_ns)
    if g.pv and not g.drivers_up and g.drivers_ns is not None:
        times.append(g.drivers_ns)
    if g.balloon is not None and g.balloon.next_ns is not None:
        times.append(g.balloon.next_ns)
    return times


def next_event_ns(d: "Domain", g: GuestState) -> int | None:
    """When this guest next does something on its own (None: nothing planned)."""
    return min(timers(d, g), default=None)




def wake_ns(d: "Domain", g: GuestState) -> int:
    """The guest's wake index entry: its next timer (a moment in the last two
    nanoseconds of s_time_t counts as a little earlier, which is always safe),
    WAKE_STARVED if its balloon starves (the host looks at it when it is not
    on the waiter list), else WAKE_NEVER."""
    t = next_event_ns(d, g)
    if t is not None:
        return min(t, WAKE_STARVED - 1)
    return WAKE_STARVED if starved(d, g) else WAKE_NEVER


def xenstore_changed(host: Machine, d: "Domain", g: GuestState, events: list,
                     head: int) -> None:
    """xenstored signals events for this guest's watches, from the changes
    up to `head` (matched for it by the host): it looks now."""
    pending = host.sim.watch_events.get(d.domid)
    if pending is not None:
        events = pending[0] + events
    host.sim.watch_events[d.domid] = (events, head)
    g.xs_notified = True
    host.mark_guest_dirty(d.domid)
    _at(host, d, host.sim.now_ns)


def _at(host: Machine, d: "Domain", t: int) -> None:
    host.sim.schedule(t, d.domid)


def step(host: Machine, d: "Domain", g: GuestState, now: int) -> None:
    """React to everything that has happened to this guest by `now`. A
    paused guest's vCPUs do not run, so it reacts to nothing (a shutdown
    request stays unacknowledged) until it is unpaused."""
    if d.domid == 0 or d.paused:
        return
    triggers = [t for t in host.hv.triggers if t[0] == d.domid]
    if triggers:
        host.hv.triggers = [t for t in host.hv.triggers if t[0] != d.domid]
    if d.shutdown or d.dying:
        return
    if g.phase == "created" and d.can_run:
        _start_boot(host, d, g, now)
    elif g.phase == "booting" and g.ready_ns is not None and g.ready_ns <= now:
        g.phase = "up"
        _run_workload(host, d, g)
        host.mark_guest_dirty(d.domid)
    for _, trigger, _vcpu in triggers:
        _on_trigger(host, d, g, now, trigger)
        host.mark_guest_dirty(d.domid)
    if g.pv and not g.drivers_up and g.drivers_ns is not None and g.drivers_ns <= now:
        _drivers_up(host, d, g, now)
    if g.drivers_up and g.xs_notified:
        _read_watches(host, d, g, now)
    _run_pending(host, d, g, now)
    _balloon(host, d, g, now)


def _run_workload(host: Machine, d: "Domain", g: GuestState) -> None:
    """Userspace is up: each online vCPU runs what the config asks for."""
    for v, spec in zip(d.vcpus, per_vcpu(g.workload, len(d.vcpus))):
        if v.online:
            host.hv.vcpu_set_workload(d.domid, v.vcpuid, spec)
    _traffic(host, d, g)


def _traffic(host: Machine, d: "Domain", g: GuestState) -> None:
    """A guest whose workload has net:/io: parts is one the backends serve
    (pyxl/sim/traffic.py); the others cost nothing here."""
    from pyxl.hv.workload import is_guest_part

    if any(is_guest_part(s) for s in g.workload) or "traffic" in getattr(host, "meta", ()):
        from pyxl.sim import traffic

        traffic.workload_changed(host, d, g)


def _start_boot(host: Machine, d: "Domain", g: GuestState, now: int) -> None:
    g.phase, g.boot_ns, g.ready_ns = "booting", now, now + BOOT_NS[d.type]
    _at(host, d, g.ready_ns)
    g.pv = _has_pv_drivers(host, d)
    if g.pv:
        g.drivers_ns = now + DRIVERS_NS[d.type]
        _at(host, d, g.drivers_ns)
    for v in d.vcpus:
        host.hv.vcpu_set_workload(d.domid, v.vcpuid, "busy" if v.vcpuid == 0 else "idle")
    host.append_console(d.domid, [(now + t, line) for t, line in boot_console(g.info)])
    host.mark_guest_dirty(d.domid)


def _has_pv_drivers(host: Machine, d: "Domain") -> bool:
    """PV and PVH guests always; HVM guests unless xen_platform_pci=0 hides the
    Xen platform PCI device their PV drivers bind to."""
    if d.type != "hvm":
        return True
    cfg = host.config(d.domid) or {}
    return (cfg.get("type_info") or {}).get("xen_platform_pci", True) is not False


def _kernel_ts(g: GuestState, d: "Domain", t: int) -> str:
    base = g.boot_ns + (int(HVM_FIRMWARE_MS * MS) if d.type == "hvm" else 0)
    return f"[{max(0, t - base) / 1e9:12.6f}]"


def _console(host: Machine, d: "Domain", g: GuestState, t: int, texts: list[str],
             kernel: bool = True) -> None:
    host.append_console(d.domid, [(t, f"{_kernel_ts(g, d, t)} {s}" if kernel else s)
                                  for s in texts])


def _xs(host: Machine, d: "Domain"):
    """The store as this guest's own connection sees it."""
    return host.xs(caller=d.domid)


WATCHES = (("control/shutdown", "shutdown"), ("control/sysrq", "sysrq"),
           ("memory/target", "balloon"), ("cpu", "cpu"), ("device", "device"))


def _drivers_up(host: Machine, d: "Domain", g: GuestState, now: int) -> None:
    from pyxl.xenstore.errors import XenStoreError

    xs = _xs(host, d)
    g.drivers_up = True
    if d.type == "hvm":
        host.hv.hvmop_set_param(d.domid, "CALLBACK_IRQ", 1)
    g.xs_seq = xs.last_seq()
    for key in ("feature-poweroff", "feature-reboot", "feature-suspend"):
        try:
            xs.write(f"control/{key}", b"1")
        except XenStoreError:
            pass  # a toolstack that did not make the node: Linux carries on
    for path, token in WATCHES:
        try:
            xs.watch(path, token)
        except XenStoreError:
            pass
    g.xs_notified = True  # each new watch fires once at once
    host.mark_guest_dirty(d.domid)


def _read_watches(host: Machine, d: "Domain", g: GuestState, now: int) -> None:
    """Queue a handler for each watch event since the last change it read:
    the events the host matched for it (up to some change), then, if the log
    has grown since, its own look at the rest."""
    xs = _xs(host, d)
    last = xs.last_seq()
    given = host.sim.watch_events.pop(d.domid, None)
    if given is None:
        events = xs.pending_events(since_seq=g.xs_seq)
    else:
        events = [ev for ev in given[0] if ev.seq > g.xs_seq]
        since = max(g.xs_seq, given[1])
        if last > since:
            events += xs.pending_events(since_seq=since)
    for ev in events:
        _schedule(host, d, g, now + WATCH_LATENCY_NS, "watch:" + ev.token, ev.path)
    g.xs_seq, g.xs_notified = last, False
    host.mark_guest_dirty(d.domid)


def _run_pending(host: Machine, d: "Domain", g: GuestState, now: int) -> None:
    while not d.shutdown:
        due = [r for r in g.pending if r.due_ns <= now]
        if not due:
            return
        r = min(due, key=lambda r: r.due_ns)
        g.pending.remove(r)
        host.mark_guest_dirty(d.domid)
        _ACTIONS[r.what.split(":")[0]](host, d, g, r.due_ns, r.what, r.arg)


def _schedule(host: Machine, d: "Domain", g: GuestState, t: int, what: str,
              arg=None) -> None:
    g.pending.append(Reaction(t, what, arg))
    _at(host, d, t)


# --- watch handlers ----------------------------------------------------------


def _on_watch(host, d, g, t, what, path) -> None:
    token = what.split(":", 1)[1]
    if token == "device":
        from pyxl.sim.frontend import device_watch

        device_watch(host, d, g, t, path)
        return
    {"shutdown": _shutdown_watch, "sysrq": _sysrq_watch, "balloon": _balloon_watch,
     "cpu": _cpu_watch}[token](host, d, g, t, path)


def _read(xs, path: str) -> str | None:
    from pyxl.xenstore.errors import XenStoreError

    try:
        return xs.read(path).decode("latin-1")
    except XenStoreError:
        return None


def _shutdown_watch(host, d, g, t, _path) -> None:
    """manage.c's shutdown_handler: acknowledge known commands with "", then act."""
    xs = _xs(host, d)
    value = _read(xs, "control/shutdown")
    if not value:
        return
    if value not in SHUTDOWN_COMMANDS:
        _console(host, d, g, t, [f"xen:manage: Ignoring shutdown request: {value}"])
        return
    xs.write("control/shutdown", b"")
    if value == "suspend":
        _console(host, d, g, t, ["Freezing user space processes",
                                 "Freezing user space processes completed"])
        _schedule(host, d, g, t + SUSPEND_NS, "shutdown", "suspend")
    elif value == "reboot":
        _console(host, d, g, t, ["systemd[1]: Received SIGINT.",
                                 "systemd[1]: Starting systemd-reboot.service - System Reboot..."],
                 kernel=False)
        _schedule(host, d, g, t + REBOOT_NS, "shutdown", "reboot")
    else:
        _console(host, d, g, t, ["systemd[1]: Starting systemd-poweroff.service - "
                                 "System Power Off..."], kernel=False)
        _schedule(host, d, g, t + POWEROFF_NS, "shutdown", "poweroff")


SYSRQ_HELP = ("sysrq: HELP : loglevel(0-9) reboot(b) crash(c) terminate-all-tasks(e) "
              "memory-full-oom-kill(f) kill-all-tasks(i) thaw-filesystems(j) sak(k) "
              "show-backtrace-all-active-cpus(l) show-memory-usage(m) nice-all-RT-tasks(n) "
              "poweroff(o) show-registers(p) show-all-timers(q) unraw(r) sync(s) "
              "show-task-states(t) unmount(u) show-blocked-tasks(w) dump-ftrace-buffer(z)")


def _sysrq_watch(host, d, g, t, _path) -> None:
    """manage.c's sysrq_handler: acknowledge with "", then handle_sysrq(key)."""
    xs = _xs(host, d)
    value = _read(xs, "control/sysrq")
    if not value:
        return
    xs.write("control/sysrq", b"")
    key = value[0]
    if key == "c":
        _console(host, d, g, t, [
            "sysrq: Trigger a crash",
            "Kernel panic - not syncing: sysrq triggered crash",
            f"CPU: 0 PID: 27 Comm: xenwatch Not tainted {RELEASE} #1",
            "Call Trace:", " <TASK>", " dump_stack_lvl+0x44/0x5c", " panic+0x118/0x2ed",
            " sysrq_handle_crash+0x16/0x20", " __handle_sysrq.cold+0x43/0x11b",
            " sysrq_handler+0x7c/0xd0", " xenwatch_thread+0x91/0x180", " kthread+0xd7/0x100",
            " </TASK>", "Kernel Offset: disabled"])
        _schedule(host, d, g, t + CRASH_NS, "shutdown", "crash")
    elif key == "b":
        _console(host, d, g, t, ["sysrq: Resetting"])
        _schedule(host, d, g, t + CRASH_NS, "shutdown", "reboot")
    elif key == "o":
        _console(host, d, g, t, ["sysrq: Power Off"])
        _schedule(host, d, g, t + 50 * MS, "shutdown", "poweroff")
    elif key == "s":
        _console(host, d, g, t, ["sysrq: Emergency Sync", "Emergency Sync complete"])
    elif key == "u":
        _console(host, d, g, t, ["sysrq: Emergency Remount R/O", "Emergency Remount complete"])
    elif key.isdigit():
        _console(host, d, g, t, ["sysrq: Changing Loglevel", f"sysrq: Loglevel set to {key}"])
    else:
        _console(host, d, g, t, [SYSRQ_HELP])


def _balloon_watch(host, d, g, t, _path) -> None:
    """xen-balloon.c's watch_target: a new target in KiB (HVM: less the fudge)."""
    value = _read(_xs(host, d), "memory/target")
    try:
        target = int(value or "")
    except ValueError:
        return
    b = g.balloon
    if b is None:
        b = g.balloon = Balloon(diff_kb=0 if d.type != "hvm" else max(0, d.tot_memkb - target))
    b.target_kb = target + b.diff_kb
    b.next_ns = t if d.tot_memkb != b.target_kb else None  # the driver runs this step
    b.starved_ns = None


def _cpu_watch(host, d, g, t, path) -> None:
    """cpu_hotplug.c: cpu/N/availability says "online" or "offline"."""
    parts = path.split("/")
    ids = [int(parts[1])] if len(parts) >= 2 and parts[1].isdigit() else range(len(d.vcpus))
    xs = _xs(host, d)
    for i in ids:
        if i >= len(d.vcpus):
            continue
        state = _read(xs, f"cpu/{i}/availability")
        v = d.vcpus[i]
        if state == "online" and not v.online:
            _schedule(host, d, g, t + VCPU_HOTPLUG_NS, "vcpu", [i, True])
        elif state == "offline" and v.online and i != 0:
            _schedule(host, d, g, t + VCPU_HOTPLUG_NS, "vcpu", [i, False])
        elif state not in ("online", "offline", None):
            _console(host, d, g, t, [f"xen_cpu: unknown state({state}) on CPU{i}"])


def _vcpu(host, d, g, t, _what, arg) -> None:
    vcpuid, online = arg
    if online:
        spec = "idle"
        if g.phase == "up":
            spec = per_vcpu(g.workload, len(d.vcpus))[vcpuid]
        host.hv.vcpu_op_up(d.domid, vcpuid, spec)
        _console(host, d, g, t, [f"installing Xen timer for CPU {vcpuid}",
                                 f"smpboot: Booting Node 0 Processor {vcpuid}"])
    else:
        host.hv.vcpu_op_down(d.domid, vcpuid)
        _console(host, d, g, t, [f"smpboot: CPU {vcpuid} is now offline"])


# --- ACPI events (HVM), NMIs --------------------------------------------------


def _on_trigger(host, d, g, now, trigger) -> None:
    if trigger == "nmi":
        if g.phase in ("booting", "up"):
            _console(host, d, g, now, [
                "Uhhuh. NMI received for unknown reason 00 on CPU 0.",
                "Do you have a strange power saving mode enabled?",
                "Dazed and confused, but trying to continue"])
        return
    if g.phase == "s3" and trigger in ("power", "sleep"):
        _schedule(host, d, g, now + ACPI_LATENCY_NS, "s3", "resume")
        return
    if g.phase != "up":
        return  # nobody listens to ACPI buttons before userspace is up
    if trigger == "power":
        _console(host, d, g, now + ACPI_LATENCY_NS,
                 ["systemd-logind[412]: Power key pressed short.",
                  "systemd-logind[412]: Powering off..."], kernel=False)
        _schedule(host, d, g, now + ACPI_LATENCY_NS + POWEROFF_NS, "shutdown", "poweroff")
    elif trigger == "sleep":
        _console(host, d, g, now + ACPI_LATENCY_NS,
                 ["systemd-logind[412]: Suspend key pressed."], kernel=False)
        _schedule(host, d, g, now + ACPI_LATENCY_NS + SUSPEND_NS, "s3", "enter")


def s3_resume(host: Machine, d: "Domain", g: GuestState, now: int) -> bool:
    """The device model's system_wakeup: a guest in S3 resumes (False: not asleep)."""
    if g.phase != "s3":
        return False
    _schedule(host, d, g, now + ACPI_LATENCY_NS, "s3", "resume")
    host.mark_guest_dirty(d.domid)
    return True


def _s3(host, d, g, t, _what, arg) -> None:
    if arg == "enter":
        _console(host, d, g, t, ["PM: suspend entry (deep)", "ACPI: PM: Preparing to enter "
                                 "system sleep state S3"])
        g.phase = "s3"
        for v in d.vcpus:
            host.hv.vcpu_set_workload(d.domid, v.vcpuid, "idle")
    else:
        _console(host, d, g, t, ["ACPI: PM: Waking up from system sleep state S3",
                                 "PM: suspend exit"])
        g.phase = "up"
        _run_workload(host, d, g)


# --- shutting down, starting again -------------------------------------------


def _shutdown(host, d, g, t, _what, how) -> None:
    """The last thing the kernel does: SCHEDOP_shutdown with the reason."""
    from pyxl.hv.model import (SHUTDOWN_CRASH, SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT,
                               SHUTDOWN_SUSPEND)

    reason = {"poweroff": SHUTDOWN_POWEROFF, "reboot": SHUTDOWN_REBOOT,
              "suspend": SHUTDOWN_SUSPEND, "crash": SHUTDOWN_CRASH}[how]
    if how == "poweroff":
        _console(host, d, g, t, ["reboot: Power down"])
    elif how == "reboot":
        _console(host, d, g, t, ["reboot: Restarting system"])
    elif how == "suspend":
        _console(host, d, g, t, ["xen:manage: suspending xenstore..."])
    guest_shutdown(host, d, g, reason)


def guest_shutdown(host: Machine, d: "Domain", g: GuestState, reason: int) -> None:
    """SCHEDOP_shutdown, then what xenstored does on VIRQ_DOM_EXC (@releaseDomain)."""
    host.hv.sched_shutdown(d.domid, reason)
    g.pending = []
    if g.balloon is not None:
        g.balloon.next_ns = g.balloon.starved_ns = None
    host.xs(0).domain_shutdown(d.domid)
    host.mark_guest_dirty(d.domid)


def soft_reset(host: Machine, d: "Domain", g: GuestState) -> None:
    """After SHUTDOWN_soft_reset is handled: the domain keeps its memory and
    its kernel starts again (kexec), from the beginning of its boot."""
    g.phase, g.pending, g.drivers_up, g.balloon = "created", [], False, None
    host.mark_guest_dirty(d.domid)
    step(host, d, g, host.sim.now_ns)


def suspend_cancelled(host: Machine, d: "Domain", g: GuestState, now: int) -> None:
    """SCHEDOP_shutdown(suspend) returned 1 (libxl resumed the domain with
    suspend_cancel): manage.c's do_suspend thaws what it froze. The devices
    get PMSG_THAW, which xenbus's cancel leaves connected, and the balloon
    driver goes on toward its target."""
    _console(host, d, g, now, ["OOM killer enabled.", "Restarting tasks ... done."])
    _balloon_resume(host, d, g, now)
    host.mark_guest_dirty(d.domid)


RESUME_NS = 40 * MS                # xenbus and the frontends coming back after a restore


def restored(host: Machine, d: "Domain", g: GuestState, now: int, shift_ns: int) -> None:
    """The kernel carries on in a new domain (a restore or a migration): its
    timers move with the clock (`shift_ns`, this host's now less the saving
    host's), and after PMSG_RESTORE xenbus resumes as Linux's does, writing
    its features and watches again, on which each frontend walks the
    XenbusState handshake with its new backend."""
    def moved(t: int | None) -> int | None:
        return None if t is None else t + shift_ns

    g.boot_ns = g.boot_ns + shift_ns
    g.ready_ns = moved(g.ready_ns)
    g.pending = [Reaction(r.due_ns + shift_ns, r.what, r.arg) for r in g.pending]
    g.xs_seq, g.xs_notified = 0, False
    if g.pv and g.drivers_up:
        g.drivers_up, g.drivers_ns = False, now + RESUME_NS
    else:
        g.drivers_ns = moved(g.drivers_ns)
    if g.balloon is not None:
        g.balloon.next_ns = g.balloon.starved_ns = None
    _console(host, d, g, now, ["xen:grant_table: Grant tables using version 1 layout",
                               "OOM killer enabled.", "Restarting tasks ... done."])
    _balloon_resume(host, d, g, now)
    host.mark_guest_dirty(d.domid)


def _balloon_resume(host: Machine, d: "Domain", g: GuestState, now: int) -> None:
    """A balloon that had not reached its target when the kernel froze moves again."""
    b = g.balloon
    if b is not None and d.tot_memkb != b.target_kb:
        b.next_ns, b.starved_ns = now, None
        _at(host, d, now)


# --- the balloon driver ------------------------------------------------------


def _balloon(host: Machine, d: "Domain", g: GuestState, now: int) -> None:
    from pyxl.hv.errors import HypercallError

    b = g.balloon
    if b is None or b.next_ns is None or b.next_ns > now or d.shutdown:
        return
    gap = b.target_kb - d.tot_memkb
    if gap == 0:
        b.next_ns = b.starved_ns = None
        host.mark_guest_dirty(d.domid)
        return
    chunk = max(-BALLOON_STEP_KB, min(BALLOON_STEP_KB, gap))
    try:
        if chunk > 0:
            room = min(host.hv.free_kb(), d.max_memkb - d.tot_memkb)
            chunk = min(chunk, max(0, room))
            if chunk <= 0:
                raise HypercallError("ENOMEM", "XENMEM_populate_physmap")
            host.hv.memory_populate_physmap(d.domid, chunk)
        else:
            host.hv.memory_decrease_reservation(d.domid, -chunk)
    except HypercallError:
        # No memory: sleep until some is freed (`memory_freed`), not poll.
        b.next_ns, b.starved_ns = None, now
        host.sim.memory_waiters.add(d.domid)
    else:
        b.starved_ns = None
        b.next_ns = None if d.tot_memkb == b.target_kb else now + BALLOON_TICK_NS
    if b.next_ns is not None:
        _at(host, d, b.next_ns)
    host.mark_guest_dirty(d.domid)


def starved(d: "Domain", g: GuestState) -> bool:
    """Whether the guest's balloon driver sleeps until memory is freed."""
    b = g.balloon
    return (b is not None and b.starved_ns is not None and b.next_ns is None
            and not d.shutdown and not d.dying)


def memory_freed(host: Machine, d: "Domain", g: GuestState, now: int) -> None:
    """Memory the starved balloon driver may take has appeared: it tries again
    at its next retry tick, the first of starved_ns + k * BALLOON_RETRY_NS
    (k >= 1) at or after `now`. A driver retrying every BALLOON_RETRY_NS
    would have succeeded there first, so the guest reaches its target when it
    did when the simulation polled, whatever the gap in between costs."""
    if not starved(d, g):
        return
    b = g.balloon
    k = max(1, -(-(now - b.starved_ns) // BALLOON_RETRY_NS))
    b.next_ns = b.starved_ns + k * BALLOON_RETRY_NS
    _at(host, d, b.next_ns)
    host.mark_guest_dirty(d.domid)


_ACTIONS = {"watch": _on_watch, "shutdown": _shutdown, "vcpu": _vcpu, "s3": _s3}


# --- what the guest runs (pyxl's workload extension) --------------------------


def per_vcpu(specs: list[str], n: int) -> list[str]:
    """One workload per vCPU: a short list repeats its last entry."""
    from pyxl.hv.workload import is_guest_part

    specs = [s for s in specs if not is_guest_part(s)]
    if not specs:
        return ["idle"] * n
    return [specs[min(i, len(specs) - 1)] for i in range(n)]


def workload_of(d: "Domain", g: GuestState) -> list[str]:
    """What each vCPU runs; for a guest still booting, what it will run once up."""
    from pyxl.hv.workload import is_guest_part

    parts = [s for s in g.workload if is_guest_part(s)]
    if g.phase in ("created", "booting") and g.workload:
        return per_vcpu(g.workload, len(d.vcpus)) + parts
    return [v.workload for v in d.vcpus] + parts


def set_workload(host: Machine, d: "Domain", g: GuestState, specs: list[str]) -> None:
    """Run `specs` (one per vCPU): a guest that is up switches now, one still
    booting once it reaches its login prompt (its boot keeps vCPU 0 busy)."""
    g.workload = list(specs)
    host.mark_guest_dirty(d.domid)
    if g.phase == "up":
        for v, spec in zip(d.vcpus, per_vcpu(specs, len(d.vcpus))):
            if v.workload != spec:
                host.hv.vcpu_set_workload(d.domid, v.vcpuid, spec)
    _traffic(host, d, g)


def dom0_xenbus_up(xs) -> None:
    """What Domain-0's own kernel writes once its xenbus is up: it answers the
    PV control protocol like any Linux guest (xen-init-dom0 writes the rest)."""
    for key in ("feature-poweroff", "feature-reboot", "feature-suspend"):
        xs.write(f"/local/domain/0/control/{key}", b"1")


def dom0_balloon(host: Machine, target_kb: int) -> None:
    """Domain-0's balloon driver on a new ~/memory/target: dom0 runs while
    the toolstack does, so it reaches the target at once, as far as free
    memory and its maximum allow (memory it gives back is free at once)."""
    d = host.hv.domain(0)
    gap = target_kb - d.tot_memkb
    if gap < 0:
        host.hv.memory_decrease_reservation(0, -gap)   # wakes starved balloons
    elif gap > 0:
        room = min(gap, host.hv.free_kb(), d.max_memkb - d.tot_memkb)
        if room > 0:
            host.hv.memory_populate_physmap(0, room)
