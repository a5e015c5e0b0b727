"""Reads that take a missing or unreadable node as no answer.

libxl's and Linux's xenbus code read many optional nodes (a backend's state,
a frontend's ring-ref, a device directory that may not exist yet): for them an
absent node is an ordinary answer, not an error.
"""

from __future__ import annotations

from pyxl.xenstore.errors import XenStoreError


def read_or_none(xs, path: str) -> str | None:
    """The node's value as text, or None if it is absent or unreadable."""
    try:
        return xs.read(path).decode("latin-1")
    except XenStoreError:
        return None


def directory_or_empty(xs, path: str) -> list[str]:
    """The node's children, or none if it is absent or unreadable."""
    try:
        return xs.directory(path)
    except XenStoreError:
        return []
