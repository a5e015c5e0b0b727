"""sched-trace --dry-run keeps nothing, even on a host whose clock follows the wall."""

import json
import sqlite3
import time


def dump(host: str) -> list[str]:
    """Every row of the host's database, to compare before and after a command."""
    from pyxl.state.paths import db_path

    conn = sqlite3.connect(db_path(host))
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_dry_run_on_a_realtime_clock_commits_nothing(pyxl, write_cfg, monkeypatch):
    assert pyxl("host", "boot", "rt", "--cpus", "1", "--clock", "realtime").code == 0
    cfg = 'name = "a"\ntype = "pvh"\nkernel = "/k"\nmemory = 128\nworkload = "busy"\n'
    assert pyxl("--host", "rt", "create", "-q", write_cfg(cfg)).code == 0
    before = dump("rt")
    wall = time.time
    monkeypatch.setattr(time, "time", lambda: wall() + 5.0)  # 5 s of catch-up to run
    r = pyxl("--host", "rt", "sched-trace", "100ms", "--dry-run", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["committed"] is False
    assert dump("rt") == before
