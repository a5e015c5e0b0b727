"""Parsing the quantities users type: durations ("250ms", "2m", "1h30m")."""

from __future__ import annotations

import re

from pyxl.errors import PyxlError

_UNITS_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d)")


def parse_duration_ns(text: str) -> int:
    """"10s", "250ms", "2m", "1h30m", "1.5s"; a bare number means seconds."""
    t = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        return int(round(float(t) * _UNITS_NS["s"]))
    pos, total = 0, 0
    for m in _PART.finditer(t):
        if m.start() != pos:
            break
        total += int(round(float(m.group(1)) * _UNITS_NS[m.group(2)]))
        pos = m.end()
    if pos != len(t) or not t:
        raise PyxlError(f"invalid duration '{text}': use e.g. 10s, 250ms, 2m, 1h30m")
    return total


def format_duration_ns(ns: int) -> str:
    return f"{ns / 1e9:.9f}".rstrip("0").rstrip(".") + "s"
