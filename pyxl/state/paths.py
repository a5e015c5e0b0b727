"""Where hosts live on disk.

Each simulated host is one folder under the state directory, holding one SQLite
database. PYXL_STATE_DIR moves the whole tree (tests use it); otherwise
platformdirs' user state directory is used, as for any well-behaved CLI.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pyxl.errors import PyxlError

DEFAULT_HOST = "localhost"
DB_NAME = "state.db"
_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def state_dir() -> Path:
    env = os.environ.get("PYXL_STATE_DIR")
    if env:
        return Path(env)
    import platformdirs  # only needed when the environment does not say

    return Path(platformdirs.user_state_dir("pyxl", appauthor=False))


def check_host_name(name: str) -> str:
    if not _HOST_NAME.match(name):
        raise PyxlError(
            f"invalid host name '{name}': use letters, digits, '.', '_' and '-'"
        )
    return name


def host_dir(name: str) -> Path:
    return state_dir() / check_host_name(name)


def db_path(name: str) -> Path:
    return host_dir(name) / DB_NAME


def list_hosts() -> list[str]:
    root = state_dir()
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir() if (p / DB_NAME).is_file() and _HOST_NAME.match(p.name)
    )
