"""Path rules of xenstored: which names are valid and how they nest.

Everything here is pure string work; the store calls ``canonicalize`` on
every path a caller hands in, before touching the database.
"""

import re

from .errors import XenStoreError

XENSTORE_ABS_PATH_MAX = 3072   # xs_wire.h
XENSTORE_PAYLOAD_MAX = 4096    # bytes of payload in one request

_VALID = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/_@")
# sscanf("/local/domain/%5u/%n"): the part of a path that path-max ignores.
_LOCAL_PREFIX = re.compile(r"/local/domain/[0-9]{1,5}/")


def home_of(domid: int) -> str:
    """A domain's home, against which relative paths resolve."""
    return f"/local/domain/{domid}"


def is_relative(path: str) -> bool:
    return not path.startswith("/") and not path.startswith("@")


def canonicalize(path: str, domid: int, allow_special: bool,
                 path_max: int | None = None) -> str:
    """Return the absolute form of ``path`` or raise EINVAL.

    ``path_max`` is the caller's path-max quota (None for dom0): xenstored
    rejects when the length after ``/local/domain/<N>/`` reaches it.
    """
    if not isinstance(path, str) or not _VALID.issuperset(path):
        raise XenStoreError("EINVAL")
    if path.startswith("@") and not allow_special:
        raise XenStoreError("EINVAL")
    name = path if not is_relative(path) else home_of(domid) + "/" + path
    if (name.endswith("/") and name != "/") or "//" in name:
        raise XenStoreError("EINVAL")
    if len(name) > XENSTORE_ABS_PATH_MAX:
        raise XenStoreError("EINVAL")
    if path_max:
        m = _LOCAL_PREFIX.match(name)
        if len(name) - (m.end() if m else 0) >= path_max:
            raise XenStoreError("EINVAL")
    return name


def get_parent(path: str) -> str:
    """Parent of a canonical path; special nodes and top-level nodes hang off '/'."""
    i = path.rfind("/", 1)
    return path[:i] if i > 0 else "/"


def basename(path: str) -> str:
    return path[path.rfind("/") + 1:]


def ancestors(path: str) -> list[str]:
    """Strict ancestors, nearest first, ending with '/'."""
    out = []
    while path != "/":
        path = get_parent(path)
        out.append(path)
    return out


def subtree_bounds(path: str) -> tuple[str, str]:
    """Half-open key range [lo, hi) holding exactly the strict descendants.

    '0' is the character right after '/', so every "path/..." key sorts
    inside the range and no sibling such as "path-x" or "pathx" does.
    """
    if path == "/":
        return "/", "0"   # '/' itself is excluded by the caller (strict >)
    return path + "/", path + "0"


def is_child(child: str, parent: str, depth: int | None) -> bool:
    """Does an event at ``child`` concern a watch on ``parent`` with ``depth``?

    Self counts as a child; ``depth`` None means unlimited, otherwise the
    number of extra path components allowed below ``parent``.
    """
    if parent == "/":
        if not child.startswith("/"):
            return False
        rest_levels = 0 if child == "/" else child.count("/")
    else:
        if not child.startswith(parent):
            return False
        rest = child[len(parent):]
        if rest and rest[0] != "/":
            return False
        rest_levels = rest.count("/")
    return depth is None or rest_levels <= depth
