"""What `xl info` reports: uname, physinfo, version info, NUMA topology.

Returned as (key, text) pairs where text is everything after the colon, so
the CLI can print them in xl's "%-23s:" layout and filter them as xl does.
"""

from __future__ import annotations

from pyxl.toolstack.ctx import Ctx

XEN_MAJOR, XEN_MINOR, XEN_EXTRA = 4, 23, "-unstable"
HW_CAPS = "bfebfbff:77fafbff:2c100800:00000121:0000000f:009c6fbf:00000000:00000100"
VIRT_CAPS = ("pv", "hvm", "hvm_directio", "pv_directio", "hap", "shadow",
             "gnttab-v1", "gnttab-v2")
KERNEL_RELEASE = "6.1.0-pyxl-amd64"


def uname(ctx: Ctx) -> list[tuple[str, str]]:
    return [
        ("host", f" {ctx.host.name}"),
        ("release", f" {KERNEL_RELEASE}"),
        ("version", " #1 SMP PREEMPT_DYNAMIC Debian 6.1.0 (pyxl)"),
        ("machine", " x86_64"),
    ]


def physinfo(ctx: Ctx) -> list[tuple[str, str]]:
    p = ctx.host.physinfo
    total_mib = p.total_kb // 1024
    free_mib = ctx.hv.free_kb() // 1024
    return [
        ("nr_cpus", f" {p.nr_cpus}"),
        ("max_cpu_id", f" {p.max_cpu_id}"),
        ("nr_nodes", f" {p.nr_nodes}"),
        ("cores_per_socket", f" {p.cores_per_socket}"),
        ("threads_per_core", f" {p.threads_per_core}"),
        ("cpu_mhz", f" {p.cpu_khz // 1000}.{p.cpu_khz % 1000:03d}"),
        ("hw_caps", f" {HW_CAPS}"),
        ("virt_caps", "".join(f" {c}" for c in VIRT_CAPS)),
        ("total_memory", f" {total_mib}"),
        ("free_memory", f" {free_mib}"),
        ("sharing_freed_memory", " 0"),
        ("sharing_used_memory", " 0"),
        ("outstanding_claims", " 0"),
        ("free_cpus", f" {free_cpus(ctx)}"),
    ]


def free_cpus(ctx: Ctx) -> int:
    return len(ctx.hv.free_cpus())


def cpu_topology(ctx: Ctx) -> list[tuple[int, int, int, int]]:
    """(cpu, core, socket, node) for every pCPU."""
    p = ctx.host.physinfo
    return [(cpu, p.core_of(cpu), p.socket_of(cpu), p.node_of(cpu)) for cpu in range(p.nr_cpus)]


def numa_info(ctx: Ctx) -> list[tuple[int, int, int, list[int]]]:
    """(node, memsize MiB, memfree MiB, distances) for every NUMA node.

    Memory is split evenly over the nodes, and so is free memory (pyxl does
    not track which node a domain's pages come from).
    """
    p = ctx.host.physinfo
    n = p.nr_nodes
    free = ctx.hv.free_kb() // 1024
    return [(node, p.total_kb // 1024 // n, free // n,
             [10 if other == node else 20 for other in range(n)]) for node in range(n)]


def xeninfo(ctx: Ctx) -> list[tuple[str, str]]:
    boot = ctx.host.boot
    return [
        ("xen_major", f" {XEN_MAJOR}"),
        ("xen_minor", f" {XEN_MINOR}"),
        ("xen_extra", f" {XEN_EXTRA}"),
        ("xen_version", f" {XEN_MAJOR}.{XEN_MINOR}{XEN_EXTRA}"),
        ("xen_caps", " xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64"),
        ("xen_scheduler", f" {boot.sched}"),
        ("xen_pagesize", " 4096"),
        ("platform_params", " virt_start=0xffff800000000000"),
        ("xen_changeset", " git:c447b7308b, simulated by pyxl"),
        ("xen_commandline", f" {boot.xen_cmdline()}"),
        ("cc_compiler", " gcc (Debian 12.2.0-14) 12.2.0"),
        ("cc_compile_by", " pyxl"),
        ("cc_compile_domain", " sim"),
        ("cc_compile_date", " Thu Nov 26 00:00:00 UTC 2026"),
        ("build_id", " 7079786c2073696d756c61746564206275696c64"),
    ]


def xen_console_read(ctx: Ctx, clear: bool = False) -> list[str]:
    """libxl_xen_console_read: Xen's console ring (`xl dmesg`), emptied after if `clear`."""
    lines = ctx.host.dmesg()
    if clear:
        ctx.host.clear_dmesg()
    return lines
