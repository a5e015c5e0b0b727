"""The toolstack's context: libxl_ctx's job for one pyxl command.

A `Ctx` holds the host the command has open (see session.open_ctx) and who
is asking: dom0's toolstack normally, or a guest when PYXL_AS_DOMID /
--as-domid simulates running inside it, in which case the privileged
interface is not there, as in a real domU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pyxl.cnum import domid_from_digits
from pyxl.errors import PyxlError

if TYPE_CHECKING:
    from pyxl.sim.host import Host


LogFn = Callable[[str], None]

# xtl's levels, as xl's -v lowers the threshold from "progress".
LEVELS = {"debug": 1, "verbose": 2, "detail": 3, "progress": 4, "info": 5,
          "notice": 6, "warning": 7, "error": 8, "critical": 9}


# A plain class, not a dataclass: every command defines it at start-up,
# where a dataclass costs ~30 times more to define.
class Ctx:
    """libxl_ctx: the open host and who is asking."""

    def __init__(
        self,
        host: Host,
        caller: int = 0,  # the domid this command runs in
        logger: LogFn | None = None,
        min_level: int = LEVELS["progress"],
    ) -> None:
        self.host = host
        self.caller = caller
        self.logger = logger
        self.min_level = min_level

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

    def xs(self, conn_id: str | None = None):
        """XenStore as seen by the caller, on connection `conn_id` (default: the
        caller's own, which lasts as long as this command)."""
        return self.host.xs(caller=self.caller, conn_id=conn_id)

    def require_privileged(self) -> None:
        require_privileged(self.caller)


def require_privileged(caller: int) -> None:
    """xl needs /dev/xen/privcmd; in a domU (caller != 0) it cannot get a libxl context."""
    if caller != 0:
        raise PyxlError(
            "xencall: error: Could not obtain handle on privileged command interface: "
            "No such file or directory\n"
            "libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: "
            "No such file or directory\n"
            "cannot init xl context", 1)


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
