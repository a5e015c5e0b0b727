"""CPU pools: what libxl_cpupool.c does for xl's cpupool-* commands.

A cpupool is a set of pCPUs with its own scheduler instance (Xen's `struct
cpupool`); every domain lives in exactly one. Pool-0 exists from boot. As in
libxl, a pool's name lives in XenStore (/local/pool/<id>/name, with its uuid)
as well as in the hypervisor's record, and lookups accept an id or a name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pyxl.cnum import atoi, domid_from_digits
from pyxl.errors import PyxlError
from pyxl.hv.hypervisor import HypercallError
from pyxl.toolstack.ctx import Ctx

SCHEDULER_NAMES = ("sedf", "credit", "credit2", "arinc653", "rtds", "null")
SIMULATED = ("credit", "credit2", "rtds", "sedf")


@dataclass
class PoolInfo:
    """libxl_cpupoolinfo."""

    poolid: int
    name: str
    sched: str
    cpus: list[int]
    n_dom: int


@dataclass
class PoolSpec:
    """What cpupool-create read from its config: the pool it would make."""

    name: str
    sched: str
    cpus: list[int] = field(default_factory=list)
    source: str = "command line"


# --- lookups -------------------------------------------------------------------


def pool_by_name(ctx: Ctx, name: str) -> int | None:
    """libxl_name_to_cpupoolid."""
    for p in sorted(ctx.hv.pools.values(), key=lambda p: p.poolid):
        if p.name == name:
            return p.poolid
    return None


def pool_qualifier(ctx: Ctx, qualifier: str) -> int | None:
    """libxl_cpupool_qualifier_to_cpupoolid plus cpupoolid_is_valid: an id or a name."""
    if qualifier.isdigit() and qualifier.isascii():
        poolid = domid_from_digits(qualifier)  # the same strtoul into a uint32
        return poolid if poolid in ctx.hv.pools else None
    return pool_by_name(ctx, qualifier)


def require_pool(ctx: Ctx, qualifier: str) -> int:
    poolid = pool_qualifier(ctx, qualifier)
    if poolid is None:
        raise PyxlError(f"unknown cpupool '{qualifier}'")
    return poolid


def cpupoolid_to_name(ctx: Ctx, poolid: int) -> str | None:
    """libxl_cpupoolid_to_name: None if there is no such pool."""
    pool = ctx.hv.pools.get(poolid)
    return pool.name if pool is not None else None


def list_pools(ctx: Ctx) -> list[PoolInfo]:
    """libxl_list_cpupool: every pool, by id."""
    counts: dict[int, int] = {}
    for d in ctx.hv.domains.values():
        counts[d.poolid] = counts.get(d.poolid, 0) + 1
    return [PoolInfo(p.poolid, p.name, p.sched, sorted(p.cpus), counts.get(p.poolid, 0))
            for p in sorted(ctx.hv.pools.values(), key=lambda p: p.poolid)]


def node_cpus(ctx: Ctx) -> dict[int, set[int]]:
    """NUMA node -> pCPUs of this host."""
    from pyxl.toolstack.cpumap import node_cpus as layout

    phys = ctx.host.physinfo
    return layout(phys.nr_cpus, phys.nr_nodes)


def parse_cpus(ctx: Ctx, text: str) -> set[int]:
    """xl's parse_cpurange over this host (errors carry xl's wording, exit 1)."""
    from pyxl.toolstack.cpumap import parse_cpurange

    return parse_cpurange(text, ctx.host.physinfo.nr_cpus, node_cpus(ctx))


# --- cpupool-create ------------------------------------------------------------


def parse_pool_config(ctx: Ctx, text: str, filename: str | None) -> PoolSpec:
    """What main_cpupoolcreate does with the config before it calls libxl."""
    from pyxl.toolstack.libxlu_cfg import parse_cfg

    source = filename or "command line"
    try:
        cfg = parse_cfg(text, source)
    except PyxlError as e:
        lines = getattr(e, "lines", [e.message])
        raise PyxlError("\n".join(lines + ["Failed to parse config file: Invalid argument"]))
    name = cfg.get_string("name")
    if name is None:
        if filename is None:
            raise PyxlError("Missing cpupool name!")
        name = os.path.basename(filename)
    if pool_by_name(ctx, name) is not None:
        raise PyxlError(f'Pool name "{name}" already exists')
    sched_str = cfg.get_string("sched")
    if sched_str is not None:
        if sched_str not in SCHEDULER_NAMES:
            raise PyxlError("Unknown scheduler")
        sched = sched_str
    else:
        sched = ctx.host.boot.sched
    free = set(ctx.hv.free_cpus())
    cpus: set[int] = set()
    nodes = cfg.get_list("nodes", dont_warn=True)
    if nodes is not None:
        topo = node_cpus(ctx)
        for item in cfg.get_string_list("nodes", dont_warn=True) or []:
            cpus |= topo.get(atoi(item), set()) & free
        if not cpus:
            raise PyxlError("no free cpu found")
    elif cfg.get_list("cpus", dont_warn=True) is not None:
        for item in cfg.get_string_list("cpus", dont_warn=True) or []:
            cpu = atoi(item)
            if cpu < 0 or cpu not in free:
                raise PyxlError(f"cpu {cpu} illegal or not free")
            cpus.add(cpu)
    elif cfg.get_string("cpus", dont_warn=True) is not None:
        cpus = parse_cpus(ctx, cfg.get_string("cpus"))
        for cpu in sorted(cpus):
            if cpu not in free:
                raise PyxlError(f"cpu {cpu} illegal or not free")
    return PoolSpec(name=name, sched=sched, cpus=sorted(cpus), source=source)


def create_pool(ctx: Ctx, spec: PoolSpec) -> int:
    """libxl_cpupool_create: the pool, its pCPUs, and its XenStore entry."""
    from pyxl.toolstack.create import new_uuid

    if spec.sched not in SIMULATED:
        # libxl passes libxc's -1 as the errno value: no strerror follows
        ctx.log("error", "libxl_cpupool.c:157:libxl_cpupool_create",
                f"Could not create cpupool: the {spec.sched} scheduler is not simulated")
        raise PyxlError("error on creating cpupool")
    pool = ctx.hv.sysctl_cpupool_create(spec.sched, spec.name)
    for cpu in sorted(spec.cpus):
        try:
            ctx.hv.sysctl_cpupool_addcpu(pool.poolid, cpu)
        except HypercallError:
            ctx.log("error", "libxl_cpupool.c:167:libxl_cpupool_create",
                    "Error moving cpu to cpupool")
            for added in list(pool.cpus):
                ctx.hv.sysctl_cpupool_removecpu(pool.poolid, added)
            ctx.hv.sysctl_cpupool_destroy(pool.poolid)
            raise PyxlError("error on creating cpupool") from None
    xs = ctx.xs()
    xs.write(f"/local/pool/{pool.poolid}/uuid", new_uuid(ctx).encode())
    xs.write(f"/local/pool/{pool.poolid}/name", spec.name.encode())
    return pool.poolid


# --- the other commands ----------------------------------------------------------


def destroy_pool(ctx: Ctx, poolid: int) -> bool:
    """libxl_cpupool_destroy: only an empty pool (no domains) goes; False on failure."""
    hv = ctx.hv
    pool = hv.pools[poolid]
    if poolid == 0 or any(d.poolid == poolid for d in hv.domains.values()):
        return False
    for cpu in list(pool.cpus):
        hv.sysctl_cpupool_removecpu(poolid, cpu)
    hv.sysctl_cpupool_destroy(poolid)
    ctx.xs().rm(f"/local/pool/{poolid}")
    return True


def rename_pool(ctx: Ctx, poolid: int, name: str) -> None:
    """libxl_cpupool_rename (libxl does not check that the name is unused)."""
    ctx.hv.pools[poolid].name = name
    ctx.xs().write(f"/local/pool/{poolid}/name", name.encode())


def cpu_add(ctx: Ctx, poolid: int, cpus: set[int]) -> bool:
    """libxl_cpupool_cpuadd_cpumap: add each; False if any could not be added."""
    return _each_cpu(ctx, cpus, lambda cpu: ctx.hv.sysctl_cpupool_addcpu(poolid, cpu),
                     "libxl_cpupool.c:302:libxl_cpupool_cpuadd",
                     "Error moving cpu {} to cpupool")


def cpu_remove(ctx: Ctx, poolid: int, cpus: set[int]) -> bool:
    """libxl_cpupool_cpuremove_cpumap: False if any could not be removed."""
    return _each_cpu(ctx, cpus, lambda cpu: ctx.hv.sysctl_cpupool_removecpu(poolid, cpu),
                     "libxl_cpupool.c:365:libxl_cpupool_cpuremove",
                     "Error removing cpu {} from cpupool")


def _each_cpu(ctx: Ctx, cpus: set[int], op, where: str, message: str) -> bool:
    """libxl's cpumap loops: try every CPU, log each failure, report if any failed."""
    ok = True
    for cpu in sorted(cpus):
        try:
            op(cpu)
        except HypercallError as e:
            ctx.log("error", where, message.format(cpu), errno=e.strerror)
            ok = False
    return ok


