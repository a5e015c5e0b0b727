"""The one exception the XenStore raises: xenstored's errno, by name.

xenstored answers a failed request with an errno name ("ENOENT", "EACCES",
...); callers (libxl-style code, the xenstore-* commands) branch on that
name, so it is kept as ``.errno`` while the message is the C library's
strerror text that the xenstore-* clients print.
"""

from pyxl.errors import PyxlError

# strerror() texts (glibc) for the errno names xenstored can return.
STRERROR = {
    "EINVAL": "Invalid argument",
    "EACCES": "Permission denied",
    "EEXIST": "File exists",
    "EISDIR": "Is a directory",
    "ENOENT": "No such file or directory",
    "ENOMEM": "Cannot allocate memory",
    "ENOSPC": "No space left on device",
    "EIO": "Input/output error",
    "ENOTEMPTY": "Directory not empty",
    "ENOSYS": "Function not implemented",
    "EROFS": "Read-only file system",
    "EBUSY": "Device or resource busy",
    "EAGAIN": "Resource temporarily unavailable",
    "EISCONN": "Transport endpoint is already connected",
    "E2BIG": "Argument list too long",
    "EPERM": "Operation not permitted",
}


class XenStoreError(PyxlError):
    """A request xenstored refused; ``errno`` is the errno name it replied."""

    def __init__(self, errno: str):
        super().__init__(STRERROR.get(errno, errno), 1)
        self.errno = errno

    def __repr__(self) -> str:
        return f"XenStoreError({self.errno!r})"
