"""The bytes of a saved domain: xl's save-file header, libxl's migration
stream v2 and, inside it, libxc's stream v3 (Xen's docs/specs/
libxl-migration-stream.pandoc and libxc-migration-stream.pandoc).

Only encoding and decoding live here; what goes into the records is
pyxl/toolstack/saverestore.py's business. Headers that the specs fix as
big-endian are; records are little-endian, as an x86 host writes them, each
padded to a multiple of 8 octets. A reader never trusts a length: a record
that claims more than the stream holds, or more than the format allows, is
a `StreamError` with the words libxl or libxc would log.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass

# --- xl's save-file header (tools/xl/xl.h) ---------------------------------

SAVEFILE_MAGIC = b"Xen saved domain, xl format\n \0 \r"
SAVEFILE_BYTEORDER_VALUE = 0x01020304
XL_MANDATORY_FLAG_JSON = 1 << 0
XL_MANDATORY_FLAG_STREAMV2 = 1 << 1
XL_MANDATORY_FLAG_ALL = XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2
HEADER_SIZE = 48  # magic, byteorder, mandatory, optional, optional_data_len

# --- libxl's stream ----------------------------------------------------------

LIBXL_IDENT = 0x4C6962786C466D74  # "LibxlFmt"
LIBXL_VERSION = 2
REC_END = 0
REC_LIBXC_CONTEXT = 1
REC_EMULATOR_XENSTORE_DATA = 2
REC_EMULATOR_CONTEXT = 3
REC_CHECKPOINT_END = 4
REC_CHECKPOINT_STATE = 5
LIBXL_REC_NAMES = {0: "End", 1: "Libxc context", 2: "Emulator xenstore data",
                   3: "Emulator context", 4: "Checkpoint end", 5: "Checkpoint state"}
# libxl's emulator ids are 1 (qemu-traditional) and 2 (qemu-xen); pyxl's own
# state of the simulated guest travels as an emulator's does, under an id
# the spec leaves free: "pyxl" in ASCII.
EMULATOR_PYXL = 0x7079786C
LIBXL_REC_MAX = 1 << 30

# --- libxc's stream ----------------------------------------------------------

XC_MARKER = 0xFFFFFFFFFFFFFFFF
XC_ID = 0x58454E46  # "XENF"
XC_VERSION = 3
DHDR_TYPE_X86_PV = 1
DHDR_TYPE_X86_HVM = 2
PAGE_SHIFT = 12
XC_END = 0x00
XC_PAGE_DATA = 0x01
XC_X86_PV_INFO = 0x02
XC_X86_PV_P2M_FRAMES = 0x03
XC_X86_PV_VCPU_BASIC = 0x04
XC_SHARED_INFO = 0x07
XC_X86_TSC_INFO = 0x08
XC_HVM_CONTEXT = 0x09
XC_HVM_PARAMS = 0x0A
XC_STATIC_DATA_END = 0x10
XC_REC_OPTIONAL = 0x80000000
XC_REC_NAMES = {0x00: "End", 0x01: "Page data", 0x02: "x86 PV info", 0x03: "x86 PV P2M frames",
                0x04: "x86 PV vcpu basic", 0x05: "x86 PV vcpu extended",
                0x06: "x86 PV vcpu xsave", 0x07: "Shared info", 0x08: "x86 TSC info",
                0x09: "HVM context", 0x0A: "HVM params", 0x0B: "Toolstack",
                0x0C: "x86 PV vcpu msrs", 0x0D: "Verify", 0x0E: "Checkpoint",
                0x0F: "Checkpoint dirty pfn list", 0x10: "Static data end",
                0x11: "x86 CPUID policy", 0x12: "x86 MSR policy"}
XC_REC_LENGTH_MAX = 1 << 22  # libxc's REC_LENGTH_MAX
MAX_BATCH_SIZE = 1024  # pfns per PAGE_DATA record, as libxc batches them
# XEN_DOMCTL_PFINFO_* types in bits 63-60 of a PAGE_DATA pfn entry.
PFINFO_NOTAB = 0x0
PFINFO_BROKEN = 0xD
PFINFO_XALLOC = 0xE
PFINFO_XTAB = 0xF
PFINFO_NO_DATA = (PFINFO_BROKEN, PFINFO_XALLOC, PFINFO_XTAB)
PFINFO_VALID = frozenset(range(0x0, 0x5)) | frozenset(range(0x9, 0x10))
PFN_MASK = (1 << 52) - 1


class StreamError(Exception):
    """The stream is not one pyxl can restore; `where` and the message are
    what libxl or libxc logs for it."""

    def __init__(self, where: str, message: str, context: str = "libxl"):
        super().__init__(message)
        self.where = where
        self.message = message
        self.context = context


# --- the save-file header ----------------------------------------------------


@dataclass(repr=False, eq=False)
class SaveHeader:
    mandatory_flags: int
    optional_flags: int
    optional_data: bytes

    @property
    def info(self) -> str:
        """xl's "0x%x/0x%x/%u" of the flags and the optional data's length."""
        return f"0x{self.mandatory_flags:x}/0x{self.optional_flags:x}/{len(self.optional_data)}"


def save_header(config_json: bytes | None) -> SaveHeader:
    """xl's save header for a domain: stream v2, and the JSON config (NUL
    included, after its uint32 length) as the optional data."""
    flags, data = XL_MANDATORY_FLAG_STREAMV2, b""
    if config_json is not None:
        body = config_json + b"\0"
        flags |= XL_MANDATORY_FLAG_JSON
        data = struct.pack("=I", len(body)) + body
    return SaveHeader(flags, 0, data)


def encode_save_header(h: SaveHeader) -> bytes:
    """The 48 octets in host byte order, then the optional data."""
    return SAVEFILE_MAGIC + struct.pack("=IIII", SAVEFILE_BYTEORDER_VALUE, h.mandatory_flags,
                                        h.optional_flags, len(h.optional_data)) + h.optional_data


def config_of(h: SaveHeader) -> bytes | None:
    """The config in the optional data (its NUL stripped), or None if there
    is none; StreamError for a length that points past the data."""
    if len(h.optional_data) < 4:
        return None
    (n,) = struct.unpack_from("=I", h.optional_data)
    body = h.optional_data[4:4 + n]
    if n == 0 or len(body) < n:
        raise StreamError("", "Savefile truncated.")
    return body[:-1] if body.endswith(b"\0") else body


# --- reading -------------------------------------------------------------------


CHUNK = 1 << 20


def read_upto(f, n: int) -> bytes:
    """Up to `n` octets of `f`, fewer only at its end, read a MiB at a time:
    a length a file claims is never allocated before the octets are there.
    A read that fails (a closed or unreadable descriptor) ends the stream
    there: the caller finds it short."""
    data = bytearray()
    while len(data) < n:
        try:
            chunk = f.read(min(n - len(data), CHUNK))
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


class Reader:
    """Exact reads from a binary file or pipe; a short read is a StreamError."""

    def __init__(self, f, what: str = "stream"):
        self.f = f
        self.what = what
        self.offset = 0

    def read(self, n: int, where: str = "libxl_stream_read.c:341:stream_header_done",
             context: str = "libxl") -> bytes:
        data = read_upto(self.f, n)
        if len(data) < n:
            raise StreamError(where, f"truncated {self.what}: wanted {n} bytes at offset "
                              f"{self.offset}, got {len(data)}", context)
        self.offset += n
        return data


def _padded(n: int) -> int:
    return (n + 7) & ~7


def record(rtype: int, body: bytes) -> bytes:
    """One record: type and length (little-endian), body, zeros to 8 octets."""
    return struct.pack("<II", rtype, len(body)) + body + b"\0" * (_padded(len(body)) - len(body))


def libxl_header() -> bytes:
    return struct.pack(">QII", LIBXL_IDENT, LIBXL_VERSION, 0)


def read_libxl_header(r: Reader) -> None:
    where = "libxl_stream_read.c:341:stream_header_done"
    ident, version, options = struct.unpack(">QII", r.read(16, where))
    if ident != LIBXL_IDENT:
        raise StreamError(where, f"Invalid ident: expected 0x{LIBXL_IDENT:016x}, "
                          f"got 0x{ident:016x}")
    if version != LIBXL_VERSION:
        raise StreamError("libxl_stream_read.c:347:stream_header_done",
                          f"Unexpected Version: expected {LIBXL_VERSION}, got {version}")
    if options & 1:
        raise StreamError("libxl_stream_read.c:353:stream_header_done",
                          "Unable to handle big endian streams")


def read_record(r: Reader, *, limit: int, where: str, context: str,
                names: dict[int, str]) -> tuple[int, bytes]:
    try:
        rtype, length = struct.unpack("<II", r.read(8, where, context))
    except StreamError:
        raise StreamError(where, f"Failed to read Record Header from stream at offset "
                          f"{r.offset}: end of stream", context) from None
    name = names.get(rtype, "unknown")
    if length > limit:
        raise StreamError(where, f"Record (0x{rtype:08x}, {name}) "
                          f"length 0x{length:x} exceeds max (0x{limit:x})", context)
    try:
        body = r.read(_padded(length), where, context)[:length]
    except StreamError:
        raise StreamError(where, f"Failed to read {_padded(length)} bytes of data for record "
                          f"(0x{rtype:08x}, {name}): end of stream", context) from None
    return rtype, body


def read_libxl_record(r: Reader) -> tuple[int, bytes]:
    return read_record(r, limit=LIBXL_REC_MAX, context="libxl",
                       where="libxl_stream_read.c:439:record_header_done",
                       names=LIBXL_REC_NAMES)


def read_xc_record(r: Reader) -> tuple[int, bytes]:
    return read_record(r, limit=XC_REC_LENGTH_MAX, context="xc",
                       where="xg_sr_common.c:108:read_record_header", names=XC_REC_NAMES)


# --- libxc's headers and records -------------------------------------------------


def xc_headers(hvm: bool, xen_major: int, xen_minor: int) -> bytes:
    """The image header (big-endian) and the domain header (little-endian)."""
    image = struct.pack(">QIIHHI", XC_MARKER, XC_ID, XC_VERSION, 0, 0, 0)
    dtype = DHDR_TYPE_X86_HVM if hvm else DHDR_TYPE_X86_PV
    domain = struct.pack("<IHHII", dtype, PAGE_SHIFT, 0, xen_major, xen_minor)
    return image + domain


def read_xc_headers(r: Reader) -> tuple[int, int, int]:
    """(domain type, xen major, minor); StreamError as xg_sr_restore.c's checks."""
    def bad(line: int, func: str, msg: str):
        return StreamError(f"xg_sr_restore.c:{line}:{func}", msg, "xc")

    marker, ident, version, options, _, _ = struct.unpack(
        ">QIIHHI", r.read(24, "xg_sr_restore.c:18:read_headers", "xc"))
    if marker != XC_MARKER:
        raise bad(28, "read_headers", f"Invalid marker: Got 0x{marker:016x}")
    if ident != XC_ID:
        raise bad(34, "read_headers", f"Invalid ID: Expected 0x{XC_ID:08x}, Got 0x{ident:08x}")
    if not 2 <= version <= 3:
        raise bad(40, "read_headers", f"Invalid Version: Expected 2 <= ver <= 3, Got {version}")
    if options & 1:
        raise bad(47, "read_headers", "Unable to handle big endian streams")
    dtype, shift, _, major, minor = struct.unpack(
        "<IHHII", r.read(16, "xg_sr_restore.c:55:read_headers", "xc"))
    if dtype not in (DHDR_TYPE_X86_PV, DHDR_TYPE_X86_HVM) or shift != PAGE_SHIFT:
        raise bad(903, "xc_domain_restore", f"Unsupported domain type {dtype} or page shift "
                  f"{shift}")
    return dtype, major, minor


