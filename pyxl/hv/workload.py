"""What a simulated guest runs on each vCPU: the demand model the schedulers serve.

A guest is not an operating system here, only a source of CPU demand. Each vCPU
has a spec string (the xl.cfg extension key ``workload`` or ``pyxl workload``):

``idle``
    The default. A quiet guest: its timer fires every second and it does 2 ms
    of work, then blocks again (a tickless kernel with little to do). The phase
    of that timer within the second is drawn
    from (seed, domid, vcpuid), so idle vCPUs do not all wake at the same instant.
``busy``
    CPU-bound: always runnable, never blocks.
``periodic:RUN/PERIOD``
    A job released every PERIOD that needs RUN of CPU time (units ``us``, ``ms``,
    ``s``; e.g. ``periodic:5ms/20ms``). Releases start at the moment the workload
    is set. **Rule for unfinished work: it is dropped.** A job that has not
    received its RUN by the next release is abandoned (counted in
    ``wl_state["missed"]``) and the new job starts fresh, the way a video decoder
    skips a late frame or a control loop uses the newest sample. Carrying the
    backlog over would make a starved guest's demand grow without bound and
    turn it into a ``busy`` guest for as long again after the starvation ends,
    which no real periodic task does.
``bursty``
    Alternates bursts of work (2..40 ms of CPU) with sleeps (5..100 ms of wall
    time). Lengths come from a counter-based PRNG keyed by (seed, domid, vcpuid,
    draw number), so a run is reproducible and independent of other vCPUs.

Two more parts describe what the guest does with its devices rather than
its vCPUs; each is one entry of the list, its fields separated by spaces,
and each may be given once, anywhere in the list:

``net:tx=RATEpps [size=BYTES] [to=DOMAIN|bridge]``
    The guest sends RATE packets a second of BYTES (default 1500, at most
    65535) on its first vif, to the first vif of DOMAIN (a name or domid) on
    the same bridge, or to dom0's bridge itself (``to=bridge``, the default).
``io:[read=RATEiops] [write=RATEiops] [size=BYTES]``
    The guest issues RATE read and/or write requests a second of BYTES
    (default 4k; a multiple of 512, at most 1M; a ``k`` or ``M`` suffix is
    allowed) on its first vbd.

``mem:dirty=RATE [wss=SIZE]``
    How fast the guest writes its memory: RATE bytes a second (``50MB/s``;
    ``k``, ``M``, ``G`` with an optional ``B`` are binary, as xl.cfg's sizes)
    into a writable working set of SIZE bytes (default 256MB). A live
    migration's pre-copy rounds resend what the guest dirtied
    (docs/migration.md); a guest without this part dirties 1MB/s in 4MB.

They are simulated by pyxl/sim/traffic.py (``mem:`` by a live migration,
pyxl/toolstack/precopy.py). The normalised workload is the per-vCPU list
followed by these parts (``net:``, ``io:``, then ``mem:``); a spec made
only of them runs ``idle`` on every vCPU.

A list gives one spec per vCPU. **A list shorter than the vCPU count repeats its
last entry** for the remaining vCPUs (so ``["busy", "idle"]`` on 4 vCPUs is
busy, idle, idle, idle); entries beyond the vCPU count are ignored, as xl does
for the per-vCPU ``cpus`` list. A string with commas is read as such a list.

Work is consumed only while the vCPU runs. All times are simulated ns. The
persisted ``wl_state`` stores times relative to the moment it was saved (see
pyxl/hv/sched/engine.py), so a saved state can be resumed at any later time.
"""

from __future__ import annotations

from pyxl.errors import PyxlError

NS_PER_US = 1_000
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000

IDLE_WORK_NS = 2 * NS_PER_MS
IDLE_PERIOD_NS = 1000 * NS_PER_MS
BURST_MIN_NS, BURST_MAX_NS = 2 * NS_PER_MS, 40 * NS_PER_MS
SLEEP_MIN_NS, SLEEP_MAX_NS = 5 * NS_PER_MS, 100 * NS_PER_MS


_UNITS = (("us", NS_PER_US), ("ms", NS_PER_MS), ("s", NS_PER_S))
_MASK64 = (1 << 64) - 1


def _bad(spec: str, why: str) -> PyxlError:
    return PyxlError(f"Invalid workload '{spec}': {why}")


def parse_duration(text: str, spec: str) -> int:
    """'5ms' -> 5000000 ns, in pyxl's one duration syntax (pyxl/units.py) with
    a unit required; whole microseconds, at most 2^63-1 ns (Xen's s_time_t)."""
    from pyxl.units import DurationError, parse_duration_ns

    try:
        ns = parse_duration_ns(text, bare_seconds=False)
    except DurationError as e:
        if e.too_long:
            raise _bad(spec, f"'{text}' is longer than 2^63-1 ns (about 292 years)") from None
        raise _bad(spec, f"'{text}' is not a duration like 500us, 5ms or 1s") from None
    if ns % NS_PER_US:
        raise _bad(spec, f"'{text}' is not a whole number of microseconds")
    return ns