def move_domain(ctx: Ctx, poolid: int, domid: int) -> None:
    """libxl_cpupool_movedomain; the domain takes the new pool's default parameters."""
    try:
        ctx.hv.sysctl_cpupool_movedomain(poolid, domid)
    except HypercallError:
        # LOGEVD with libxc's rc, -1: no strerror follows
        ctx.log("error", "libxl_cpupool.c:437:libxl_cpupool_movedomain",
                "Error moving domain to cpupool", domid)
        raise PyxlError("", 1) from None


def numa_split(ctx: Ctx) -> None:
    """main_cpupool_numa_split: Pool-0 keeps the first node, one pool per other node."""
    if len(ctx.hv.pools) > 1:
        raise PyxlError("splitting not possible, already cpupools in use")
    pool0 = ctx.hv.pools[0]
    topo = node_cpus(ctx)
    nodes = sorted(topo)
    first = nodes[0]
    cpu_add(ctx, 0, topo[first] & set(ctx.hv.free_cpus()))
    rename_pool(ctx, 0, f"Pool-node{first}")
    for node in nodes[1:]:
        if not cpu_remove(ctx, 0, topo[node] & set(pool0.cpus)):
            raise PyxlError("error on removing cpu from Pool 0")
        spec = PoolSpec(name=f"Pool-node{node}", sched=pool0.sched)
        try:
            poolid = create_pool(ctx, spec)
        except PyxlError:
            raise PyxlError("error on creating cpupool") from None
        if not cpu_add(ctx, poolid, topo[node]):
            raise PyxlError("error on adding cpus to cpupool")
