"""Live migration's pre-copy, as libxc's send_domain_memory_live does it
(xg_sr_save.c), with the page counts in closed form.

Round 0 sends every pfn while the guest runs. Each later round sends the
pages the guest dirtied during the previous one, until libxc's precopy
policy says stop: fewer than SPP_TARGET_DIRTY_COUNT pages dirty, or
SPP_MAX_ITERATIONS rounds done. Then the guest is suspended and the pages
dirtied since the last round, with the domain's state, go in the
stop-and-copy round; the guest is down from its suspension to the end of
the stream.

The model (docs/migration.md): the guest writes D bytes a second into a
writable working set of W pages (its workload's `mem:` part), so a round
of t seconds leaves min(W, D*t/4096) pages dirty; a page costs 4096 + 8
octets on a link of L Mbit/s (the host's `link_mbps`). The stream itself
carries pfns only (8 octets a page, docs/migration.md); the clock is
charged for the pages' contents as a real stream would carry them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyxl.errors import ERROR_FAIL, LibxlError
from pyxl.toolstack import stream as st

PAGE_SIZE = 4096
WIRE_PAGE = PAGE_SIZE + 8           # a page and its PAGE_DATA pfn entry
SPP_MAX_ITERATIONS = 5              # libxc's simple_precopy_policy
SPP_TARGET_DIRTY_COUNT = 50
DEFAULT_DIRTY = 1 << 20             # a guest with no mem: part: 1 MiB/s ...
DEFAULT_WSS = 4 << 20               # ... into 4 MiB (timers, page cache)
NS = 1_000_000_000
ERROR_GUEST_TIMEDOUT = -8


@dataclass(repr=False, eq=False)
class Model:
    """One pre-copy's figures: the guest's pages, its dirtying, the link."""

    nr_pages: int
    dirty_bps: int        # bytes the guest writes a second (0 while paused)
    wss_pages: int
    link_mbps: int

    def send_ns(self, pages: int, extra: int = 0) -> int:
        """Time on the link for `pages` pages and `extra` octets more."""
        octets = pages * WIRE_PAGE + extra
        return -(-octets * 8 * 1000 // self.link_mbps)  # ns: octets*8 / (Mbit/s * 1e6) * 1e9

    def dirtied(self, ns: int) -> int:
        """Pages dirty after `ns` of the guest writing: min(W, D*t/4096)."""
        return min(self.wss_pages, self.dirty_bps * ns // (PAGE_SIZE * NS))


def model_of(ctx, d) -> Model:
    from pyxl.hv.workload import mem_part

    g = ctx.host.guest(d.domid)
    mem = mem_part(getattr(g, "workload", None) or []) or {"dirty": DEFAULT_DIRTY,
                                                          "wss": DEFAULT_WSS}
    nr = sum(count for _pfn, _mfn, count in d.p2m)
    running = d.can_run and getattr(g, "phase", "up") == "up"
    return Model(nr_pages=nr, dirty_bps=mem["dirty"] if running else 0,
                 wss_pages=min(nr, -(-mem["wss"] // PAGE_SIZE)),
                 link_mbps=ctx.host.boot.link_mbps)


def live_rounds(m: Model) -> tuple[list[tuple[int, int, int]], int, int]:
    """libxc's send_memory_live over the model: the live rounds as
    (iteration, pages, ns), the iteration the stop-and-copy round is
    reported under, and the time since the last clean of the dirty bitmap
    (the pages dirtied in it go in the stop-and-copy round)."""
    rounds = []
    iteration, dirty, since_clean = 0, m.nr_pages, 0
    while True:
        stop = dirty < SPP_TARGET_DIRTY_COUNT or iteration >= SPP_MAX_ITERATIONS
        since_clean = 0
        if dirty > 0:
            since_clean = m.send_ns(dirty)
            rounds.append((iteration, dirty, since_clean))
        if stop:
            break
        iteration += 1
        if iteration >= SPP_MAX_ITERATIONS:
            break
        dirty = m.dirtied(since_clean)
    return rounds, iteration, since_clean


def pfn_runs(runs: list[list[int]], pages: int) -> list[list[int]]:
    """The first `pages` pfns of `runs`: the pages a round resends (the
    working set is taken from the bottom of the guest's memory)."""
    out = []
    for pfn, count in runs:
        if pages <= 0:
            break
        out.append([pfn, min(count, pages)])
        pages -= count
    return out


def save_live(open_ctx, suspend, domid: int, out, config, override: bool = False,
              report=None) -> tuple[int, dict | None]:
    """libxl_domain_suspend(LIBXL_SUSPEND_LIVE) into `out`: the stream's
    head, the live rounds (the source's clock moving as each is sent, the
    guest running), the suspend, the stop-and-copy round and the rest of
    the stream. (0, the figures), or (libxl rc, None) with its lines logged.
    `report(what, iteration, pages, ns)` hears of each round as it is sent
    and of the suspend ("suspended") and the end ("end")."""
    from pyxl.toolstack import lifecycle
    from pyxl.toolstack import saverestore as sr

    report = report or (lambda *a: None)
    with open_ctx() as ctx:
        try:
            lifecycle.domain_type(ctx, domid)
        except LibxlError as e:
            return e.rc, None
        d = ctx.hv.domains[domid]
        m, runs, kept = model_of(ctx, d), sr.p2m_runs(d), sr.kept_pages(ctx, d)
        start = ctx.host.now_ns
        head = sr.stream_head(ctx, d)
    if not _send(open_ctx, domid, out, head, responded=False):
        return ERROR_GUEST_TIMEDOUT, None
    rounds, final_iteration, since_clean = live_rounds(m)
    sent, last_end = 0, start
    for iteration, pages, ns in rounds:
        with open_ctx() as ctx:
            if domid not in ctx.hv.domains:
                return _gone(ctx, domid), None
            records = st.page_data_records(runs if iteration == 0 else pfn_runs(runs, pages),
                                           kept)
        if not _send(open_ctx, domid, out, records, responded=False):
            return ERROR_GUEST_TIMEDOUT, None
        report("round", iteration, pages, ns)
        sent += pages
        with open_ctx() as ctx:
            ctx.host.advance_to(ctx.host.now_ns + ns)
            last_end = ctx.host.now_ns
    rc = suspend()
    if rc:
        return rc, None
    report("suspended", final_iteration, 0, 0)
    with open_ctx() as ctx:
        suspended_at = ctx.host.now_ns
        d = ctx.hv.domains[domid]
        final = min(m.nr_pages, m.dirtied(since_clean + suspended_at - last_end))
        pages = st.page_data_records(pfn_runs(runs, final), kept) if final else []
        figures = {"rounds": len(rounds) + 1, "pages": sent + final, "link_mbps": m.link_mbps}
        probe = sr.stream_tail(ctx, d, config, override, {**figures, "total_ns": 0,
                                                          "downtime_ns": 0})
        final_ns = m.send_ns(final, sum(len(p) for p in probe))
        end = suspended_at + final_ns
        figures.update(total_ns=end - start, downtime_ns=end - suspended_at,
                       final_pages=final)
        tail = sr.stream_tail(ctx, d, config, override, figures)
    if not _send(open_ctx, domid, out, pages + tail, responded=True):
        return ERROR_FAIL, None
    report("round", final_iteration, final, final_ns)
    with open_ctx() as ctx:
        ctx.host.advance_to(end)
    report("end", final_iteration, 0, 0)
    return 0, figures


def _send(open_ctx, domid: int, out, parts: list[bytes], *, responded: bool) -> bool:
    """Write stream pieces; on a broken transport, libxc's and libxl's lines
    (libxl__xc_domain_save_done: whether the guest had responded to the
    suspend request decides the rc)."""
    from pyxl.toolstack.saverestore import write_parts

    try:
        write_parts(out, parts)
        return True
    except (OSError, ValueError) as e:
        errno = getattr(e, "errno", None) or 32
        why = getattr(e, "strerror", None) or "Broken pipe"
    from pyxl.toolstack.saverestore import xc_info

    with open_ctx() as ctx:
        xc_info(ctx, f"Failed to write page data to stream ({errno} = {why}): Internal error",
                "error")
        xc_info(ctx, f"Save failed ({errno} = {why}): Internal error", "error")
        ctx.log("error", "libxl_stream_write.c:343:libxl__xc_domain_save_done",
                "saving domain: domain " + ("responded" if responded else "did not respond")
                + " to suspend request", domid, why)
    return False


def _gone(ctx, domid: int) -> int:
    """The domain went away during the rounds: libxc cannot refresh it."""
    from pyxl.toolstack.saverestore import xc_info

    xc_info(ctx, "Unable to refresh domain information (3 = No such process): "
            "Internal error", "error")
    ctx.log("error", "libxl_stream_write.c:343:libxl__xc_domain_save_done",
            "saving domain: domain did not respond to suspend request", domid,
            "No such process")
    return ERROR_GUEST_TIMEDOUT
