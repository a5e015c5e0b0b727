"""xl's vCPU commands: vcpu-list, vcpu-pin."""

from __future__ import annotations

import click

from pyxl.cli.base import c_float, out, print_bitmap, session, xl_command
from pyxl.cnum import INT_MAX, c_uint32, strtol, strtoul
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
            vcpus = list_vcpus(xc, domid)   # logs libxl's error for a missing domain
            if vcpus:
                name = xc.host.name_of(domid)
                out("".join(vcpu_row(name, v, nr_cpus) + "\n" for v in vcpus))
    return 0


@xl_command("vcpu-pin")
@click.option("-f", "--force", is_flag=True)
@click.option("-i", "--ignore-global-affinity-masks", "ignore_masks", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vcpu_pin(ctx, force, ignore_masks, args):
    """xl vcpu-pin: `-` leaves an affinity alone, `all` is every pCPU."""
    from pyxl.cli.base import globals_of, need_args
    from pyxl.errors import PyxlError
    from pyxl.toolstack.cpupool import parse_cpus
    from pyxl.toolstack.vcpu import vcpu_pin

    need_args("vcpu-pin", args, 3)
    dryrun = globals_of(ctx).dryrun
    with session(ctx, write=not dryrun) as xc:
        domid = find_domain(xc, args[0])
        vcpu, hard_str = args[1], args[2]
        soft_str = args[3] if len(args) > 3 else None
        vcpuid, _, _ = strtol(vcpu, 10)   # a long, as in xl
        if vcpuid is None or vcpuid < 0:
            if vcpu != "all":
                raise PyxlError(f"Error: Invalid argument {vcpu} as VCPU.")
            if force:
                raise PyxlError("Error: --force and 'all' as VCPU not allowed.")
            vcpuid = None
        hard = None if hard_str == "-" else parse_cpus(xc, hard_str)
        soft = None if soft_str is None or soft_str == "-" else parse_cpus(xc, soft_str)
        if dryrun:
            nr = xc.host.physinfo.nr_cpus
            line = "cpumap: " + ("-" if hard is None else print_bitmap(hard, nr))
            if soft is not None:
                line += " " + print_bitmap(soft, nr)
            out(line + "\n")
            return 0
        if vcpuid is not None:
            # libxl_set_vcpuaffinity takes a uint32_t
            if not vcpu_pin(xc, domid, c_uint32(vcpuid), hard, soft):
                raise PyxlError(f"Could not set affinity for vcpu `{vcpuid}'.")
        elif not vcpu_pin(xc, domid, None, hard, soft):
            from pyxl.cli.base import err

            err("Could not set affinity.")
    return 0


@xl_command("vcpu-set")
@click.option("-i", "--ignore-host", "ignore_host", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vcpu_set(ctx, ignore_host, args):
    from pyxl.cli.base import err, need_args
    from pyxl.toolstack.vcpu import vcpu_set

    need_args("vcpu-set", args, 2)
    with session(ctx, write=True) as xc:
        domid = find_domain(xc, args[0])
        count, _, _ = strtoul(args[1], 10)
        if count is None or count > INT_MAX:
            err("Error: Invalid argument.")
            return 1
        if not ignore_host:
            d = xc.hv.domains.get(domid)
            if d is None:
                xc.log("error", "libxl_domain.c:356:libxl_domain_info", "Getting domain info",
                       domid, "No such process")
                return 1
            host_cpus = xc.host.physinfo.nr_cpus
            if count > d.online_vcpus and count > host_cpus:
                err(f"You are overcommmitting! You have {host_cpus} physical CPUs and want "
                    f"{count} vCPUs! Aborting, use --ignore-host to continue")
                return 1
        rc = vcpu_set(xc, domid, count)
        if rc == -21:
            err(f"Domain {domid} does not exist.")
        elif rc:
            err(f"libxl_set_vcpuonline failed domid={domid} max_vcpus={count}, rc: {rc}")
        return 1 if rc else 0
