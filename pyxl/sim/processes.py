"""Processes on the machine pyxl runs on: the simulation's one look outside.

A XenStore client such as ``xenstore-watch`` is a real process, and its
connection must die with it, as xenstored's socket does. Whether it still
runs is asked of the OS here and handed to the store, which stays pure.
"""

from __future__ import annotations

import os
import sys

_PROC = "/proc"
_STARTTIME_FIELD = 22        # proc(5): starttime, in clock ticks since boot
_GONE_STATES = ("Z", "X")    # a zombie has closed its sockets already


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 on (after the parenthesised comm), or None."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    _, paren, rest = text.rpartition(")")
    return rest.split() if paren else None


def _has_proc() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir(f"{_PROC}/self")


def start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid``; None where the platform does not say."""
    if not _has_proc():
        return None
    fields = _stat_fields(pid)
    try:
        return int(fields[_STARTTIME_FIELD - 3]) if fields else None
    except (IndexError, ValueError):
        return None


def this_process() -> tuple[int, int | None]:
    """(pid, start time) of the running process, to bind a connection to."""
    pid = os.getpid()
    return pid, start_time(pid)


def alive(pid: int, start: int | None) -> bool:
    """Is the process that opened a connection still running?

    With /proc: the pid exists, is no zombie and started when recorded.
    Elsewhere on POSIX: the pid exists.  Where neither can be asked, a
    connection is never taken for dead.
    """
    if pid <= 0:
        return False
    if _has_proc():
        fields = _stat_fields(pid)
        if not fields or fields[0] in _GONE_STATES:
            return False
        return start is None or start_time(pid) == start
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True      # exists, owned by someone else
    return True
