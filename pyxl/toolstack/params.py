"""libxl_set_parameters: Xen's runtime parameters, written through hypfs.

libxl splits the string at spaces and writes each `name=value` to the hypfs
node /params/NAME ("noNAME" writes "no"). Only parameters Xen declares as
runtime ones have a node: a boot-only parameter (sched_credit_tslice_ms,
say) is as unknown here as a misspelt one. The runtime parameters the
simulation has are grant-table limits; their values are kept in the host's
meta, as Xen keeps them in its variables.
"""

from __future__ import annotations

from pyxl.cnum import strtoul
from pyxl.errors import ErrorFail, strerror
from pyxl.toolstack.ctx import Ctx

INT_MAX = 0x7FFFFFFF


def _gnttab_limit(value: str) -> tuple[str | None, int]:
    """parse_gnttab_limit: simple_strtoul in any base, all of it, <= INT_MAX."""
    if not value:   # simple_strtoul of "" is 0, with nothing left over
        return None, 0
    val, rest, _ = strtoul(value, 0)
    if val is None or rest:
        return "EINVAL", 0
    if val > INT_MAX:
        return "ERANGE", 0
    return None, val


# name -> (parser, default): each one's value as Xen would hold it.
RUNTIME_PARAMS = {
    "gnttab_max_frames": (_gnttab_limit, 64),
    "gnttab_max_maptrack_frames": (_gnttab_limit, 1024),
}


def get(ctx: Ctx, name: str) -> int:
    """A runtime parameter's current value."""
    return int(ctx.host.meta.get(f"param.{name}", RUNTIME_PARAMS[name][1]))


def set_parameters(ctx: Ctx, params: str) -> None:
    """Each parameter in turn; the first that fails stops it (those before it
    stay set, as in libxl), logged as libxl logs it."""
    ctx.require_privileged()
    rest = params.lstrip(" \t")
    while rest:
        word, _, rest = rest.partition(" ")
        name, eq, value = word.partition("=")
        if not eq and word.startswith("no"):
            name, value = word[2:], "no"
        ctx.hv.trace("XEN_HYPFS_OP_write_contents", path=f"/params/{name}", value=value)
        errno = _write(ctx, name, value)
        if errno is not None:
            text = "Numerical result out of range" if errno == "ERANGE" else strerror(errno)
            ctx.log("error", "libxl.c:656:libxl_set_parameters", "setting parameters",
                    errno=text)
            raise ErrorFail
        rest = rest.lstrip(" \t")


def _write(ctx: Ctx, name: str, value: str) -> str | None:
    """hypfs_write_custom on /params/NAME; the errno name, or None."""
    entry = RUNTIME_PARAMS.get(name)
    if entry is None:
        return "ENOENT"
    errno, val = entry[0](value)
    if errno is None:
        ctx.host.set_meta(f"param.{name}", str(val))
    return errno
