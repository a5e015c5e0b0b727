"""C's number conversions, as xl, libxl and Xen apply them to what users type.

Python's integers never overflow; C's do, and xl's behaviour on huge input
follows from that: ``strtol`` saturates at LONG_MAX/LONG_MIN (errno ERANGE),
``strtoul`` at ULONG_MAX (and negates a leading ``-`` modulo 2^64), ``atoi``
is ``(int) strtol(s, NULL, 10)``, and storing a long in an ``int``,
``uint32_t`` or ``domid_t`` keeps the low bits. Every place pyxl turns an
argument or a config value into a number goes through these, so a value of
2^100 behaves as it does on a real host instead of reaching SQLite as a
bignum.
"""

from __future__ import annotations

import errno as _errno

INT_MIN = -(1 << 31)
INT_MAX = (1 << 31) - 1
UINT32_MAX = (1 << 32) - 1
LONG_MIN = -(1 << 63)
LONG_MAX = (1 << 63) - 1
ULONG_MAX = (1 << 64) - 1
ERANGE = _errno.ERANGE

_SPACE = " \t\n\v\f\r"
_HEX = "0123456789abcdefABCDEF"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _scan(text: str, base: int) -> tuple[int, int | None, int, int]:
    """Shared by strtol/strtoul: (sign, magnitude or None, end index, base used).

    The magnitude is None when no digit was found (C then sets endptr = text).
    """
    i, n = 0, len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    hex_prefix = text[i:i + 2] in ("0x", "0X") and i + 2 < n and text[i + 2] in _HEX
    if base == 0:
        base = 16 if hex_prefix else 8 if text[i:i + 1] == "0" else 10
    if base == 16 and hex_prefix:
        i += 2
    alphabet = _ALPHABET[:base]
    start = i
    while i < n and text[i].lower() in alphabet and text[i].isascii():
        i += 1
    if i == start:
        return sign, None, 0, base
    digits = text[start:i].lstrip("0") or "0"
    if len(digits) > 64:    # beyond 2^64 in any base; spares int() a huge string
        return sign, ULONG_MAX + 1, i, base
    return sign, int(digits, base), i, base


def strtol(text: str, base: int = 0) -> tuple[int | None, str, int]:
    """C strtol: (value, unparsed rest, errno); value None if there is no digit.

    Out of range saturates at LONG_MAX / LONG_MIN with errno ERANGE.
    """
    sign, mag, end, _ = _scan(text, base)
    if mag is None:
        return None, text, 0
    val = sign * mag
    if val > LONG_MAX:
        return LONG_MAX, text[end:], ERANGE
    if val < LONG_MIN:
        return LONG_MIN, text[end:], ERANGE
    return val, text[end:], 0


def strtoul(text: str, base: int = 0) -> tuple[int | None, str, int]:
    """C strtoul: like strtol, but a ``-`` negates modulo 2^64 and overflow
    saturates at ULONG_MAX (errno ERANGE)."""
    sign, mag, end, _ = _scan(text, base)
    if mag is None:
        return None, text, 0
    if mag > ULONG_MAX:
        return ULONG_MAX, text[end:], ERANGE
    return (mag if sign > 0 else (-mag) & ULONG_MAX), text[end:], 0


def strtol_value(text: str, base: int = 10) -> int:
    """``strtol(text, NULL, base)``: the value alone, 0 when there is no digit."""
    val, _, _ = strtol(text, base)
    return 0 if val is None else val


def strtoul_value(text: str, base: int = 10) -> int:
    """``strtoul(text, NULL, base)``: the value alone, 0 when there is no digit."""
    val, _, _ = strtoul(text, base)
    return 0 if val is None else val


def atoi(text: str) -> int:
    """glibc's atoi: ``(int) strtol(text, NULL, 10)``."""
    return c_int(strtol_value(text, 10))


def c_int(value: int) -> int:
    """A value stored in a C ``int``: the low 32 bits, two's complement."""
    value &= UINT32_MAX
    return value - (1 << 32) if value > INT_MAX else value


def c_uint32(value: int) -> int:
    """A value stored in a ``uint32_t`` (an ``unsigned int``)."""
    return value & UINT32_MAX


def c_long(value: int) -> int:
    """A value stored in a C ``long`` (64-bit): the low 64 bits, signed."""
    value &= ULONG_MAX
    return value - (1 << 64) if value > LONG_MAX else value


def c_uint64(value: int) -> int:
    """A value stored in a ``uint64_t`` (what libxl's MemKB fields are)."""
    return value & ULONG_MAX


def domid_from_digits(text: str) -> int:
    """libxl_domain_qualifier_to_domid for an all-digit qualifier:
    ``strtoul(name, NULL, 10)`` stored in a ``uint32_t``."""
    val, _, _ = strtoul(text, 10)
    return c_uint32(0 if val is None else val)
