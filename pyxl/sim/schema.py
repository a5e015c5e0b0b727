"""The host database's tables, and how to migrate old ones.

One row per domain and per vCPU (their fields as JSON, so the classes in
pyxl/hv/model.py can grow without a migration for every field), one row per
XenStore node (pyxl/xenstore/schema.py), the console logs and Xen's console
ring. `meta` holds the host-wide scalars: boot options, clock, domid rover.
`xl_monitor` is the toolstack's own: xl's monitor process for each domain.
"""

from __future__ import annotations

import json
import sqlite3

SCHEMA_VERSION = 5

# Which guests a command must load to run time forward: those due (pyxl/sim/host.py).
WAKE_INDEX = "CREATE INDEX IF NOT EXISTS domains_wake ON domains (wake_ns)"
# Each domain's memory beside its row: the host's free memory is a scan of
# this small index, not of every row (pyxl/sim/rows.py).
MEMKB_INDEX = "CREATE INDEX IF NOT EXISTS domains_memkb ON domains (memkb)"

CORE_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE domains (
        domid INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        data TEXT NOT NULL,          -- hv.model.Domain without its vcpus
        config TEXT,                 -- the domain's xl config, as JSON
        guest TEXT NOT NULL DEFAULT '{}',  -- the simulated guest OS's state
        wake_ns INTEGER,             -- wake index: the guest does nothing on its own
                                     -- before this (NULL or not an integer: look)
        memkb INTEGER                -- data's tot_memkb (NULL or not an integer: look)
    )""",
    WAKE_INDEX,
    MEMKB_INDEX,
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


def _v4_wake_index(conn: sqlite3.Connection) -> None:
    """The wake index, filled from each guest's stored state; a row that does
    not decode keeps NULL, which makes the next command look at it (and say
    what is damaged)."""
    from pyxl.sim.guest import wake_ns
    from pyxl.sim.rows import guest_state
    from pyxl.state.db import StateDamaged

    if "wake_ns" not in {row[1] for row in conn.execute("PRAGMA table_info(domains)")}:
        conn.execute("ALTER TABLE domains ADD COLUMN wake_ns INTEGER")
    conn.execute(WAKE_INDEX)
    wakes = []
    for domid, data, text in conn.execute("SELECT domid, data, guest FROM domains").fetchall():
        try:
            dom = json.loads(data)
            g = guest_state(text, domid)
        except (TypeError, ValueError, RecursionError, StateDamaged):
            continue
        if isinstance(dom, dict):
            wakes.append((wake_ns(_DomainFlags(domid, dom), g), domid))
    conn.executemany("UPDATE domains SET wake_ns = ? WHERE domid = ?", wakes)


class _DomainFlags:
    """The fields of a stored domain that its guest's wake time depends on."""

    def __init__(self, domid: int, dom: dict):
        self.domid = domid
        self.shutdown = dom.get("shutdown") is True
        self.dying = dom.get("dying") is True
        count = dom.get("pause_count")
        self.paused = type(count) is int and count > 0


def _v5_memkb_index(conn: sqlite3.Connection) -> None:
    """The memory index, filled from each stored domain; a row that does not
    decode keeps NULL, and is read (and reported damaged) when it counts."""
    if "memkb" not in {row[1] for row in conn.execute("PRAGMA table_info(domains)")}:
        conn.execute("ALTER TABLE domains ADD COLUMN memkb INTEGER")
    conn.execute(MEMKB_INDEX)
    sizes = []
    for domid, data in conn.execute("SELECT domid, data FROM domains").fetchall():
        try:
            dom = json.loads(data)
        except (TypeError, ValueError, RecursionError):
            continue
        if isinstance(dom, dict) and type(dom.get("tot_memkb")) is int:
            sizes.append((dom["tot_memkb"], domid))
    conn.executemany("UPDATE domains SET memkb = ? WHERE domid = ?", sizes)


# schema version -> function bringing a database from version-1 to version.
MIGRATIONS: dict[int, "callable[[sqlite3.Connection], None]"] = {2: _v2_xs_conn,
                                                                  3: _v3_guest_state,
                                                                  4: _v4_wake_index,
                                                                  5: _v5_memkb_index}
