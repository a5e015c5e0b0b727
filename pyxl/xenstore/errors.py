"""The one exception the XenStore raises: xenstored's errno, by name.

xenstored answers a failed request with an errno name ("ENOENT", "EACCES",
...); callers (libxl-style code, the xenstore-* commands) branch on that
name, so it is kept as ``.errno`` while the message is the C library's
strerror text that the xenstore-* clients print.
"""

from pyxl.errors import PyxlError, strerror


class XenStoreError(PyxlError):
    """A request xenstored refused; ``errno`` is the errno name it replied."""

    def __init__(self, errno: str):
        super().__init__(strerror(errno), 1)
        self.errno = errno

    def __repr__(self) -> str:
        return f"XenStoreError({self.errno!r})"