def format_duration(ns: int) -> str:
    """The largest unit that divides exactly: 5000000 -> '5ms'."""
    for suffix, mult in reversed(_UNITS):
        if ns % mult == 0:
            return f"{ns // mult}{suffix}"
    return f"{ns // NS_PER_US}us"


def parse_one(spec: str) -> str:
    """Validate and normalise one vCPU's spec."""
    if not isinstance(spec, str):
        raise PyxlError(f"Invalid workload '{spec}': expected a string")
    s = spec.strip().lower()
    if s in ("idle", "busy", "bursty"):
        return s
    if s.startswith("periodic:"):
        body = s[len("periodic:"):]
        if body.count("/") != 1:
            raise _bad(spec, "expected periodic:RUN/PERIOD, e.g. periodic:5ms/20ms")
        run_s, period_s = body.split("/")
        run, period = parse_duration(run_s, spec), parse_duration(period_s, spec)
        if run <= 0 or period <= 0:
            raise _bad(spec, "run time and period must be positive")
        if run > period:
            raise _bad(spec, "run time must not exceed the period")
        return f"periodic:{format_duration(run)}/{format_duration(period)}"
    raise _bad(spec, "expected idle, busy, bursty or periodic:RUN/PERIOD "
               "(e.g. periodic:5ms/20ms)")


def parse_workload(spec: str | list[str], nr_vcpus: int) -> list[str]:
    """Normalised per-vCPU specs for a domain with `nr_vcpus` vCPUs, then its
    guest-level parts (net:, io:) if it has any.

    A shorter list repeats its last entry; a longer one is cut to `nr_vcpus`.
    """
    if isinstance(spec, str):
        items = [p for p in spec.split(",")] if "," in spec else [spec]
    elif isinstance(spec, (list, tuple)):
        items = list(spec)
    else:
        raise PyxlError(f"Invalid workload '{spec}': expected a string or a list")
    if not items:
        raise PyxlError("Invalid workload '[]': the list is empty")
    parts: dict[str, str] = {}
    specs = []
    for x in items:
        if is_guest_part(x):
            kind = x.strip().lower().split(":", 1)[0]
            if kind in parts:
                raise _bad(x, f"a workload has at most one {kind}: part")
            parts[kind] = _parse_part(x)
        else:
            specs.append(parse_one(x))
    if not specs:
        specs = ["idle"]
    if nr_vcpus <= 0:
        return []
    if len(specs) < nr_vcpus:
        specs += [specs[-1]] * (nr_vcpus - len(specs))
    return specs[:nr_vcpus] + [parts[k] for k in GUEST_PARTS if k in parts]


# --- guest-level parts: what the guest sends on its vif and vbd ---------------

GUEST_PARTS = ("net", "io", "mem")
NET_MAX_SIZE = 65535
IO_MAX_SIZE = 1 << 20
MAX_RATE = 10**9  # per second


def is_guest_part(spec: object) -> bool:
    """Whether a workload entry is a net:, io: or mem: part (not one vCPU's spec)."""
    return isinstance(spec, str) and spec.strip().lower().startswith(("net:", "io:", "mem:"))


def _fields(spec: str, allowed: tuple[str, ...]) -> dict[str, str]:
    kind, body = spec.strip().lower().split(":", 1)
    fields: dict[str, str] = {}
    for item in body.split():
        key, eq, value = item.partition("=")
        if not eq or key not in allowed or not value:
            raise _bad(spec, f"'{item}' is not one of {', '.join(k + '=' for k in allowed)}")
        if key in fields:
            raise _bad(spec, f"'{key}=' is given twice")
        fields[key] = value
    return fields


def _rate(spec: str, text: str, unit: str) -> int:
    num = text[:-len(unit)] if text.endswith(unit) else ""
    if not num.isdigit() or not 0 < int(num) <= MAX_RATE:
        raise _bad(spec, f"'{text}' is not a rate like 200{unit} (1 to {MAX_RATE})")
    return int(num)


def _size(spec: str, text: str, limit: int, multiple: int = 1) -> int:
    mult = {"k": 1024, "m": 1024 * 1024}.get(text[-1:], 1)
    num = text[:-1] if mult != 1 else text
    n = int(num) * mult if num.isdigit() else 0
    if not 0 < n <= limit or n % multiple:
        extra = f", a multiple of {multiple}" if multiple > 1 else ""
        raise _bad(spec, f"'{text}' is not a size in bytes (1 to {limit}{extra})")
    return n


