"""pyxl's own commands for simulated hosts and their clocks."""

from __future__ import annotations

import json
import time

import click

from pyxl import toolstack
from pyxl.cli.base import OwnGroup, err, globals_of, out, show_hypercall
from pyxl.units import format_duration_ns, parse_duration_ns

_CTX = {"help_option_names": ["-h", "--help"]}


@click.group("host", cls=OwnGroup, context_settings=_CTX)
def cmd_host():
    """Boot, list, reset or destroy simulated hosts."""


@cmd_host.command("boot")
@click.argument("name", required=False)
@click.option("--cpus", type=int, default=8, show_default=True, help="Physical CPUs.")
@click.option("--nodes", type=int, default=1, show_default=True,
              help="NUMA nodes (one socket each; CPUs and memory split evenly).")
@click.option("--memory", "memory_mib", type=int, default=16384, show_default=True,
              help="Host memory in MiB.")
@click.option("--dom0-mem", "dom0_mem", default=None, metavar="SPEC",
              help="Domain-0's memory: MiB (1024: 1024M,max:1024M, the default), or "
                   "Xen's dom0_mem= syntax ([min:AMT,][max:AMT,][AMT], AMT like 1024M, "
                   "10%, 1G+10%, -512M; without max: no limit).")
@click.option("--sched", type=click.Choice(["credit", "credit2", "rtds", "sedf"]),
              default="credit", show_default=True, help="Xen's sched= boot parameter.")
@click.option("--clock", type=click.Choice(["realtime", "manual"]), default=None,
              help="realtime (default, or $PYXL_CLOCK) or manual.")
@click.option("--pci", multiple=True, metavar="BDF=DESCRIPTION",
              help="A PCI device the machine has, as lspci -D names it (repeat the "
                   "option for each; replaces the default set).")
@click.option("--usb", multiple=True, metavar="BUS:DEV=DESCRIPTION",
              help="A USB device plugged in (repeat the option for each; replaces the "
                   "default set).")
@click.option("--flask", type=click.Choice(["enforcing", "permissive", "disabled"]),
              default="disabled", show_default=True,
              help="Xen's flask= boot parameter (disabled: Xen built without XSM).")
@click.option("--psr", default="", metavar="FEATURES",
              help="Platform Shared Resource features the CPUs offer, some of "
                   "cmt,cat,cdp,mba (default: none, as most CPUs).")
@click.option("--link", "link_mbps", type=int, default=1000, show_default=True,
              help="The network link live migrations leave by, in Mbit/s.")
@click.pass_context
def host_boot(ctx, name, cpus, nodes, memory_mib, dom0_mem, sched, clock, pci, usb, flask,
              psr, link_mbps):
    """Boot a new host: Xen with Domain-0 running."""
    booted, opts = toolstack.boot_host(
        name or globals_of(ctx).host, cpus=cpus, nodes=nodes, memory_mib=memory_mib,
        dom0_mem=dom0_mem, sched=sched, clock=clock, pci=pci or None,
        usb=usb or None, flask=flask, psr=psr, link_mbps=link_mbps)
    out(f"Booted host '{booted}': {cpus} CPUs, {memory_mib} MiB, Domain-0 with "
        f"{opts.dom0_kb()[0] // 1024} MiB, {sched} scheduler, {opts.clock} clock\n")


@cmd_host.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def host_list(as_json):
    """List the hosts in the state directory."""
    rows = toolstack.list_hosts()
    if as_json:
        out(json.dumps([r.__dict__ for r in rows], indent=4) + "\n")
        return
    out(f"{'Name':<24} {'CPUs':>4} {'Memory':>8} {'Sched':<8} {'Clock':<8} {'Domains':>7}\n")
    for r in rows:
        if r.damaged:
            out(f"{r.name:<24} (unreadable: run 'pyxl --host {r.name} host reset')\n")
            continue
        if r.error:
            out(f"{r.name:<24} (unusable: {r.error.removeprefix('pyxl: ')})\n")
            continue
        out(f"{r.name:<24} {r.cpus:>4} {r.memory_mib:>8} {r.sched:<8} {r.clock:<8} "
            f"{r.domains:>7}\n")


@cmd_host.command("reset")
@click.argument("name", required=False)
@click.pass_context
def host_reset(ctx, name):
    """Back to freshly booted, with the same boot options."""
    done = toolstack.reset_host(name or globals_of(ctx).host)
    if done.defaults:
        err(f"pyxl: host '{done.name}' had lost its boot options (no host.toml, an unreadable "
            "database): booted it with the defaults")


@cmd_host.command("destroy")
@click.argument("name", required=False)
@click.pass_context
def host_destroy(ctx, name):
    """Remove a host and all its state."""
    toolstack.destroy_host(name or globals_of(ctx).host)


@click.group("clock", cls=OwnGroup, context_settings=_CTX)
def cmd_clock():
    """Show or advance the host's simulated clock."""


def _show(info, as_json: bool) -> None:
    calendar = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(info.wall))
    if as_json:
        out(json.dumps({"mode": info.mode, "now_ns": info.now_ns, "calendar": calendar},
                       indent=4) + "\n")
    else:
        out(f"mode:     {info.mode}\nnow:      {format_duration_ns(info.now_ns)}\n"
            f"calendar: {calendar}\n")


@cmd_clock.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def clock_show(ctx, as_json):
    """Print the clock mode and simulated time since boot."""
    _show(toolstack.clock_show(globals_of(ctx).host), as_json)


@cmd_clock.command("advance")
@click.argument("duration")
@click.pass_context
def clock_advance(ctx, duration):
    """Run the simulation forward by DURATION (10s, 250ms, 2m)."""
    g = globals_of(ctx)
    toolstack.clock_advance(g.host, parse_duration_ns(duration),
                            tracer=show_hypercall if g.trace else None)
