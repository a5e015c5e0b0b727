"""xenstored's quotas as libxl reads and sets them (libxl_xsquota.c).

GET_QUOTA without a name lists the quotas xenstored has; each is then read
globally or for one domain. xl's xenstore-quota-set sets its items one
after another, so a refused item leaves those before it set; pyxl checks
every item first (a name xenstored does not have, a value at or past
Q_VAL_DISABLED) and sets none when one is bad.
"""

from __future__ import annotations

from pyxl.errors import ErrorFail
from pyxl.toolstack.ctx import Ctx
from pyxl.xenstore.errors import XenStoreError


def quota_get(ctx: Ctx, domid: int | None) -> list[tuple[str, int]]:
    """libxl_xs_quota_global_get (domid None) / libxl_xs_quota_domain_get."""
    xs = ctx.xs()
    try:
        return [(name, xs.get_quota(name, domid)) for name in xs.quota_names()]
    except XenStoreError:
        raise ErrorFail() from None


def quota_set(ctx: Ctx, domid: int | None, items: list[tuple[str, int]]) -> None:
    """libxl_xs_quota_global_set / libxl_xs_quota_domain_set."""
    from pyxl.xenstore import quota

    xs = ctx.xs()
    try:
        for name, value in items:   # what xenstored would refuse, before anything is set
            quota.check_name(name)
            if not 0 <= value < quota.Q_VAL_DISABLED:
                raise XenStoreError("EINVAL")
        for name, value in items:
            xs.set_quota(name, value, domid)
    except XenStoreError:
        raise ErrorFail() from None
