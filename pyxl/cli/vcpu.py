"""xl's vCPU commands: vcpu-list."""

from __future__ import annotations

import click

from pyxl.cli.base import c_float, out, print_bitmap, session, xl_command
from pyxl.hv.model import BLOCKED, RUNNING
from pyxl.toolstack.ctx import find_domain
from pyxl.toolstack.vcpu import list_vcpus


def vcpu_row(name: str, v, nr_cpus: int) -> str:
    row = f"{name:<32} {v.domid:>5} {v.vcpuid:>5}"
    if not v.online:
        row += f"{'-':>5} {'-':>3}-p "
    else:
        state = ("r" if v.runstate == RUNNING else "-") + ("b" if v.runstate == BLOCKED else "-")
        row += f"{v.cpu:>5} {state[0]:>3}{state[1]}- "
    row += f"{c_float(v.cpu_time / 1e9):9.1f}  "
    hard = None if v.hard_affinity is None else set(v.hard_affinity)
    soft = None if v.soft_affinity is None else set(v.soft_affinity)
    return row + f"{print_bitmap(hard, nr_cpus)} / {print_bitmap(soft, nr_cpus)}"


@xl_command("vcpu-list")
@click.argument("domains", nargs=-1)
@click.pass_context
def cmd_vcpu_list(ctx, domains):
    with session(ctx, write=False) as xc:
        nr_cpus = xc.host.physinfo.max_cpu_id + 1
        out(f"{'Name':<32} {'ID':>5} {'VCPU':>5} {'CPU':>5} {'State':>5} {'Time(s)':>9} "
            "Affinity (Hard / Soft)\n")
        ids = [find_domain(xc, q) for q in domains] if domains else sorted(xc.hv.domains)
        for domid in ids:
            name = xc.host.name_of(domid)
            rows = [vcpu_row(name, v, nr_cpus) for v in list_vcpus(xc, domid)]
            out("".join(r + "\n" for r in rows))
    return 0
