"""Which console of a domain a user may attach to, and what it has shown."""

from __future__ import annotations

from pyxl.toolstack.ctx import Ctx


def console_log(ctx: Ctx, domid: int, ctype: str | None, num: int) -> list[str] | None:
    """The lines the guest has written so far, or None where xl could not attach.

    The primary console is serial for HVM guests and PV otherwise; a PV guest
    has no serial console and no guest here has a vUART or a second console.
    """
    d = ctx.hv.domains.get(domid)
    if d is None or num != 0:
        return None
    primary = "serial" if d.type == "hvm" else "pv"
    if ctype not in (None, primary, "pv"):
        return None
    return ctx.host.console_lines(domid)
