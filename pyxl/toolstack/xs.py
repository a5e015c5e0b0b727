"""libxenstore for the xenstore-* clients: requests, transactions and watches.

Requests go over the caller's connection for the command unless a handle
from `xs_open` is given. Such a handle is a connection of its own that
outlives one command's transaction (xenstore-watch polls in many), tied to
the running process as a socket would be, so that xenstored drops its
watches when the process is gone even if it never says goodbye.
The errors and permission values the clients handle are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyxl.toolstack.ctx import Ctx
from pyxl.xenstore.errors import XenStoreError
from pyxl.xenstore.perms import Perm, format_perms

__all__ = ["XenStoreError", "Perm", "format_perms", "XsHandle", "xs_open", "xs_close"]


@dataclass(frozen=True)
class XsHandle:
    """struct xs_handle: a connection of this process's own."""

    conn_id: str
    pid: int
    start: int | None  # the process's start time, so a reused pid is not taken for it
    opened_seq: int    # the change log's newest entry when it opened


def xs_open(ctx: Ctx, client: str) -> XsHandle:
    """A new connection for `client` (its name prefixes the connection's id),
    bound to this process."""
    import time

    from pyxl.sim.processes import this_process

    pid, start = this_process()
    conn_id = f"{client}:{pid}:{time.monotonic_ns()}"
    xs = ctx.xs(conn_id)
    xs.bind_process(pid, start)
    return XsHandle(conn_id, pid, start, xs.last_seq())


def xs_close(ctx: Ctx, handle: XsHandle) -> None:
    """The client hangs up: its watches, transactions and binding go."""
    ctx.xs(handle.conn_id).disconnect()

