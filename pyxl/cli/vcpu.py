"""xl's vCPU commands: vcpu-list, vcpu-pin."""

from __future__ import annotations

import click

from pyxl.cli.base import c_seconds, out, print_bitmap, session, xl_command
from pyxl.cnum import INT_MAX, c_uint32, strtol, strtoul


def vcpu_row(name: str, v, nr_cpus: int) -> str:
    """One libxl_vcpuinfo, as xl's print_vcpuinfo prints it."""
    row = f"{name:<32} {v.domid:>5} {v.vcpuid:>5}"
    if not v.online:
        row += f"{'-':>5} {'-':>3}-p "
    else:
        state = ("r" if v.running else "-") + ("b" if v.blocked else "-")
        row += f"{v.cpu:>5} {state[0]:>3}{state[1]}- "
    row += f"{c_seconds(v.vcpu_time):9.1f}  "
    hard = None if v.cpumap is None else set(v.cpumap)
    soft = None if v.cpumap_soft is None else set(v.cpumap_soft)
    return row + f"{print_bitmap(hard, nr_cpus)} / {print_bitmap(soft, nr_cpus)}"


@xl_command("vcpu-list")
@click.option("--json", "as_json", is_flag=True)
@click.argument("domains", nargs=-1)
@click.pass_context
def cmd_vcpu_list(ctx, as_json, domains):
    with session(ctx, write=False) as libxl:
        nr_cpus = libxl.get_physinfo().max_cpu_id + 1
        if not as_json:
            out(f"{'Name':<32} {'ID':>5} {'VCPU':>5} {'CPU':>5} {'State':>5} {'Time(s)':>9} "
                "Affinity (Hard / Soft)\n")
        rows = []
        for name, vcpus in vcpu_rows(libxl, domains):
            if as_json:
                rows.extend(vcpu_fields(name, v, nr_cpus) for v in vcpus)
            else:
                out("".join(vcpu_row(name, v, nr_cpus) + "\n" for v in vcpus))
    if as_json:
        from pyxl.cli.base import dumps

        out(dumps(rows))
    return 0


def vcpu_rows(libxl, domains):
    """(name, [libxl_vcpuinfo]) of each domain asked for (all when none),
    as xl walks them: a missing domain is libxl's logged error, then the next."""
    if domains:
        ids = [libxl.domain_qualifier_to_domid(q) for q in domains]
    else:
        ids = [i.domid for i in libxl.list_domain()]
    for domid in ids:
        vcpus = libxl.list_vcpu(domid)   # logs libxl's error for a missing domain
        if vcpus:
            yield libxl.domid_to_name(domid), vcpus


def vcpu_fields(name: str, v, nr_cpus: int) -> dict:
    """One vcpu-list row as docs/json.md names it."""
    hard = None if v.cpumap is None else set(v.cpumap)
    soft = None if v.cpumap_soft is None else set(v.cpumap_soft)
    state = "--p" if not v.online else \
        ("r" if v.running else "-") + ("b" if v.blocked else "-") + "-"
    return {"name": name, "domid": v.domid, "vcpu": v.vcpuid,
            "cpu": v.cpu if v.online else None, "online": bool(v.online), "state": state,
            "cpu_time_ns": v.vcpu_time,
            "affinity_hard": print_bitmap(hard, nr_cpus),
            "affinity_soft": print_bitmap(soft, nr_cpus)}


@xl_command("vcpu-pin")
@click.option("-f", "--force", is_flag=True)
@click.option("-i", "--ignore-global-affinity-masks", "ignore_masks", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vcpu_pin(ctx, force, ignore_masks, args):
    """xl vcpu-pin: `-` leaves an affinity alone, `all` is every pCPU."""
    from pyxl.cli.base import globals_of, need_args
    from pyxl.errors import PyxlError

    need_args("vcpu-pin", args, 3)
    dryrun = globals_of(ctx).dryrun
    with session(ctx, write=not dryrun) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        vcpu, hard_str = args[1], args[2]
        soft_str = args[3] if len(args) > 3 else None
        vcpuid, _, _ = strtol(vcpu, 10)   # a long, as in xl
        if vcpuid is None or vcpuid < 0:
            if vcpu != "all":
                raise PyxlError(f"Error: Invalid argument {vcpu} as VCPU.")
            if force:
                raise PyxlError("Error: --force and 'all' as VCPU not allowed.")
            vcpuid = None
        hard = None if hard_str == "-" else libxl.parse_cpurange(hard_str)
        soft = None if soft_str is None or soft_str == "-" else libxl.parse_cpurange(soft_str)
        if dryrun:
            nr = libxl.get_physinfo().nr_cpus
            line = "cpumap: " + ("-" if hard is None else print_bitmap(hard, nr))
            if soft is not None:
                line += " " + print_bitmap(soft, nr)
            out(line + "\n")
            return 0
        if hard is not None and not ignore_masks:
            _apply_global_affinity_masks(libxl, domid, hard)
        if vcpuid is not None:
            # libxl_set_vcpuaffinity takes a uint32_t
            if not libxl.set_vcpuaffinity(domid, c_uint32(vcpuid), hard, soft):
                raise PyxlError(f"Could not set affinity for vcpu `{vcpuid}'.")
        elif not libxl.list_vcpu(domid):    # logs libxl's error for a missing domain
            raise PyxlError("libxl_list_vcpu failed.")
        elif not libxl.set_vcpuaffinity(domid, None, hard, soft):
            from pyxl.cli.base import err

            err("Could not set affinity.")
    return 0


def _apply_global_affinity_masks(libxl, domid: int, hard: set[int]) -> None:
    """xl asks for the domain's type to mask the hard affinity with xl.conf's
    (pyxl's masks are every pCPU): a map left empty is refused here, before
    Xen sees it (CPUs beyond the host were dropped when it was parsed)."""
    from pyxl.errors import PyxlError

    if libxl.domain_info(domid) is None:    # logs libxl's error
        raise PyxlError("Could not get domain info")
    if not hard:
        raise PyxlError("vcpu hard affinity map is empty")


@xl_command("vcpu-set")
@click.option("-i", "--ignore-host", "ignore_host", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_vcpu_set(ctx, ignore_host, args):
    from pyxl.cli.base import err, need_args

    need_args("vcpu-set", args, 2)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        count, _, _ = strtoul(args[1], 10)
        if count is None or count > INT_MAX:
            err("Error: Invalid argument.")
            return 1
        if not ignore_host:
            info = libxl.domain_info(domid)   # logs libxl's error for a missing domain
            if info is None:
                return 1
            host_cpus = libxl.get_physinfo().nr_cpus
            if count > info.vcpu_online and count > host_cpus:
                err(f"You are overcommmitting! You have {host_cpus} physical CPUs and want "
                    f"{count} vCPUs! Aborting, use --ignore-host to continue")
                return 1
        rc = libxl.set_vcpuonline(domid, count)
        if rc == -21:
            err(f"Domain {domid} does not exist.")
        elif rc:
            err(f"libxl_set_vcpuonline failed domid={domid} max_vcpus={count}, rc: {rc}")
        return 1 if rc else 0
