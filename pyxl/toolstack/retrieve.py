"""A domain's stored configuration, and libxl_retrieve_domain_configuration.

libxl keeps each domain's config as it was created (after libxl's
defaults) next to the domain; here it lives in the host database. The
stored config is kept true: mem-set and mem-max update it when they change
the domain's memory, so a retrieval reads memory from it rather than from
XenStore. What the hypervisor owns (the name, online vCPUs, scheduler and
cpupool) is read from it at retrieval.
"""

from __future__ import annotations

from pyxl.toolstack.ctx import Ctx
from pyxl.toolstack.domain_config import DomainConfig


def get_domain_configuration(ctx: Ctx, domid: int) -> DomainConfig | None:
    """libxl__get_domain_configuration: the stored config (None: there is none)."""
    stored = ctx.host.config(domid)
    return None if stored is None else DomainConfig.from_json_dict(stored)


def set_domain_configuration(ctx: Ctx, domid: int, config: DomainConfig) -> None:
    """libxl__set_domain_configuration: store the domain's config as it is now."""
    ctx.host.set_config(domid, config.to_json_dict())


def retrieve(ctx: Ctx, domid: int) -> tuple[DomainConfig, dict] | None:
    """(config, runtime values) for `domid`; None when libxl has no config for it."""
    d = ctx.hv.domains.get(domid)
    config = get_domain_configuration(ctx, domid) if d is not None else None
    if config is None:
        return None
    pool = ctx.hv.pools.get(d.poolid)
    runtime = {
        "uuid": d.uuid,
        "name": d.name,
        "avail_vcpus": [v.vcpuid for v in d.vcpus if v.online],
        "poolid": d.poolid,
        "pool_name": pool.name if pool else None,
        "sched": pool.sched if pool else None,
    }
    for key in ("weight", "cap"):
        if key in d.sched_params:
            runtime[key] = d.sched_params[key]
    return config, runtime


def list_long_json(ctx: Ctx, domids: list[int]) -> str:
    """What `xl list -l` prints; domains without a config are skipped, as xl does."""
    from pyxl.toolstack.libxl_json import list_long_json as render

    entries = []
    for domid in domids:
        got = retrieve(ctx, domid)
        if got is not None:
            entries.append((domid, got[0], got[1]))
    return render(entries)
