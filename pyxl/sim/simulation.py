"""The simulation's clock and its queue of pending events, in SimPy's spirit.

One command's simulation has one owner of the current time, `Simulation.now_ns`:
the hypervisor reads it, XenStore stamps its changes with it, the guests act
at it, and only the host's run loop moves it (pyxl/sim/host.py). The queue
holds what is due and when, as (time, domid, seq): the guest `domid` has
something to do at that time (its boot completes, its drivers come up, a
watch event or another reaction falls due, its balloon driver ticks, it was
unpaused, a trigger arrived). Each event is scheduled when it becomes known,
so running forward pops events in time order instead of asking every guest
when its next one is. Events at the same time run in domid order, then in
the order they were scheduled.

A guest that waits for something no timer brings is not in the queue at all:
a balloon driver that found no memory is in `memory_waiters` until the
hypervisor reports memory freed (a domain destroyed, pages given back, a
max_pages raised), and then gets an event at its next retry tick. However
long the gap, a waiting guest costs nothing until then.

The schedulers' own decisions stay in their engines' event heaps
(pyxl/hv/sched/engine.py): the hypervisor runs them up to each time the
queue pops, and no guest needs to stop at a scheduling decision.

The queue is derived state: the guests' persisted state is the truth, and a
command rebuilds the queue from it (pyxl/sim/guest.py `timers`) before it
runs time forward, loading only the guests due by then (the wake index,
`domains.wake_ns`; a missing or damaged entry means the guest is looked
at). A duplicate or stale event costs one guest step that finds nothing to
do.
"""

from __future__ import annotations

import heapq


class Simulation:
    """Now, and the guest events still to come."""

    def __init__(self, now_ns: int):
        self.now_ns = now_ns
        self._queue: list[tuple[int, int, int]] = []
        self._seq = 0
        # Guests whose balloon sleeps until memory is freed (pyxl/sim/guest.py
        # `starved`); kept in the host's meta between commands.
        self.memory_waiters: set[int] = set()
        # Watch events matched for a guest and not yet read by it, with the
        # last change they cover: domid -> (events, head).
        self.watch_events: dict[int, tuple[list, int]] = {}

    def schedule(self, t_ns: int, domid: int) -> None:
        """Guest `domid` has something to do at `t_ns` (or now, if that is past)."""
        self._seq += 1
        heapq.heappush(self._queue, (max(t_ns, self.now_ns), domid, self._seq))

    def next_ns(self) -> int | None:
        """When the next event is due (None: nothing is pending)."""
        return self._queue[0][0] if self._queue else None

    def pop_due(self) -> list[int]:
        """The guests with an event due by now, each once, in queue order."""
        queue, now = self._queue, self.now_ns
        due: dict[int, None] = {}
        while queue and queue[0][0] <= now:
            due[heapq.heappop(queue)[1]] = None
        return list(due)