def page_data_records(runs, contents: dict[int, bytes]) -> list[bytes]:
    """PAGE_DATA records for the pfns of `runs` ([pfn, count], ascending), in
    batches of MAX_BATCH_SIZE: a page whose contents the simulation keeps
    (`contents`, by pfn) as NOTAB with its 4096 octets, every other one as
    XALLOC, allocated with no data, so a big guest costs 8 octets a page."""
    from array import array

    pfns = array("Q")
    for pfn, count in runs:
        pfns.extend(range(pfn, pfn + count))  # small ints: 4x faster than with the type
    if sys.byteorder != "little":
        pfns.byteswap()
    entries = bytearray(pfns.tobytes())
    entries[7::8] = bytes([PFINFO_XALLOC << 4]) * len(pfns)  # the type, in bits 60-63
    out = []
    for i in range(0, len(pfns), MAX_BATCH_SIZE):
        batch = pfns[i:i + MAX_BATCH_SIZE]
        body = bytearray(struct.pack("<II", len(batch), 0))
        body += entries[i * 8:(i + len(batch)) * 8]
        lo, hi = batch[0], batch[-1]  # runs ascend
        if any(lo <= pfn <= hi for pfn in contents):
            for j, pfn in enumerate(batch):
                page = contents.get(pfn)
                if page is not None:
                    body[8 + j * 8 + 7] = 0  # NOTAB, with its data after the pfns
                    body += page
        out.append(record(XC_PAGE_DATA, bytes(body)))
    return out


