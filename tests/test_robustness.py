"""Concurrent scripts, killed commands and broken state files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import spawn

LAUNCHER = Path(__file__).resolve().parent / "_launch_with_delay.py"
WRITERS = 8  # shell loops racing each other


def test_concurrent_create_destroy_keeps_host_consistent(tmp_path, state_dir):
    """Eight shell loops at once, each creating and destroying a domain."""
    _race(tmp_path, state_dir, loops=1)


@pytest.mark.slow
def test_concurrent_create_destroy_many_rounds(tmp_path, state_dir):
    """The same race, 25 rounds per loop: 600 pyxl processes."""
    _race(tmp_path, state_dir, loops=25)


def _race(tmp_path, state_dir, loops):
    """Each command its own process, so only the database lock orders them."""
    script = tmp_path / "loop.sh"
    script.write_text(f"""#!/bin/bash
set -u
for j in $(seq 1 {loops}); do
  n="w$1-$j"
  {sys.executable} -m pyxl create -q /dev/null "name=\\"$n\\"" 'kernel="/k"' memory=64 || echo "create $n failed $?"
  {sys.executable} -m pyxl domid $n >> {tmp_path}/domids.$1 || echo "domid $n failed"
  {sys.executable} -m pyxl destroy $n || echo "destroy $n failed $?"
done
""")
    spawn("list")  # boot first, so the loops race on commands, not on boot
    procs = [subprocess.Popen(["bash", str(script), str(i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=dict(os.environ))
             for i in range(WRITERS)]
    outputs = [p.communicate(timeout=900) for p in procs]
    for out, err in outputs:
        assert out == "" and err == "", (out, err)
    domids = []
    for i in range(WRITERS):
        domids += [int(x) for x in (tmp_path / f"domids.{i}").read_text().split()]
    assert len(domids) == WRITERS * loops  # nothing lost
    assert len(set(domids)) == WRITERS * loops  # every domid unique
    listing = spawn("list").stdout.splitlines()
    assert len(listing) == 2 and listing[1].startswith("Domain-0")
    assert _xs_directory(state_dir, "/local/domain") == ["0"]
    assert _xs_directory(state_dir, "/libxl") == []


def _xs_directory(state_dir, path):
    import sqlite3

    from pyxl.xenstore.store import XenStore

    conn = sqlite3.connect(state_dir / "localhost" / "state.db", isolation_level=None)
    try:
        return XenStore(conn).directory(path)
    finally:
        conn.close()


def test_killed_command_leaves_last_committed_state(tmp_path, state_dir):
    cfg = tmp_path / "vm.cfg"
    cfg.write_text('name="vm1"\ntype="pv"\nkernel="/k"\nmemory=128\n')
    spawn("list")
    marker = tmp_path / "about-to-commit"
    p = subprocess.Popen([sys.executable, str(LAUNCHER), str(marker), "60",
                          "create", "-q", str(cfg)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(marker, p)  # everything written, nothing committed
    finally:
        p.send_signal(signal.SIGKILL)
        p.communicate()
    after = spawn("list")
    assert after.returncode == 0
    assert [line.split()[0] for line in after.stdout.splitlines()[1:]] == ["Domain-0"]
    assert _xs_directory(state_dir, "/local/domain") == ["0"]
    # and the host still works: the same create now succeeds
    assert spawn("create", "-q", str(cfg)).returncode == 0
    assert "vm1" in spawn("list").stdout


def _wait_for(marker, proc, limit_s=60.0):
    """Until `proc` says it is about to commit (it must not exit first)."""
    deadline = time.monotonic() + limit_s
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "pyxl never reached its commit"
        time.sleep(0.02)


def _break(state_dir, how):
    db = state_dir / "localhost" / "state.db"
    for extra in ("state.db-wal", "state.db-shm"):
        (state_dir / "localhost" / extra).unlink(missing_ok=True)
    if how == "garbage":
        db.write_bytes(b"this is not a database at all" * 100)
    elif how == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    elif how == "empty":
        db.write_bytes(b"")
    return db


def test_corrupt_or_truncated_state_gives_one_line(state_dir):
    assert spawn("host", "boot", "--cpus", "2").returncode == 0
    for how in ("garbage", "truncated", "empty"):
        assert spawn("create", "-q", "/dev/null", 'name="a"', 'kernel="/k"').returncode == 0
        db = _break(state_dir, how)
        p = spawn("list")
        assert p.returncode == 1, (how, p.stderr)
        assert "Traceback" not in p.stderr
        assert p.stderr.count("\n") == 1, p.stderr
        assert str(db) in p.stderr
        assert "pyxl --host localhost host reset" in p.stderr
        assert spawn("host", "reset").returncode == 0
        listing = spawn("list").stdout.splitlines()
        assert [line.split()[0] for line in listing[1:]] == ["Domain-0"]
        assert spawn("info", "nr_cpus").stdout == "2\n"  # reset kept the boot options


def test_internal_errors_are_one_line_without_traceback(state_dir):
    env = {"PYXL_STATE_DIR": str(state_dir / "file-not-dir")}
    (state_dir).mkdir(parents=True, exist_ok=True)
    (state_dir / "file-not-dir").write_text("x")
    p = spawn("list", env=env)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1

