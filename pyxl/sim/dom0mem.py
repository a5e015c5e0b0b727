"""Xen's `dom0_mem=` boot parameter: how much memory Domain-0 gets, and its limit.

The syntax is Xen's (xen/arch/x86/dom0_build.c, parse_dom0_mem):
``[min:AMT,][max:AMT,][AMT]``, each AMT a size (``1024M``, ``1G``; a bare number
is KiB, as Xen's parse_size_and_unit reads it), a percentage of the host's
memory (``10%``), or both (``1G+10%``), optionally negative (``-512M``: all but
that much). The amount is clamped by min and max and by what the host has;
without an amount Domain-0 gets all memory but 1/16th (at most 128 MiB
kept back). Without ``max:`` Domain-0's limit is Xen's largest (max_pages is
an unsigned int), which xentop shows as "no limit".

A simplification: the memory Xen itself uses at boot is not modelled, so
"what the host has" is all of it.
"""

from __future__ import annotations

PAGE_KB = 4
UINT_MAX_PAGES = (1 << 32) - 1


class Dom0MemError(ValueError):
    """Not something Xen's parse_dom0_mem accepts."""


def _size_and_unit(text: str, i: int) -> tuple[int, int]:
    """parse_size_and_unit: (bytes, or the bare number before a '%'; next index)."""
    j = i
    if text.startswith(("0x", "0X"), i):
        j = i + 2
        while j < len(text) and text[j] in "0123456789abcdefABCDEF":
            j += 1
        digits, base = text[i + 2:j], 16
    elif text.startswith("0", i):
        while j < len(text) and text[j] in "01234567":
            j += 1
        digits, base = text[i:j], 8
    else:
        while j < len(text) and text[j].isdigit() and text[j].isascii():
            j += 1
        digits, base = text[i:j], 10
    value = int(digits, base) if digits else 0
    unit = text[j:j + 1]
    shifts = {"t": 40, "g": 30, "m": 20, "k": 10, "b": 0}
    if unit.lower() in shifts and unit:
        return value << shifts[unit.lower()], j + 1
    if unit == "%":
        return value, j
    return value << 10, j   # no unit: KiB


def _amount(text: str, i: int) -> tuple[tuple[int, int, bool], int]:
    """parse_amt: ((pages, percent, minus), index after it)."""
    pages, percent, minus = 0, 0, text.startswith("-", i)
    i += minus
    items = 0
    while True:
        if i >= len(text) or not (text[i].isdigit() and text[i].isascii()):
            raise Dom0MemError(text)
        value, i = _size_and_unit(text, i)
        if text.startswith("%", i):
            if value >= 100:
                raise Dom0MemError(text)
            percent = value
            i += 1
            items += 1
        else:
            if items:
                raise Dom0MemError(text)
            pages = value >> 12
        items += 1
        if not (text.startswith("+", i) and items < 2):
            break
        i += 1
    if i < len(text) and text[i] != ",":
        raise Dom0MemError(text)
    return (pages, percent, minus), i


def parse(text: str) -> dict[str, tuple[int, int, bool] | None]:
    """parse_dom0_mem: {"size", "min", "max"}, each (pages, percent, minus) or None."""
    out: dict[str, tuple[int, int, bool] | None] = {"size": None, "min": None, "max": None}
    i = 0
    while True:
        key = "size"
        for prefix in ("min:", "max:"):
            if text.startswith(prefix, i):
                key, i = prefix[:3], i + 4
                break
        out[key], i = _amount(text, i)
        if i >= len(text):
            return out
        i += 1   # the ','
        if i >= len(text):
            raise Dom0MemError(text)


def _memsize(amount: tuple[int, int, bool] | None, avail: int, unset: int) -> int:
    """get_memsize, in pages."""
    if amount is None:
        return unset
    pages, percent, minus = amount
    n = pages + percent * avail // 100
    return avail - n if minus else n


def dom0_pages(text: str, total_kb: int) -> tuple[int, int]:
    """dom0_compute_nr_pages: (Domain-0's pages, its max_pages) on a host of total_kb."""
    spec = parse(text)
    avail = total_kb // PAGE_KB
    nr = _memsize(spec["size"], avail, 0) or avail - min(avail // 16, (128 << 10) // PAGE_KB)
    min_pages = _memsize(spec["min"], avail, 0)
    max_pages = _memsize(spec["max"], avail, (1 << 63) - 1)
    nr = min(max(nr, min_pages), max_pages, avail)
    return nr, min(max_pages, UINT_MAX_PAGES)
