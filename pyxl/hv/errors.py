"""How a hypercall fails: the one exception the simulated hypervisor raises.

Apart from pyxl/hv/hypervisor.py so that the schedulers' checks, which the
hypervisor calls, can raise it too without importing the hypervisor.
"""

from __future__ import annotations

from pyxl.errors import strerror


class HypercallError(Exception):
    """A hypercall failed; `errno` is the name Xen's error would have (ENOMEM...)."""

    def __init__(self, errno: str, op: str = ""):
        super().__init__(f"{op}: {errno}")
        self.errno = errno
        self.op = op

    @property
    def strerror(self) -> str:
        return strerror(self.errno)
