"""Errors that carry xl's wording and exit status up to the CLI.

Every layer raises these; only pyxl/cli turns them into bytes on stderr and
an exit code, so the wording lives next to the code that detects the fault.
The errno names Xen and xenstored answer with, and libxl's error codes, are
kept here too, once.
"""


class PyxlError(Exception):
    """A failure the user caused or must know about.

    ``message`` is printed to stderr as is (xl's text, possibly several
    lines); ``exit_code`` is the status xl would exit with.
    """

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class UsageError(PyxlError):
    """Bad command-line usage: xl exits 2 for these."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message, exit_code)


class StateError(PyxlError):
    """The host's state database is missing, locked for too long or corrupt."""


# glibc's strerror() texts for the errno names Xen and xenstored return. Kept
# here rather than asked of os.strerror so that every platform prints Linux's.
STRERROR = {
    "EPERM": "Operation not permitted",
    "ENOENT": "No such file or directory",
    "ESRCH": "No such process",
    "EIO": "Input/output error",
    "E2BIG": "Argument list too long",
    "EAGAIN": "Resource temporarily unavailable",
    "ENOMEM": "Cannot allocate memory",
    "EACCES": "Permission denied",
    "EBUSY": "Device or resource busy",
    "EEXIST": "File exists",
    "EISDIR": "Is a directory",
    "EINVAL": "Invalid argument",
    "ENOSPC": "No space left on device",
    "EROFS": "Read-only file system",
    "ENOSYS": "Function not implemented",
    "ENOTEMPTY": "Directory not empty",
    "EISCONN": "Transport endpoint is already connected",
}


def strerror(name: str) -> str:
    """The text C's strerror gives for an errno name (the name if unknown)."""
    return STRERROR.get(name, name)


# libxl's error codes (libxl_types.idl), negative as libxl returns them.
ERROR_FAIL = -3
ERROR_NI = -4
ERROR_NOMEM = -5
ERROR_INVAL = -6
ERROR_TIMEDOUT = -9
ERROR_NOPARAVIRT = -10
ERROR_LOCK_FAIL = -15
ERROR_DOMAIN_NOTFOUND = -21
ERROR_NOTFOUND = -23


class LibxlError(PyxlError):
    """A libxl call returned the error code ``rc``, its log lines already out.

    One subclass per libxl error pyxl returns. The message is what xl prints
    after the failure (often nothing: libxl's log said it all), the exit code
    xl's for that command.
    """

    rc = ERROR_FAIL

    def __init__(self, message: str = "", exit_code: int = 1):
        super().__init__(message, exit_code)


class ErrorFail(LibxlError):
    rc = ERROR_FAIL


class ErrorInval(LibxlError):
    rc = ERROR_INVAL


class ErrorNoparavirt(LibxlError):
    rc = ERROR_NOPARAVIRT


class ErrorLockFail(LibxlError):
    rc = ERROR_LOCK_FAIL


class ErrorDomainNotfound(LibxlError):
    rc = ERROR_DOMAIN_NOTFOUND
