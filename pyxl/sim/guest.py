"""The simulated guest operating system: a small state machine, not an OS.

A guest starts when its domain is first unpaused: it boots (printing console
lines at plausible, fixed offsets, with one vCPU busy), then settles into the
workload its config asks for. Everything is deterministic: the same config
gives the same console and the same timings.

State lives in the `guest` column of the domain's row, as a dict:
  phase       "created" (never run yet) | "booting" | "up"
  boot_ns     when the kernel started (simulated ns)
  ready_ns    when it reaches its login prompt
  workload    the per-vCPU workload specs to run once up
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyxl.hv.model import Domain
    from pyxl.sim.host import Host

MS = 1_000_000

# How long a guest of each type takes from unpause to login prompt.
BOOT_NS = {"pv": 1800 * MS, "pvh": 1500 * MS, "hvm": 4200 * MS}


@dataclass
class GuestInfo:
    """What the guest kernel knows about itself at boot (from the domain config)."""

    name: str
    type: str
    vcpus: int
    memory_mib: int
    cmdline: str = ""
    kernel: str = ""
    workload: list[str] = field(default_factory=lambda: ["idle"])


def new_state(info: GuestInfo) -> dict:
    return {"phase": "created", "workload": list(info.workload), "info": info.__dict__}


def boot_console(info: GuestInfo) -> list[tuple[int, str]]:
    """The console lines of one boot, as (offset from boot in ns, text)."""
    release = "6.1.0-pyxl-amd64"
    lines: list[tuple[int, str]] = []

    if info.type == "hvm":
        lines.append((0, "SeaBIOS (version 1.16.3-pyxl)"))
        lines.append((40 * MS, "Machine UUID from Xen"))
        lines.append((900 * MS, "Booting from Hard Disk..."))
        base = 2400.0
    else:
        base = 0.0

    def rel(ms: float, text: str) -> None:
        # Kernel timestamps count from the kernel's own start.
        lines.append((int((base + ms) * MS), f"[{ms / 1000:12.6f}] {text}"))

    rel(0, f"Linux version {release} (pyxl@sim) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC")
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


def next_event_ns(host: "Host", d: "Domain", g: dict) -> int | None:
    """When this guest next does something on its own (None: nothing planned)."""
    if g.get("phase") == "booting":
        return g["ready_ns"]
    return None


def step(host: "Host", d: "Domain", g: dict, now: int) -> None:
    """React to everything that has happened to this guest by `now`."""
    phase = g.get("phase")
    if phase == "created" and d.can_run:
        _start_boot(host, d, g, now)
    elif phase == "booting" and g["ready_ns"] <= now:
        g["phase"] = "up"
        for v, spec in zip(d.vcpus, per_vcpu(g["workload"], len(d.vcpus))):
            v.workload, v.wl_state = spec, {}
        host.mark_guest_dirty(d.domid)


def _start_boot(host: "Host", d: "Domain", g: dict, now: int) -> None:
    info = GuestInfo(**g["info"])
    g.update(phase="booting", boot_ns=now, ready_ns=now + BOOT_NS[d.type])
    for v in d.vcpus:
        v.workload, v.wl_state = ("busy" if v.vcpuid == 0 else "idle"), {}
    host.append_console(d.domid, [(now + t, line) for t, line in boot_console(info)])
    host.mark_guest_dirty(d.domid)


def per_vcpu(specs: list[str], n: int) -> list[str]:
    """One workload per vCPU: a short list repeats its last entry."""
    if not specs:
        return ["idle"] * n
    return [specs[min(i, len(specs) - 1)] for i in range(n)]
