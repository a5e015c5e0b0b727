"""The host's simulated clock, as one command sees it and moves it."""

from __future__ import annotations

from pyxl.errors import PyxlError
from pyxl.toolstack.ctx import Ctx


class ClockInfo:
    """The host's clock, as `clock` shows it."""

    def __init__(self, mode: str, now_ns: int, wall: float):
        self.mode = mode      # "realtime" (tied to the wall clock) or "manual"
        self.now_ns = now_ns  # simulated time since the host booted
        self.wall = wall      # the host's calendar time now


def clock(ctx: Ctx) -> ClockInfo:
    h = ctx.host
    return ClockInfo(h.clock, h.now_ns, h.wall_time())


def advance_clock(ctx: Ctx, delta_ns: int) -> ClockInfo:
    """Move simulated time forward; everything that happens meanwhile happens,
    xl's monitors acting on it too (a crash with on_crash=restart, say)."""
    if delta_ns < 0:
        raise PyxlError("the clock only moves forward")
    h = ctx.host
    h.advance_to(h.now_ns + delta_ns)
    return clock(ctx)
