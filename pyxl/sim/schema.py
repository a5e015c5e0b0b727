"""The host database's tables, and how to migrate old ones.

One row per domain and per vCPU (their fields as JSON, so the dataclasses in
pyxl/hv/model.py can grow without a migration for every field), one row per
XenStore node (pyxl/xenstore/schema.py), the console logs and Xen's console
ring. `meta` holds the host-wide scalars: boot options, clock, domid rover.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2

CORE_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE domains (
        domid INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        data TEXT NOT NULL,          -- hv.model.Domain without its vcpus
        config TEXT,                 -- the domain's xl config, as JSON
        guest TEXT NOT NULL DEFAULT '{}'  -- the simulated guest OS's state
    )""",
    """CREATE TABLE vcpus (
        domid INTEGER NOT NULL,
        vcpuid INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (domid, vcpuid)
    ) WITHOUT ROWID""",
    "CREATE TABLE cpupools (poolid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL)",
    """CREATE TABLE console (
        domid INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        t_ns INTEGER NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (domid, seq)
    ) WITHOUT ROWID""",
    "CREATE TABLE dmesg (seq INTEGER PRIMARY KEY, t_ns INTEGER NOT NULL, line TEXT NOT NULL)",
]


def all_statements() -> list[str]:
    from pyxl.xenstore.schema import SCHEMA as XS_SCHEMA

    return CORE_SCHEMA + list(XS_SCHEMA)


def _v2_xs_conn(conn: sqlite3.Connection) -> None:
    """XenStore connections tied to a process (xs_conn), so a killed
    xenstore-watch no longer holds its watches for good."""
    from pyxl.xenstore.schema import add_conns

    add_conns(conn)


# schema version -> function bringing a database from version-1 to version.
MIGRATIONS: dict[int, "callable[[sqlite3.Connection], None]"] = {2: _v2_xs_conn}
