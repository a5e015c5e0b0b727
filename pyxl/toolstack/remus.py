"""Remus (libxl_remus.c): a domain checkpointed every interval to a backup.

After an initial live migration (precopy.save_live) the primary resumes its
guest instead of destroying it. Then, each time the primary's clock has moved
by the interval, a checkpoint: the guest is suspended, the pages it dirtied
since the last one (the pre-copy's closed form over its `mem:` part) and its
state go down the stream, and it is resumed. The backup keeps the last
complete checkpoint as a paused NAME--incoming; when the stream ends (the
primary or its host is gone) it fails over to that checkpoint.

Each checkpoint travels as a libxl stream of its own (header, LIBXC_CONTEXT,
the dirty pages, the state, CHECKPOINT_END, END), so the backup reads it with
the reader a restore uses (docs/migration.md).
"""

from __future__ import annotations

from pyxl.errors import ERROR_FAIL, LibxlError
from pyxl.toolstack import stream as st


def checkpoint(open_ctx, suspend, domid: int, out, config, last_ns: int):
    """One checkpoint of a running primary: ("gone", None) once the domain
    is, (rc, None) on a failed suspend or stream, else (0, figures) with the
    guest running again. `last_ns`: when the previous checkpoint ended."""
    from pyxl.toolstack import precopy
    from pyxl.toolstack import saverestore as sr

    with open_ctx() as ctx:
        d = ctx.hv.domains.get(domid)
        if d is None or d.dying:
            return "gone", None
        m = precopy.model_of(ctx, d)
    rc = suspend()
    if rc:
        with open_ctx() as ctx:
            if domid not in ctx.hv.domains:
                return "gone", None
        return rc, None
    with open_ctx() as ctx:
        d = ctx.hv.domains[domid]
        suspended_at = ctx.host.now_ns
        pages = min(m.nr_pages, m.dirtied(max(0, suspended_at - last_ns)))
        runs, kept = sr.p2m_runs(d), sr.kept_pages(ctx, d)
        parts = _head(ctx, d) + st.page_data_records(precopy.pfn_runs(runs, pages), kept)
        probe = sr.stream_tail(ctx, d, config, False, {"total_ns": 0})
        send_ns = m.send_ns(pages, sum(len(p) for p in probe) + 16)
        end = suspended_at + send_ns
        figures = {"pages": pages, "total_ns": end - last_ns, "downtime_ns": send_ns,
                   "link_mbps": m.link_mbps, "checkpoint": True}
        tail = sr.stream_tail(ctx, d, config, False, figures)
        parts += tail[:-1] + [st.record(st.REC_CHECKPOINT_END, b""), tail[-1]]
        ctx.host.advance_to(end)
    try:
        sr.write_parts(out, parts)
    except (OSError, ValueError):
        return ERROR_FAIL, None
    with open_ctx() as ctx:
        try:
            sr.domain_resume(ctx, domid)
        except LibxlError as e:
            return e.rc, None
        figures["end_ns"] = ctx.host.now_ns
    return 0, figures


def _head(ctx, d) -> list[bytes]:
    """stream_head without libxc's "Saving domain" line, which a
    checkpointed stream prints once, for the initial save."""
    from pyxl.toolstack import saverestore as sr

    logger, ctx.logger = ctx.logger, None
    try:
        return sr.stream_head(ctx, d)
    finally:
        ctx.logger = logger


def resume_primary(open_ctx, domid: int) -> int:
    """libxl__domain_resume(suspend_cancel) after the initial save: the
    primary runs on. 0 or the libxl rc."""
    from pyxl.toolstack import saverestore as sr

    with open_ctx() as ctx:
        try:
            sr.domain_resume(ctx, domid)
        except LibxlError as e:
            return e.rc
    return 0


def replace_incoming(ctx, domid: int, name: str, img) -> None:
    """A complete checkpoint on the backup: NAME--incoming becomes it, under
    the same domid, paused, in one transaction."""
    from pyxl.toolstack import domain
    from pyxl.toolstack import saverestore as sr

    config = sr.config_from_image(img, None)
    config.name = name
    logger, ctx.logger = ctx.logger, None  # libxc's restore lines: once, for the first
    try:
        domain.destroy(ctx, domid)
        sr.restore_domain(ctx, config, img, paused=True, monitored=False, domid=domid)
    finally:
        ctx.logger = logger


def primary_state(open_ctx, domid: int) -> tuple[bool, int]:
    """(whether the primary domain is still there, the primary's clock)."""
    with open_ctx() as ctx:
        d = ctx.hv.domains.get(domid)
        return d is not None and not d.dying, ctx.host.now_ns
