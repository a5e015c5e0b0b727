"""Catching a host up to "now": only the guests due are looked at (the wake
index), and a read-only command on a realtime host where nothing can happen
meanwhile writes nothing (issue 9)."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from pyxl.sim.guest import WAKE_NEVER
from pyxl.sim.schema import SCHEMA_VERSION

GUEST = 'name = "{name}"\ntype = "pv"\nkernel = "/k"\nmemory = 64\n'


def _db(state_dir, host: str = "localhost") -> sqlite3.Connection:
    return sqlite3.connect(state_dir / host / "state.db", isolation_level=None)


def _ok(r):
    assert r.code == 0, r.err
    return r


def _create(pyxl, write_cfg, name: str, *opts: str) -> None:
    _ok(pyxl(*opts, "create", "-q", write_cfg(GUEST.format(name=name), f"{name}.cfg")))


def _gap(state_dir, seconds: float, host: str = "rt") -> None:
    """Make the realtime host look idle for `seconds` (what that much wall
    time since the last command means to pyxl: see bench/bench_table.py)."""
    conn = _db(state_dir, host)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'wall_anchor'",
                 (repr(time.time() - seconds),))
    conn.close()


def _wakes(state_dir, host: str = "localhost") -> dict[int, object]:
    conn = _db(state_dir, host)
    rows = dict(conn.execute("SELECT domid, wake_ns FROM domains"))
    conn.close()
    return rows


def _now(pyxl, *opts: str) -> int:
    return json.loads(_ok(pyxl(*opts, "clock", "show", "--json")).out)["now_ns"]


@pytest.fixture
def rt(pyxl):
    """A realtime host named rt; its commands take these options."""
    _ok(pyxl("host", "boot", "rt", "--clock", "realtime"))
    return ("--host", "rt")


# --- a realtime host acts on what is due, whatever the gap --------------------


def test_a_booting_guest_boots_during_a_gap(pyxl, write_cfg, state_dir, rt):
    _create(pyxl, write_cfg, "vm1", *rt)
    _gap(state_dir, 5)
    r = _ok(pyxl(*rt, "xenstore-read", "/local/domain/1/control/feature-poweroff"))
    assert r.out == "1\n"  # its PV drivers came up during the gap
    assert _wakes(state_dir, "rt")[1] == WAKE_NEVER  # booted, idle: nothing planned


def test_a_pending_shutdown_request_is_obeyed_after_a_gap(pyxl, write_cfg, state_dir, rt):
    _create(pyxl, write_cfg, "vm1", *rt)
    _gap(state_dir, 5)
    _ok(pyxl(*rt, "list"))
    _ok(pyxl(*rt, "shutdown", "vm1"))
    assert "vm1" in _ok(pyxl(*rt, "list")).out
    _gap(state_dir, 5)
    assert "vm1" not in _ok(pyxl(*rt, "list")).out


# --- a quiet realtime host: read-only commands write nothing ------------------


def _idle_realtime_host(pyxl, write_cfg, state_dir, rt) -> None:
    _create(pyxl, write_cfg, "vm1", *rt)
    _create(pyxl, write_cfg, "vm2", *rt)
    _gap(state_dir, 5)
    _ok(pyxl(*rt, "list"))  # booted and idle now
    _gap(state_dir, 3)


def test_read_only_commands_on_a_quiet_realtime_host_write_nothing(pyxl, write_cfg,
                                                                   state_dir, rt):
    _idle_realtime_host(pyxl, write_cfg, state_dir, rt)
    conn = _db(state_dir, "rt")
    version = conn.execute("PRAGMA data_version").fetchone()
    meta = conn.execute("SELECT * FROM meta ORDER BY key").fetchall()
    first = _now(pyxl, *rt)
    listed = _ok(pyxl(*rt, "list")).out
    assert "vm1" in listed and "vm2" in listed
    assert _ok(pyxl(*rt, "domid", "vm2")).out == "2\n"
    assert _ok(pyxl(*rt, "xenstore-read", "/local/domain/2/name")).out == "vm2\n"
    second = _now(pyxl, *rt)
    assert conn.execute("PRAGMA data_version").fetchone() == version  # nothing committed
    assert conn.execute("SELECT * FROM meta ORDER BY key").fetchall() == meta
    stored = int(dict(meta)["now_ns"])
    assert second >= first >= stored + 3_000_000_000  # now, not the stored moment
    conn.close()


def test_a_quiet_host_is_caught_up_as_soon_as_something_is_due(pyxl, write_cfg,
                                                               state_dir, rt):
    _idle_realtime_host(pyxl, write_cfg, state_dir, rt)
    _create(pyxl, write_cfg, "vm3", *rt)  # boots: due again
    conn = _db(state_dir, "rt")
    version = conn.execute("PRAGMA data_version").fetchone()
    _gap(state_dir, 5)
    assert _ok(pyxl(*rt, "xenstore-read", "/local/domain/3/control/feature-poweroff")).out \
        == "1\n"
    assert conn.execute("PRAGMA data_version").fetchone() != version
    conn.close()


# --- the wake index: damaged means "look", never "skip" -----------------------


@pytest.mark.parametrize("damage", [None, "'garbage'", "1e300", "x'00'"])
def test_a_damaged_wake_entry_still_steps_the_guest(pyxl, write_cfg, state_dir, damage):
    _create(pyxl, write_cfg, "vm1")  # booting: its drivers come up in 150 ms
    conn = _db(state_dir)
    conn.execute(f"UPDATE domains SET wake_ns = {'NULL' if damage is None else damage} "
                 "WHERE domid = 1")
    conn.close()
    _ok(pyxl("clock", "advance", "5s"))
    assert _ok(pyxl("xenstore-read", "/local/domain/1/control/feature-poweroff")).out == "1\n"
    assert _wakes(state_dir)[1] == WAKE_NEVER  # set right again


def test_a_stale_wake_entry_is_corrected_when_the_guest_is_looked_at(pyxl, write_cfg,
                                                                     state_dir):
    _create(pyxl, write_cfg, "vm1")
    _ok(pyxl("clock", "advance", "5s"))
    conn = _db(state_dir)
    conn.execute("UPDATE domains SET wake_ns = 1 WHERE domid = 1")  # too early: harmless
    conn.close()
    _ok(pyxl("clock", "advance", "1s"))
    assert _wakes(state_dir)[1] == WAKE_NEVER


def test_guests_not_due_are_not_loaded(pyxl, write_cfg, state_dir, monkeypatch):
    from pyxl.sim import rows

    for name in ("vm1", "vm2", "vm3"):
        _create(pyxl, write_cfg, name)
    _ok(pyxl("clock", "advance", "5s"))  # all booted and idle
    _create(pyxl, write_cfg, "vm4")  # booting
    loaded = []
    real = rows.guest_state
    monkeypatch.setattr(rows, "guest_state",
                        lambda text, domid: loaded.append(domid) or real(text, domid))
    monkeypatch.setattr("pyxl.sim.host.guest_state", rows.guest_state)
    _ok(pyxl("clock", "advance", "5s"))
    assert loaded == [4]
    assert _ok(pyxl("xenstore-read", "/local/domain/4/control/feature-poweroff")).out == "1\n"


# --- an old database gets the index ----------------------------------------------


def test_the_migration_from_version_3_fills_the_wake_index(pyxl, write_cfg, state_dir):
    _create(pyxl, write_cfg, "idle")
    _ok(pyxl("clock", "advance", "5s"))
    _create(pyxl, write_cfg, "booting")  # its drivers come up 150 ms from now
    now = _now(pyxl)
    conn = _db(state_dir)
    conn.execute("DROP INDEX domains_wake")
    conn.execute("ALTER TABLE domains DROP COLUMN wake_ns")
    conn.execute("DROP INDEX domains_memkb")
    conn.execute("ALTER TABLE domains DROP COLUMN memkb")
    conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()

    assert "booting" in _ok(pyxl("list")).out  # migrates
    assert _wakes(state_dir) == {0: WAKE_NEVER, 1: WAKE_NEVER, 2: now + 150_000_000}
    conn = _db(state_dir)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
        == (str(SCHEMA_VERSION),)
    conn.close()
    _ok(pyxl("clock", "advance", "5s"))
    assert _ok(pyxl("xenstore-read", "/local/domain/2/control/feature-poweroff")).out == "1\n"


def _memkb(state_dir) -> dict[int, object]:
    conn = _db(state_dir)
    rows = dict(conn.execute("SELECT domid, memkb FROM domains"))
    conn.close()
    return rows


def test_the_memory_index_follows_each_domain_and_the_migration_fills_it(
        pyxl, write_cfg, state_dir):
    _create(pyxl, write_cfg, "idle")
    assert _memkb(state_dir)[1] == 64 * 1024
    _ok(pyxl("mem-set", "idle", "32m"))
    _ok(pyxl("clock", "advance", "5s"))  # the balloon gives the pages back
    assert _memkb(state_dir)[1] == 32 * 1024
    free = _ok(pyxl("info")).out
    conn = _db(state_dir)
    conn.execute("DROP INDEX domains_memkb")
    conn.execute("ALTER TABLE domains DROP COLUMN memkb")
    conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    conn.close()
    assert _ok(pyxl("info")).out == free  # migrates; the same free memory
    rows = _memkb(state_dir)
    conn = _db(state_dir)
    stored = {domid: json.loads(data)["tot_memkb"]
              for domid, data in conn.execute("SELECT domid, data FROM domains")}
    conn.close()
    assert rows == stored and set(rows) == {0, 1}


def test_a_starved_balloon_keeps_a_host_quiet_only_while_it_is_on_the_waiter_list(
        pyxl, write_cfg, state_dir, rt):
    _idle_realtime_host(pyxl, write_cfg, state_dir, rt)
    _ok(pyxl(*rt, "xenstore-write", "/local/domain/1/memory/target", str(128 * 1024)))
    _gap(state_dir, 3)  # the balloon finds max_pages in its way: asleep until memory is freed
    _ok(pyxl(*rt, "list"))
    conn = _db(state_dir, "rt")
    assert conn.execute("SELECT value FROM meta WHERE key = 'balloon_waiters'").fetchone() \
        == ("[1]",)
    _gap(state_dir, 3)
    version = conn.execute("PRAGMA data_version").fetchone()
    _ok(pyxl(*rt, "list"))
    assert conn.execute("PRAGMA data_version").fetchone() == version  # nothing to wake it
    conn.execute("UPDATE meta SET value = '[]' WHERE key = 'balloon_waiters'")  # list lost
    version = conn.execute("PRAGMA data_version").fetchone()
    _ok(pyxl(*rt, "list"))
    assert conn.execute("PRAGMA data_version").fetchone() != version  # it tried again
    assert conn.execute("SELECT value FROM meta WHERE key = 'balloon_waiters'").fetchone() \
        == ("[1]",)
    conn.close()
