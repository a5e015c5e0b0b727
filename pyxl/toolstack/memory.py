"""libxl_domain_setmaxmem and libxl_set_memory_target, for xl mem-max/mem-set.

Both take the domain's userdata lock first (which fails, with libxl's two log
lines, for a domain that does not exist), read the domain's memory nodes from
XenStore, change Xen's max_pages, and write the new value back. The guest's
balloon driver (pyxl/sim/guest.py) then moves the domain toward the target.
Dom0's memory nodes are written lazily, the first time libxl needs them.
The domain's stored config follows each change (see retrieve.py). All sizes
are KiB.
"""

from __future__ import annotations

from pyxl.cnum import c_long, strtol, strtoul
from pyxl.errors import ErrorFail, ErrorInval, ErrorLockFail, strerror
from pyxl.hv.hypervisor import HypercallError
from pyxl.toolstack.ctx import Ctx
from pyxl.toolstack.retrieve import get_domain_configuration, set_domain_configuration
from pyxl.xenstore.errors import XenStoreError

LIBXL_MAXMEM_CONSTANT = 1024   # libxl__arch_extra_memory on x86, KiB
LIBXL_MIN_DOM0_MEM = 128 * 1024



def parse_mem_size_kb(text: str) -> int:
    """xl's parse_mem_size_kb: strtoll then at most one unit letter; no unit = MiB; -1 if bad."""
    value, rest, _ = strtol(text, 10)
    if value is None:
        value, rest = 0, text
    if len(rest) > 1:
        return -1
    unit = rest.lower()
    shift = {"t": 30, "g": 20, "": 10, "m": 10, "k": 0}.get(unit)
    if unit == "b":
        return value >> 10
    if shift is None:
        return -1
    return c_long(value << shift)


def _lock_domain_userdata(ctx: Ctx, domid: int) -> None:
    """libxl__lock_domain_userdata: needs the domain's UUID, so the domain must exist."""
    if domid not in ctx.hv.domains:
        ctx.log("error", "libxl_domain.c:356:libxl_domain_info", "Getting domain info",
                domid, strerror("ESRCH"))
        ctx.log("error", "libxl_dom.c:1266:libxl__userdata_path",
                f"unable to find domain info for domain {domid}", errno=strerror("ESRCH"))
        raise ErrorLockFail


def _read_kb(xs, path: str) -> int | None:
    """A memory node as libxl reads it (strtoull, nothing after the digits);
    None if it is missing or not a number."""
    try:
        raw = xs.read(path).decode("latin-1")
    except XenStoreError:
        return None
    val, rest, _ = strtoul(raw, 10)
    return None if val is None or rest else val


def set_max_memory(ctx: Ctx, domid: int, max_memkb: int) -> None:
    """libxl_domain_setmaxmem: Xen's max_pages and ~/memory/static-max.

    libxl returns 1, not an error code, for its refusals here; xl only
    tests for nonzero, so they raise ErrorFail.
    """
    _lock_domain_userdata(ctx, domid)
    xs = ctx.xs()
    dompath = f"/local/domain/{domid}"
    target = _read_kb(xs, f"{dompath}/memory/target")
    if target is None:
        ctx.log("error", "libxl_mem.c:47:libxl_domain_setmaxmem",
                f"Cannot get memory info from {dompath}/memory/target", domid,
                strerror("ENOENT"))
        raise ErrorFail
    if max_memkb < target:
        # LOGED appends strerror(errno), and nothing has failed yet
        ctx.log("error", "libxl_mem.c:59:libxl_domain_setmaxmem",
                "memory_static_max must be greater than or or equal to memory_dynamic_max",
                domid, "Success")
        raise ErrorFail
    ctx.hv.domctl_max_mem(domid, max_memkb + LIBXL_MAXMEM_CONSTANT)
    xs.write(f"{dompath}/memory/static-max", str(max_memkb).encode())
    _update_config(ctx, domid, max_memkb=max_memkb)


def _update_config(ctx: Ctx, domid: int, *, max_memkb: int | None = None,
                   target_delta: int = 0) -> None:
    """Keep the stored config true. Its target keeps libxl's fudge over
    XenStore's (an HVM guest's video RAM, and 1 MiB when it may balloon up,
    fixed at create), so it moves by the change in XenStore's target."""
    config = get_domain_configuration(ctx, domid)
    if config is None:      # dom0: libxl keeps no config for it
        return
    if max_memkb is not None:
        config.max_memkb = max_memkb
    config.target_memkb = (config.target_memkb or 0) + target_delta
    set_domain_configuration(ctx, domid, config)


def fill_dom0_memory_info(ctx: Ctx) -> None:
    """libxl__fill_dom0_memory_info: dom0's target and static-max from Xen's view."""
    d = ctx.hv.domain(0)

    def fill(t) -> None:
        for key, value in (("target", d.tot_memkb), ("static-max", d.max_memkb)):
            path = f"/local/domain/0/memory/{key}"
            if not t.exists(path):
                t.write(path, str(value).encode())

    ctx.xs().transaction(fill)


def set_memory_target(ctx: Ctx, domid: int, target_memkb: int, relative: bool = False,
                      enforce: bool = True) -> int:
    """libxl_set_memory_target; returns the new ~/memory/target (KiB)."""
    _lock_domain_userdata(ctx, domid)
    xs = ctx.xs()
    dompath = f"/local/domain/{domid}"
    if domid == 0 and _read_kb(xs, f"{dompath}/memory/target") is None:
        fill_dom0_memory_info(ctx)
    result: dict = {}

    def body(t) -> None:
        def read(key: str) -> int | None:
            return _read_kb(t, f"{dompath}/memory/{key}")

        current = read("target")
        if current is None:
            ctx.log("error", "libxl_mem.c:234:libxl_set_memory_target",
                    f"Cannot get target memory info from {dompath}/memory/target", domid,
                    strerror("ENOENT"))
            raise ErrorFail
        static_max = read("static-max")
        if static_max is None:
            ctx.log("error", "libxl_mem.c:251:libxl_set_memory_target",
                    f"Cannot get memory info from {dompath}/memory/static-max", domid,
                    strerror("ENOENT"))
            raise ErrorFail
        videoram = read("videoram") or 0
        if relative:
            new = max(0, current + target_memkb)
        else:
            new = (target_memkb - videoram) % (1 << 64)  # libxl keeps it unsigned
        if new > static_max:
            ctx.log("error", "libxl_mem.c:278:libxl_set_memory_target",
                    "memory_dynamic_max must be less than or equal to memory_static_max\n\n",
                    domid)
            raise ErrorInval
        if domid == 0 and new < LIBXL_MIN_DOM0_MEM:
            ctx.log("error", "libxl_mem.c:287:libxl_set_memory_target",
                    f"New target {new} for dom0 is below the minimum threshold", domid)
            raise ErrorInval
        if enforce:
            try:
                ctx.hv.domctl_max_mem(domid, new + videoram + LIBXL_MAXMEM_CONSTANT)
            except HypercallError:
                raise ErrorFail from None
        t.write(f"{dompath}/memory/target", str(new).encode())
        uuid = ctx.hv.domain(domid).uuid
        t.write(f"/vm/{uuid}/memory", str(new // 1024).encode())   # MiB, as libxl writes it
        result.update(target=new, delta=new - current)

    xs.transaction(body)
    _update_config(ctx, domid, target_delta=result["delta"])
    if domid == 0:
        from pyxl.sim.guest import dom0_balloon

        dom0_balloon(ctx.host, result["target"])
    return result["target"]
