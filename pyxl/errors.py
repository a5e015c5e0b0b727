"""Errors that carry xl's wording and exit status up to the CLI.

Every layer raises these; only pyxl/cli turns them into bytes on stderr and
an exit code, so the wording lives next to the code that detects the fault.
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


# libxl's error codes (libxl_types.idl), negative as libxl returns them.
ERROR_FAIL = -3
ERROR_NI = -4
ERROR_NOMEM = -5
ERROR_INVAL = -6
ERROR_NOPARAVIRT = -10
ERROR_DOMAIN_NOTFOUND = -21
ERROR_NOTFOUND = -23
