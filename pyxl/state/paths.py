"""Where hosts live on disk.

Each simulated host is one folder under the state directory, holding one SQLite
database. PYXL_STATE_DIR moves the whole tree (tests use it); otherwise
platformdirs' user state directory is used, as for any well-behaved CLI.

Every file pyxl writes under a host is named by pyxl and goes through
`host_path`, which refuses a path that would land outside the host's folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pyxl.errors import PyxlError, StateError

DEFAULT_HOST = "localhost"
DB_NAME = "state.db"
LOCK_NAME = "host.lock"
BOOT_NAME = "host.toml"
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def state_dir() -> Path:
    env = os.environ.get("PYXL_STATE_DIR")
    if env:
        return Path(env)
    import platformdirs  # only needed when the environment does not say

    return Path(platformdirs.user_state_dir("pyxl", appauthor=False))


def printable(text: str) -> str:
    """`text` on one line: control characters escaped, as in an error message."""
    return ascii(text)[1:-1] if not text.isprintable() else text


def check_host_name(name: str) -> str:
    if not _HOST_NAME.fullmatch(name):
        raise PyxlError(
            f"invalid host name '{printable(name)}': use letters, digits, '.', '_' and '-'"
        )
    return name


def host_dir(name: str) -> Path:
    return state_dir() / check_host_name(name)


def db_path(name: str) -> Path:
    return host_path(name, DB_NAME)


def host_path(name: str, *parts: str) -> Path:
    """A file inside the host's folder, for pyxl to write.

    Refuses anything that would land elsewhere: a name with '/' or '..', a
    host folder that is a symbolic link, a link inside it leading out.
    """
    folder = host_dir(name)
    for part in parts:
        if part in ("", ".", "..") or "/" in part or "\0" in part or (
                os.altsep and os.altsep in part):
            raise StateError(f"pyxl: refusing to write '{printable(part)}' in the folder "
                             f"of host '{name}': not a plain file name")
    if os.path.islink(folder):
        raise StateError(f"pyxl: the folder of host '{name}' ({folder}) is a symbolic link; "
                         "pyxl keeps a host's state only in a folder of its own")
    path = folder.joinpath(*parts)
    inside = os.path.realpath(folder)
    real = os.path.realpath(path)
    if real != inside and not real.startswith(inside + os.sep):
        raise StateError(f"pyxl: {path} leads outside the folder of host '{name}'; "
                         "pyxl writes only inside it")
    return path


def make_host_dir(name: str) -> Path:
    """The host's folder, created if needed; what the OS said if it cannot be."""
    folder = host_path(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StateError(f"pyxl: cannot create the folder of host '{name}' ({folder}): "
                         f"{e.strerror or e}") from None
    return folder


def list_hosts() -> list[str]:
    root = state_dir()
    try:
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir()
                      if _HOST_NAME.fullmatch(p.name)
                      and ((p / DB_NAME).is_file() or (p / BOOT_NAME).is_file()))
    except OSError as e:
        raise StateError(f"pyxl: cannot read the state directory {root}: "
                         f"{e.strerror or e}") from None
