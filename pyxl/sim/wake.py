"""The two values of the guests' wake index that stand for "no time".

The host's wake index (domains.wake_ns) keeps, per guest, a moment before
which it surely does nothing on its own, so that a command loads only the
guests due by its target time (pyxl/sim/guest.py `wake_ns`, pyxl/sim/peek.py
`due_guests`). Both sit at the top of s_time_t, where no clock stops.
"""

from pyxl.cnum import LONG_MAX

WAKE_NEVER = LONG_MAX         # nothing planned: only an outside event wakes it
WAKE_STARVED = LONG_MAX - 1   # its balloon sleeps until memory is freed