def _format_size(n: int) -> str:
    for suffix, mult in (("M", 1024 * 1024), ("k", 1024)):
        if n % mult == 0:
            return f"{n // mult}{suffix}"
    return str(n)


def _parse_part(spec: str) -> str:
    """Validate and normalise a net: or io: part."""
    kind = spec.strip().lower().split(":", 1)[0]
    if kind == "net":
        f = _fields(spec, ("tx", "size", "to"))
        if "tx" not in f:
            raise _bad(spec, "expected net:tx=RATEpps [size=BYTES] [to=DOMAIN|bridge]")
        rate = _rate(spec, f["tx"], "pps")
        size = _size(spec, f.get("size", "1500"), NET_MAX_SIZE)
        to = spec.strip().split("to=", 1)[1].split()[0] if "to" in f else "bridge"
        return f"net:tx={rate}pps size={size} to={to}"
    if kind == "mem":
        return _parse_mem(spec)
    f = _fields(spec, ("read", "write", "size"))
    if "read" not in f and "write" not in f:
        raise _bad(spec, "expected io:[read=RATEiops] [write=RATEiops] [size=BYTES]")
    rates = [f"{k}={_rate(spec, f[k], 'iops')}iops" for k in ("read", "write") if k in f]
    size = _size(spec, f.get("size", "4k"), IO_MAX_SIZE, 512)
    return f"io:{' '.join(rates)} size={_format_size(size)}"


MEM_MAX = 1 << 44  # 16 TiB: no guest has more, nor writes faster a second
_MEM_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _mem_bytes(spec: str, text: str, what: str) -> int:
    """'50MB' -> 52428800: bytes, with k/M/G (binary) and an optional B."""
    t = text[:-1] if text.endswith("b") else text
    unit = t[-1:] if t[-1:] in ("k", "m", "g") else ""
    num = t[:-1] if unit else t
    n = int(num) * _MEM_UNITS[unit] if num.isdigit() else 0
    if not 0 < n <= MEM_MAX:
        raise _bad(spec, f"'{text}' is not {what} like 50MB (1 byte to 16TB)")
    return n


def _format_mem(n: int) -> str:
    for suffix, mult in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n % mult == 0:
            return f"{n // mult}{suffix}"
    return f"{n}B"


DEFAULT_WSS = 256 << 20


def _parse_mem(spec: str) -> str:
    """Validate and normalise a mem: part."""
    f = _fields(spec, ("dirty", "wss"))
    if "dirty" not in f or not f["dirty"].endswith("/s"):
        raise _bad(spec, "expected mem:dirty=RATE/s [wss=SIZE], e.g. mem:dirty=50MB/s wss=256MB")
    rate = _mem_bytes(spec, f["dirty"][:-2], "a rate")
    wss = _mem_bytes(spec, f["wss"], "a size") if "wss" in f else DEFAULT_WSS
    return f"mem:dirty={_format_mem(rate)}/s wss={_format_mem(wss)}"


def mem_part(specs: list[str]) -> dict | None:
    """The mem: part of a normalised workload as numbers, {"dirty": bytes a
    second, "wss": bytes}; None for a workload without one."""
    for s in specs:
        if isinstance(s, str) and s.startswith("mem:"):
            f = dict(item.split("=", 1) for item in s[4:].split())
            return {"dirty": _mem_bytes(s, f["dirty"][:-2].lower(), "a rate"),
                    "wss": _mem_bytes(s, f["wss"].lower(), "a size")}
    return None


def guest_parts(specs: list[str]) -> dict[str, dict]:
    """The net:/io: parts of a normalised workload, as numbers: {"net":
    {"tx": pps, "size": bytes, "to": str}, "io": {"read": iops, "write":
    iops, "size": bytes}}; {} for a workload without them."""
    out: dict[str, dict] = {}
    for s in specs:
        if not is_guest_part(s) or s.startswith("mem:"):
            continue
        kind, body = s.split(":", 1)
        f = dict(item.split("=", 1) for item in body.split())
        if kind == "net":
            out["net"] = {"tx": int(f["tx"][:-3]), "size": int(f["size"]), "to": f["to"]}
        else:
            out["io"] = {"read": int(f.get("read", "0iops")[:-4]),
                         "write": int(f.get("write", "0iops")[:-4]),
                         "size": _size(s, f["size"], IO_MAX_SIZE)}
    return out


def periodic_params(spec: str) -> tuple[int, int]:
    """(run, period) in ns of a normalised 'periodic:...' spec."""
    run_s, period_s = spec[len("periodic:"):].split("/")
    return parse_duration(run_s, spec), parse_duration(period_s, spec)


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def draw(seed: int, domid: int, vcpuid: int, n: int) -> int:
    """The n-th pseudo-random 64-bit value of one vCPU's stream."""
    return _mix64(_mix64(_mix64(_mix64(seed & _MASK64) ^ domid) ^ vcpuid) ^ n)


