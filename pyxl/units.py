"""Parsing the quantities users type: durations ("250ms", "2m", "1h30m").

One syntax for every duration pyxl reads (clock advance, sched-trace, the
workload specs): a sum of NUMBER UNIT parts, units ns, us, ms, s, m, h, d,
decimals allowed ("1.5s"); where a command allows it, a bare number is in
seconds.
"""

from __future__ import annotations

import re

from pyxl.cnum import LONG_MAX
from pyxl.errors import PyxlError

_UNITS_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_PART = re.compile(rf"({_NUMBER})(ns|us|ms|s|m|h|d)")
# Xen counts time in s_time_t, signed 64-bit nanoseconds: about 292 years.
MAX_DURATION_NS = LONG_MAX


class DurationError(PyxlError):
    """A duration pyxl refuses; ``too_long`` when it is past MAX_DURATION_NS."""

    def __init__(self, message: str, too_long: bool = False):
        super().__init__(message)
        self.too_long = too_long


def _amount_ns(number: str, unit_ns: int, text: str) -> int:
    """One "1.5" x unit, exactly (no float rounding), refusing absurd sizes."""
    whole, _, frac = number.partition(".")
    if len(whole.lstrip("0")) > 20:     # more digits than 2^63 ns has, whatever the unit
        raise _too_long(text)
    # digits past a day's 1e-14 cannot change a whole nanosecond (much)
    frac = frac[:30]
    scale = 10 ** len(frac)
    ns, rest = divmod(int(whole or "0") * unit_ns * scale + int(frac or "0") * unit_ns, scale)
    if 2 * rest > scale or (2 * rest == scale and ns % 2):   # half to even, as round() does
        ns += 1
    return ns


def _too_long(text: str) -> DurationError:
    return DurationError(f"invalid duration '{text}': at most {MAX_DURATION_NS} ns "
                         "(about 292 years, the range of Xen's s_time_t)", too_long=True)


def parse_duration_ns(text: str, *, bare_seconds: bool = True) -> int:
    """"10s", "250ms", "2m", "1h30m", "1.5s" in ns; a bare number means
    seconds, unless ``bare_seconds`` is false (then a unit is required)."""
    t = text.strip()
    if bare_seconds and re.fullmatch(_NUMBER, t):
        total = _amount_ns(t, _UNITS_NS["s"], text)
    else:
        pos, total = 0, 0
        for m in _PART.finditer(t):
            if m.start() != pos:
                break
            total += _amount_ns(m.group(1), _UNITS_NS[m.group(2)], text)
            pos = m.end()
        if pos != len(t) or not t:
            raise DurationError(f"invalid duration '{text}': use e.g. 10s, 250ms, 2m, 1h30m")
    if total > MAX_DURATION_NS:
        raise _too_long(text)
    return total


def format_duration_ns(ns: int) -> str:
    return f"{ns / 1e9:.9f}".rstrip("0").rstrip(".") + "s"
