"""Parsing the quantities users type: durations ("250ms", "2m", "1h30m")."""

from __future__ import annotations

import re
from fractions import Fraction

from pyxl.cnum import LONG_MAX
from pyxl.errors import PyxlError

_UNITS_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d)")
# Xen counts time in s_time_t, signed 64-bit nanoseconds: about 292 years.
MAX_DURATION_NS = LONG_MAX


def _amount_ns(number: str, unit_ns: int, text: str) -> int:
    """One "1.5" x unit, exactly (no float rounding), refusing absurd sizes."""
    whole, _, frac = number.partition(".")
    if len(whole.lstrip("0")) > 20:     # more digits than 2^63 ns has, whatever the unit
        raise _too_long(text)
    # digits past a day's 1e-14 cannot change a whole nanosecond (much)
    return round(Fraction(f"{whole}.{frac[:30] or 0}") * unit_ns)


def _too_long(text: str) -> PyxlError:
    return PyxlError(f"invalid duration '{text}': at most {MAX_DURATION_NS} ns "
                     "(about 292 years, the range of Xen's s_time_t)")


def parse_duration_ns(text: str) -> int:
    """"10s", "250ms", "2m", "1h30m", "1.5s"; a bare number means seconds."""
    t = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        total = _amount_ns(t, _UNITS_NS["s"], text)
    else:
        pos, total = 0, 0
        for m in _PART.finditer(t):
            if m.start() != pos:
                break
            total += _amount_ns(m.group(1), _UNITS_NS[m.group(2)], text)
            pos = m.end()
        if pos != len(t) or not t:
            raise PyxlError(f"invalid duration '{text}': use e.g. 10s, 250ms, 2m, 1h30m")
    if total > MAX_DURATION_NS:
        raise _too_long(text)
    return total


def format_duration_ns(ns: int) -> str:
    return f"{ns / 1e9:.9f}".rstrip("0").rstrip(".") + "s"