def parse_page_data(body: bytes, max_pfn: int) -> tuple[int, dict[int, bytes]]:
    """How many pfns a PAGE_DATA record names and the pages it carries (by
    pfn); StreamError as libxc's handle_page_data refuses a bad one."""
    from array import array

    def bad(line: int, msg: str):
        return StreamError(f"xg_sr_restore.c:{line}:handle_page_data", msg, "xc")

    if len(body) < 8:
        raise bad(398, f"PAGE_DATA record truncated: length {len(body)}, min 8")
    count, _ = struct.unpack_from("<II", body)
    if count == 0:
        raise bad(405, "Expected at least 1 pfn in PAGE_DATA record")
    if len(body) < 8 + count * 8:
        raise bad(411, f"PAGE_DATA record (length {len(body)}) too short to contain "
                  f"{count} pfns worth of information")
    if body[15:8 + count * 8:8].count(PFINFO_XALLOC << 4) == count:
        # all XALLOC, reserved bits clear: no data, every pfn below 2^52
        if len(body) != 8 + count * 8:
            raise bad(455, f"PAGE_DATA record wrong size: length {len(body)}, expected "
                      f"{8 + count * 8}")
        return count, {}
    entries = array("Q")
    entries.frombytes(body[8:8 + count * 8])
    pfns, with_data = [], []
    for i, entry in enumerate(entries):
        pfn, ptype = entry & PFN_MASK, entry >> 60
        if pfn > max_pfn:
            raise bad(430, f"pfn 0x{pfn:x} (index {i}) outside domain maximum")
        if ptype not in PFINFO_VALID:
            raise bad(437, f"Unknown type 0x{ptype << 28:x} for pfn 0x{pfn:x} (index {i})")
        pfns.append(pfn)
        if ptype not in PFINFO_NO_DATA:
            with_data.append(pfn)
    expected = 8 + count * 8 + len(with_data) * 4096
    if len(body) != expected:
        raise bad(455, f"PAGE_DATA record wrong size: length {len(body)}, expected {expected}")
    base = 8 + count * 8
    pages = {pfn: body[base + k * 4096:base + (k + 1) * 4096] for k, pfn in enumerate(with_data)}
    return len(pfns), pages


def xenstore_data(pairs: list[tuple[str, bytes]]) -> bytes:
    """EMULATOR_XENSTORE_DATA's body after its sub-header: key NUL value NUL ..."""
    return b"".join(k.encode("latin-1") + b"\0" + v + b"\0" for k, v in pairs)


def parse_xenstore_data(data: bytes) -> list[tuple[str, bytes]]:
    parts = data.split(b"\0")
    where = "libxl_dom_save.c:403:libxl__restore_emulator_xenstore_data"
    if parts and parts[-1] == b"":
        parts.pop()
    elif parts:
        raise StreamError(where, "Val in xenstore data not NUL terminated")
    if len(parts) % 2:
        raise StreamError(where, "Val in xenstore data not NUL terminated")
    if any(not parts[i] or parts[i].startswith(b"/") for i in range(0, len(parts), 2)):
        raise StreamError(where, "Key in xenstore data not relative")
    return [(parts[i].decode("latin-1"), parts[i + 1]) for i in range(0, len(parts), 2)]
