"""One command's session with a host: the context libxl works in, and xl's
monitors beside it.

`open_ctx` opens the host for the command (one transaction), hands the
toolstack a `Ctx`, and starts xl's per-domain monitors, which act at every
simulation step of the command as background processes would. It lives
above both ctx.py and monitor.py, so neither needs the other's caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyxl.toolstack import monitor
from pyxl.toolstack.ctx import LEVELS, Ctx, LogFn


@contextmanager
def open_ctx(host: str | None = None, *, write: bool, caller: int = 0,
             privileged: bool = True, logger: LogFn | None = None,
             verbose: int = 0, tracer=None, commit: bool = True) -> Iterator[Ctx]:
    """One command's context. With commit=False the command may run the
    simulation (write=True) but nothing it did is kept, not even the
    realtime clock's catch-up: a dry run that is repeatable."""
    from pyxl.sim.host import open_host

    with open_host(host, write=write, commit=commit) as h:
        if tracer is not None:
            h.trace_hypercalls(tracer)
        ctx = Ctx(h, caller, logger, max(0, LEVELS["progress"] - verbose))
        monitor.start(h)
        if privileged:
            ctx.require_privileged()
        yield ctx