def _uniform(seed, domid, vcpuid, n, lo, hi) -> int:
    return lo + draw(seed, domid, vcpuid, n) % (hi - lo + 1)


class Demand:
    """One vCPU's pending work and next release, as the scheduler engine sees it.

    `work` is the CPU time (ns) still wanted before the vCPU blocks, None for an
    unbounded amount (busy). `next_release` is the absolute time at which new
    work arrives (a blocked vCPU wakes then), or None.
    """

    __slots__ = ("spec", "kind", "run", "period", "work", "next_release",
                 "draws", "missed", "seed", "domid", "vcpuid")

    def __init__(self, spec: str, seed: int, domid: int, vcpuid: int):
        self.spec = spec
        self.seed, self.domid, self.vcpuid = seed, domid, vcpuid
        self.kind = spec.split(":", 1)[0]
        self.run, self.period = (periodic_params(spec) if self.kind == "periodic"
                                 else (0, 0))
        self.work: int | None = 0
        self.next_release: int | None = None
        self.draws = 0
        self.missed = 0

    # -- construction and persistence --------------------------------------
    @classmethod
    def load(cls, spec: str, wl_state: dict, seed: int, domid: int, vcpuid: int,
             now: int) -> "Demand":
        """Resume from `wl_state` (saved relative to its save time) at `now`,
        or start afresh if the spec changed or there is no state."""
        try:
            spec = parse_one(spec)
        except PyxlError:
            spec = "idle"
        d = cls(spec, seed, domid, vcpuid)
        if wl_state.get("spec") == spec and "work" in wl_state:
            d.work = wl_state["work"]
            rel = wl_state.get("next_release")
            d.next_release = None if rel is None else now + rel
            d.draws = wl_state.get("draws", 0)
            d.missed = wl_state.get("missed", 0)
        else:
            d.start(now)
        return d

    def dump(self, now: int) -> dict:
        return {
            "spec": self.spec,
            "work": self.work,
            "next_release": None if self.next_release is None else self.next_release - now,
            "draws": self.draws,
            "missed": self.missed,
        }

    def start(self, now: int) -> None:
        kind = self.kind
        if kind == "busy":
            self.work, self.next_release = None, None
        elif kind == "idle":
            phase = draw(self.seed, self.domid, self.vcpuid, 0) % IDLE_PERIOD_NS
            self.work, self.next_release = 0, now + phase
            self.draws = 1
        elif kind == "periodic":
            self.work, self.next_release = self.run, now + self.period
        else:  # bursty: begin with a burst
            self.work, self.next_release = self._draw(BURST_MIN_NS, BURST_MAX_NS), None

    def _draw(self, lo: int, hi: int) -> int:
        v = _uniform(self.seed, self.domid, self.vcpuid, self.draws, lo, hi)
        self.draws += 1
        return v

    # -- the model ---------------------------------------------------------
    def wants_cpu(self) -> bool:
        return self.work is None or self.work > 0

    def consume(self, ns: int) -> None:
        if self.work is not None:
            self.work = max(0, self.work - ns)

    def on_block(self, now: int) -> None:
        """The vCPU finished its work at `now`: decide when it wakes."""
        self.work = 0
        if self.kind == "bursty":
            self.next_release = now + self._draw(SLEEP_MIN_NS, SLEEP_MAX_NS)

    def release(self, now: int) -> None:
        """New work arrives at `now` (= next_release)."""
        kind = self.kind
        if kind == "idle":
            if self.work:
                self.missed += 1
            self.work = IDLE_WORK_NS
            self.next_release = self._next_on_grid(now, IDLE_PERIOD_NS)
        elif kind == "periodic":
            if self.work:
                self.missed += 1  # dropped: see the module docstring
            self.work = self.run
            self.next_release = self._next_on_grid(now, self.period)
        elif kind == "bursty":
            self.work = self._draw(BURST_MIN_NS, BURST_MAX_NS)
            self.next_release = None
        else:
            self.next_release = None

    def _next_on_grid(self, now: int, period: int) -> int:
        """The guest's timer keeps its phase: a release handled late (the vCPU
        was paused or offline) does not shift the later ones onto `now`."""
        due = self.next_release if self.next_release is not None else now
        nxt = due + period
        if nxt <= now:
            nxt += ((now - nxt) // period + 1) * period
        return nxt

    def longest_period(self) -> int:
        """The longest cycle of this demand, for sizing the simulation window."""
        if self.kind == "periodic":
            return self.period
        if self.kind == "idle":
            return IDLE_PERIOD_NS
        if self.kind == "bursty":
            return BURST_MAX_NS + SLEEP_MAX_NS
        return 0
