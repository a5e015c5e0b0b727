"""libxl_flask_*: xc_flask_op's FLASK_GETENFORCE, FLASK_SETENFORCE and
FLASK_LOAD, and what Xen's FLASK answers (xen/xsm/flask/flask_op.c).

A host booted with `flask=disabled` (the default, as Xen's default build
has no XSM) answers every xsm_op with -ENOSYS. Booted with FLASK, the
boot policy is loaded and the mode is the boot's; setenforce changes it
for the host's lifetime (kept in the host's meta).
"""

from __future__ import annotations

import struct

from pyxl.hv.errors import HypercallError
from pyxl.toolstack.ctx import Ctx

# policydb_read's first check: POLICYDB_MAGIC, then the "XenFlask" string.
POLICYDB_MAGIC = 0xF97CFF8C
POLICYDB_STRING = b"XenFlask"
MAX_POLICY_SIZE = 0x4000000


def _enforcing(ctx: Ctx) -> int:
    """flask_enforcing, or ENOSYS on a host without FLASK."""
    mode = ctx.host.boot.flask
    if mode == "disabled":
        raise HypercallError("ENOSYS", "xsm_op")
    default = "1" if mode == "enforcing" else "0"
    return int(ctx.host.meta.get("flask_enforcing", default))


def getenforce(ctx: Ctx) -> int:
    ctx.hv.trace("FLASK_GETENFORCE")
    return _enforcing(ctx)


def setenforce(ctx: Ctx, mode: int) -> None:
    ctx.hv.trace("FLASK_SETENFORCE", enforcing=mode)
    if _enforcing(ctx) != int(bool(mode)):
        ctx.host.set_meta("flask_enforcing", str(int(bool(mode))))


def load(ctx: Ctx, policy: bytes) -> None:
    """security_load_policy: a binary policy replaces the boot's."""
    ctx.hv.trace("FLASK_LOAD", size=len(policy))
    _enforcing(ctx)
    if len(policy) > MAX_POLICY_SIZE or len(policy) < 16:
        raise HypercallError("EINVAL", "xsm_op")
    magic, length = struct.unpack_from("<II", policy)
    if magic != POLICYDB_MAGIC or policy[8:8 + length] != POLICYDB_STRING:
        raise HypercallError("EINVAL", "xsm_op")
