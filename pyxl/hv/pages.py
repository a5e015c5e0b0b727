"""shared_info and start_info as the 4096-byte pages a guest maps.

The layouts are the x86_64 ones of Xen's public headers (xen.h,
arch-x86/xen.h, arch-x86/xen-x86_64.h): each field's C name, where it sits
and its width. A page is a nested dict of C field names (as the structs
nest, arrays as lists) packed at those offsets with `struct`; nothing is
stored, the toolstack computes the values when asked. Also here: the time
scale Xen gives a guest for a TSC frequency and the sum a guest kernel does
with it.
"""

from __future__ import annotations

import struct
from functools import cache

PAGE_SIZE = 4096
XEN_LEGACY_MAX_VCPUS = 32
EVTCHN_WORDS = 64  # sizeof(xen_ulong_t) * 8
MAX_GUEST_CMDLINE = 1024
XEN_PVCLOCK_TSC_STABLE_BIT = 1 << 0

_VCPU_TIME_INFO = (("version", "I", 0), ("pad0", "I", 4), ("tsc_timestamp", "Q", 8),
                   ("system_time", "Q", 16), ("tsc_to_system_mul", "I", 24),
                   ("tsc_shift", "b", 28), ("flags", "B", 29))
_VCPU_INFO = (("evtchn_upcall_pending", "B", 0), ("evtchn_upcall_mask", "B", 1),
              ("evtchn_pending_sel", "Q", 8), ("arch.cr2", "Q", 16), ("arch.pad", "Q", 24))
_SHARED_TAIL = (("wc_version", "I", 3072), ("wc_sec", "I", 3076), ("wc_nsec", "I", 3080),
                ("wc_sec_hi", "I", 3084), ("arch.max_pfn", "Q", 3088),
                ("arch.pfn_to_mfn_frame_list_list", "Q", 3096), ("arch.nmi_reason", "Q", 3104),
                ("arch.p2m_cr3", "Q", 3112), ("arch.p2m_vaddr", "Q", 3120),
                ("arch.p2m_generation", "Q", 3128))
_START_INFO = (("magic", "32s", 0), ("nr_pages", "Q", 32), ("shared_info", "Q", 40),
               ("flags", "I", 48), ("store_mfn", "Q", 56), ("store_evtchn", "I", 64),
               ("console.domU.mfn", "Q", 72), ("console.domU.evtchn", "I", 80),
               ("pt_base", "Q", 88), ("nr_pt_frames", "Q", 96), ("mfn_list", "Q", 104),
               ("mod_start", "Q", 112), ("mod_len", "Q", 120), ("cmd_line", "1024s", 128),
               ("first_p2m_pfn", "Q", 1152), ("nr_p2m_frames", "Q", 1160))


@cache
def shared_info_fields() -> tuple[tuple[str, str, int], ...]:
    """Every field of struct shared_info: (C path, struct format, offset)."""
    fields = []
    for i in range(XEN_LEGACY_MAX_VCPUS):
        base = 64 * i
        fields += [(f"vcpu_info[{i}].{n}", f, base + o) for n, f, o in _VCPU_INFO]
        fields += [(f"vcpu_info[{i}].time.{n}", f, base + 32 + o) for n, f, o in _VCPU_TIME_INFO]
    fields += [(f"evtchn_pending[{i}]", "Q", 2048 + 8 * i) for i in range(EVTCHN_WORDS)]
    fields += [(f"evtchn_mask[{i}]", "Q", 2560 + 8 * i) for i in range(EVTCHN_WORDS)]
    return tuple(fields) + _SHARED_TAIL


def start_info_fields() -> tuple[tuple[str, str, int], ...]:
    """Every field of struct start_info (x86_64): (C path, format, offset)."""
    return _START_INFO


def lookup(tree: dict, path: str):
    """A value of a nested dict by its C path ("vcpu_info[0].time.version")."""
    node = tree
    for part in path.split("."):
        name, _, index = part.partition("[")
        node = node[name]
        if index:
            node = node[int(index[:-1])]
    return node


def pack(tree: dict, fields) -> bytes:
    """The page: each field packed little-endian at its offset, the rest zero."""
    page = bytearray(PAGE_SIZE)
    for path, fmt, off in fields:
        value = lookup(tree, path)
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape")[:struct.calcsize(fmt) - 1]
        struct.pack_into("<" + fmt, page, off, value)
    return bytes(page)


# --- time -------------------------------------------------------------------

def time_scale(cpu_khz: int) -> tuple[int, int]:
    """(tsc_to_system_mul, tsc_shift) for a TSC of cpu_khz, as set_time_scale
    computes them: the frequency brought into (1 GHz, 2 GHz] by shifting,
    then 10^9 / f as a 32-bit binary fraction."""
    tps, shift = cpu_khz * 1000, 0
    while tps > 2_000_000_000:
        tps >>= 1
        shift -= 1
    while tps <= 1_000_000_000:
        tps <<= 1
        shift += 1
    return (1_000_000_000 << 32) // tps, shift


def scale_delta(delta: int, mul: int, shift: int) -> int:
    """What a guest kernel does with a TSC delta: shift it, multiply by mul,
    keep the high 32 bits (in 64-bit arithmetic, as the guest's)."""
    delta = delta << shift if shift >= 0 else delta >> -shift
    return (delta * mul) >> 32


def tsc_at(t_ns: int, cpu_khz: int) -> int:
    """The host's TSC at simulated time t_ns (it counts from host boot)."""
    return t_ns * cpu_khz // 1_000_000


def tsc_reading(t_ns: int, stamp_tsc: int, stamp_ns: int, cpu_khz: int) -> int:
    """The first TSC value at which a guest's sum from (stamp_tsc, stamp_ns)
    reaches t_ns: the TSC of a reading taken at t_ns."""
    mul, shift = time_scale(cpu_khz)
    tsc = max(tsc_at(t_ns, cpu_khz), stamp_tsc)
    while stamp_ns + scale_delta(tsc - stamp_tsc, mul, shift) < t_ns:
        tsc += 1
    while tsc > stamp_tsc and stamp_ns + scale_delta(tsc - 1 - stamp_tsc, mul, shift) >= t_ns:
        tsc -= 1
    return tsc


def guest_system_time(time: dict, tsc: int) -> int:
    """A guest's system time from its vcpu_time_info at TSC `tsc`."""
    return time["system_time"] + scale_delta(tsc - time["tsc_timestamp"],
                                             time["tsc_to_system_mul"], time["tsc_shift"])


def guest_wallclock_ns(info: dict, system_time: int) -> int:
    """The guest's wall time in ns since the Unix epoch: shared_info's
    wallclock (the wall time at system time 0) plus its system time."""
    sec = info["wc_sec_hi"] << 32 | info["wc_sec"]
    return sec * 1_000_000_000 + info["wc_nsec"] + system_time
