"""The host database's tables, and how to migrate old ones.

One row per domain and per vCPU (their fields as JSON, so the dataclasses in
pyxl/hv/model.py can grow without a migration for every field), one row per
XenStore node (pyxl/xenstore/schema.py), the console logs and Xen's console
ring. `meta` holds the host-wide scalars: boot options, clock, domid rover.
`xl_monitor` is the toolstack's own: xl's monitor process for each domain.
"""

from __future__ import annotations

import json
import sqlite3

SCHEMA_VERSION = 3

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
XL_MONITOR = """CREATE TABLE IF NOT EXISTS xl_monitor (
    domid INTEGER PRIMARY KEY,
    active INTEGER NOT NULL,  -- xl's monitor still waits for the domain's death
    log TEXT NOT NULL         -- its log (xl-NAME.log), a JSON list of lines
)"""


def all_statements() -> list[str]:
    from pyxl.xenstore.schema import SCHEMA as XS_SCHEMA

    return CORE_SCHEMA + [XL_MONITOR] + list(XS_SCHEMA)


def _v2_xs_conn(conn: sqlite3.Connection) -> None:
    """XenStore connections tied to a process (xs_conn), so a killed
    xenstore-watch no longer holds its watches for good."""
    from pyxl.xenstore.schema import add_conns

    add_conns(conn)


def _v3_guest_state(conn: sqlite3.Connection) -> None:
    """The guest's state keeps only the guest's: xl's monitor gets its own
    table, and HVM_PARAM_CALLBACK_IRQ goes to Xen's view of the domain."""
    conn.execute(XL_MONITOR)
    rows = conn.execute("SELECT domid, data, guest FROM domains").fetchall()
    for domid, data, text in rows:
        try:
            guest, dom = json.loads(text), json.loads(data)
        except (TypeError, ValueError, RecursionError):
            continue  # reported as damaged where it is read
        if not isinstance(guest, dict) or not isinstance(dom, dict):
            continue
        if {"monitored", "monitor_log"} & guest.keys():
            conn.execute("INSERT INTO xl_monitor(domid, active, log) VALUES (?, ?, ?)",
                         (domid, int(guest.pop("monitored", False) is True),
                          json.dumps(guest.pop("monitor_log", []))))
        if guest.pop("callback_irq", 0):
            dom["hvm_params"] = {"CALLBACK_IRQ": 1}
            conn.execute("UPDATE domains SET data = ? WHERE domid = ?", (json.dumps(dom), domid))
        conn.execute("UPDATE domains SET guest = ? WHERE domid = ?", (json.dumps(guest), domid))


# schema version -> function bringing a database from version-1 to version.
MIGRATIONS: dict[int, "callable[[sqlite3.Connection], None]"] = {2: _v2_xs_conn,
                                                                  3: _v3_guest_state}
