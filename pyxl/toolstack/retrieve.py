"""libxl_retrieve_domain_configuration: a running domain's config as it is now.

The stored config (what create was given, after libxl's defaults) updated
with what has changed since: name, memory target and maximum, online vCPUs,
scheduler parameters and cpupool.
"""

from __future__ import annotations

from pyxl.toolstack.config import DomainConfig
from pyxl.toolstack.ctx import Ctx


def retrieve(ctx: Ctx, domid: int) -> tuple[DomainConfig, dict] | None:
    """(config, runtime values) for `domid`; None when libxl has no config for it."""
    stored = ctx.host.config(domid)
    d = ctx.hv.domains.get(domid)
    if stored is None or d is None:
        return None
    pool = ctx.hv.pools.get(d.poolid)
    runtime = {
        "uuid": d.uuid,
        "name": d.name,
        "max_memkb": _static_max(ctx, domid, d.max_memkb),
        "target_memkb": _target(ctx, domid, d.tot_memkb),
        "avail_vcpus": [v.vcpuid for v in d.vcpus if v.online],
        "poolid": d.poolid,
        "pool_name": pool.name if pool else None,
        "sched": pool.sched if pool else None,
    }
    for key in ("weight", "cap"):
        if key in d.sched_params:
            runtime[key] = d.sched_params[key]
    return DomainConfig.from_json_dict(stored), runtime


def _xs_int(ctx: Ctx, path: str) -> int | None:
    try:
        return int(ctx.host.xs().read(path))
    except Exception:  # a missing or unreadable node: libxl falls back too
        return None


def _static_max(ctx: Ctx, domid: int, fallback: int) -> int:
    return _xs_int(ctx, f"/local/domain/{domid}/memory/static-max") or fallback


def _target(ctx: Ctx, domid: int, fallback: int) -> int:
    return _xs_int(ctx, f"/local/domain/{domid}/memory/target") or fallback


def list_long_json(ctx: Ctx, domids: list[int]) -> str:
    """What `xl list -l` prints; domains without a config are skipped, as xl does."""
    from pyxl.toolstack.libxl_json import list_long_json as render

    entries = []
    for domid in domids:
        got = retrieve(ctx, domid)
        if got is not None:
            entries.append((domid, got[0], got[1]))
    return render(entries)
