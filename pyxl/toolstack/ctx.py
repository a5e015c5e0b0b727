"""The toolstack's context: libxl_ctx's job for one pyxl command.

`open_ctx` opens the host for the command (one transaction) and remembers who
is asking: dom0's toolstack normally, or a guest when PYXL_AS_DOMID /
--as-domid simulates running inside it, in which case the privileged
interface is not there, as in a real domU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyxl.cnum import domid_from_digits
from pyxl.errors import PyxlError
from pyxl.sim.host import Host, open_host


LogFn = Callable[[str], None]

# xtl's levels, as xl's -v lowers the threshold from "progress".
LEVELS = {"debug": 1, "verbose": 2, "detail": 3, "progress": 4, "info": 5,
          "notice": 6, "warning": 7, "error": 8, "critical": 9}


@dataclass
class Ctx:
    host: Host
    caller: int = 0  # the domid this command runs in
    logger: LogFn | None = field(default=None, repr=False)
    min_level: int = LEVELS["progress"]

    def log(self, level: str, where: str, message: str, domid: int | None = None,
            errno: str | None = None, context: str = "libxl") -> None:
        """A libxl/libxc log line, in xtl's format, handed to the CLI's logger.

        `where` is "file.c:line:function" of the real libxl code that logs it.
        """
        if self.logger is None or LEVELS[level] < self.min_level:
            return
        dom = f"Domain {domid}:" if domid is not None and 0 < domid < 0x7FF0 else ""
        tail = f": {errno}" if errno else ""
        self.logger(f"{context}: {level}: {where}: {dom}{message}{tail}")

    @property
    def hv(self):
        return self.host.hv

    def xs(self):
        """XenStore as seen by the caller."""
        return self.host.xs(caller=self.caller)

    def require_privileged(self) -> None:
        """xl needs /dev/xen/privcmd; in a domU it cannot get a libxl context."""
        if self.caller != 0:
            raise PyxlError(
                "xencall: error: Could not obtain handle on privileged command interface: "
                "No such file or directory\n"
                "libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: "
                "No such file or directory\n"
                "cannot init xl context", 1)


@contextmanager
def open_ctx(host: str | None = None, *, write: bool, caller: int = 0,
             privileged: bool = True, logger: LogFn | None = None,
             verbose: int = 0, tracer=None) -> Iterator[Ctx]:
    with open_host(host, write=write) as h:
        if tracer is not None:
            h.trace_hypercalls(tracer)
        ctx = Ctx(h, caller, logger, max(0, LEVELS["progress"] - verbose))
        _start_monitor(h)
        if privileged:
            ctx.require_privileged()
        yield ctx


def find_domain(ctx: Ctx, qualifier: str) -> int:
    """libxl_domain_qualifier_to_domid: all digits is a domid (unchecked), else a name."""
    if qualifier.isdigit() and qualifier.isascii():
        return domid_from_digits(qualifier)
    domid = ctx.host.domid_by_name(qualifier) if is_text(qualifier) else None
    if domid is None:
        raise PyxlError(f"{qualifier} is an invalid domain identifier (rc=-6)")
    return domid


def is_text(name: str) -> bool:
    """Whether a name can live in XenStore and pyxl's database: libxl hands
    names around as C strings (no NUL) and pyxl keeps them as UTF-8 (an
    argument's bytes that are not UTF-8 arrive as surrogate escapes)."""
    if name.isascii():
        return "\0" not in name
    return not any(c == "\0" or "\udc80" <= c <= "\udcff" for c in name)


def _start_monitor(h: Host) -> None:
    """xl's per-domain monitors act at every simulation step of this command
    (and now, for a shutdown the realtime catch-up has just simulated)."""
    from pyxl.toolstack import monitor

    if monitor.on_step not in h.on_step:
        h.on_step.append(monitor.on_step)
    if h.writable and h.hv_loaded:
        monitor.on_step(h, h.now_ns)
