"""xl remus through the CLI: checkpoints reach a backup host, which fails
over to the last one when the primary domain or its host is destroyed; xl's
option conflicts and the paths libxl refuses.

remus runs until its primary is gone, so the tests run it as a process and
drive its checkpoints by advancing the primary's manual clock."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

WAIT_S = 60


def _up(pyxl, guest_cfg) -> None:
    assert pyxl("create", "-q", guest_cfg(extra='vif = ["bridge=xenbr0"]\n')).code == 0
    assert pyxl("clock", "advance", "3s").code == 0
    pyxl("--host", "lab2", "list")  # boots lab2


def _remus(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pyxl", "remus", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))


def _until(check, proc) -> None:
    """Poll until `check()` holds (the remus process must still be running)."""
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "remus did not get there"
        time.sleep(0.1)


def _rows(pyxl, *host: str) -> dict[str, list[str]]:
    out = pyxl(*host, "list").out.splitlines()[1:]
    return {line.split()[0]: line.split() for line in out}


def _backup_mark(pyxl) -> str:
    return pyxl("--host", "lab2", "xenstore-read", "/local/domain/1/data/mark").out.strip()


def _checkpointed(pyxl, proc, interval: str) -> None:
    """remus running with two checkpoints taken, each carrying a mark: one
    each time the primary's clock moves by the interval."""
    _until(lambda: "vm1--incoming" in _rows(pyxl, "--host", "lab2"), proc)
    assert "p" in _rows(pyxl, "--host", "lab2")["vm1--incoming"][4]
    for mark in ("one", "two"):
        assert pyxl("xenstore-write", "/local/domain/1/data/mark", mark).code == 0
        assert _backup_mark(pyxl) != mark
        assert pyxl("clock", "advance", interval).code == 0
        _until(lambda m=mark: _backup_mark(pyxl) == m, proc)
    rows = _rows(pyxl, "--host", "lab2")
    assert "vm1" not in rows and "p" in rows["vm1--incoming"][4]  # kept, never run
    assert "vm1" in _rows(pyxl)  # the primary runs on


def test_checkpoints_reach_the_backup_and_failover_on_destroy(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    proc = _remus("-i", "100", "vm1", "lab2")
    try:
        _checkpointed(pyxl, proc, "100ms")
        assert pyxl("destroy", "vm1").code == 0
        _out, err = proc.communicate(timeout=WAIT_S)
    finally:
        proc.kill() if proc.poll() is None else None
    lines = err.splitlines()
    assert proc.returncode == 0, err
    assert "migration target: Remus Failover for domain 1" in lines
    assert lines[-1] == "Remus: Primary domain has been destroyed."
    assert lines.count("xc: info: Saving domain 1, type x86 PV") == 1
    rows = _rows(pyxl, "--host", "lab2")
    assert "vm1--incoming" not in rows and "p" not in rows["vm1"][4]
    assert _backup_mark(pyxl) == "two"  # the last checkpoint's state


def test_failover_when_the_primary_host_is_destroyed(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    proc = _remus("vm1", "lab2")  # every 200 ms
    try:
        _checkpointed(pyxl, proc, "200ms")
        assert pyxl("xenstore-write", "/local/domain/1/data/mark", "lost").code == 0
        assert pyxl("host", "destroy", "localhost").code == 0
        _out, err = proc.communicate(timeout=WAIT_S)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 1, err
    assert "migration target: Remus Failover for domain 1" in err.splitlines()
    assert "Primary domain has been destroyed" not in err
    hosts = [line.split()[0] for line in pyxl("host", "list").out.splitlines()[1:]]
    assert hosts == ["lab2"]  # remus did not boot a new primary as it died
    rows = _rows(pyxl, "--host", "lab2")
    assert list(rows) == ["Domain-0", "vm1"] and "p" not in rows["vm1"][4]
    assert _backup_mark(pyxl) == "two"


@pytest.mark.parametrize("args, message", [
    (["-p"], "Option -p must be used in conjunction with -c"),
    (["-c", "-i", "100"], "option -c is conflict with -i, -d, -n or -b: Success\n"),
    (["-c", "-b"], "option -c is conflict with -i, -d, -n or -b: Success\n"),
    (["-c", "-n", "-u"], "option -c is conflict with -i, -d, -n or -b: Success\n"),
    (["-c", "-d"], "option -c is conflict with -i, -d, -n or -b: Success\n"),
])
def test_option_conflicts_exit_255(pyxl, guest_cfg, args, message):
    _up(pyxl, guest_cfg)
    before = pyxl("list").out, pyxl("--host", "lab2", "list").out
    r = pyxl("remus", *args, "vm1", "lab2")
    assert (r.code, r.err, r.out) == (255, message, "")
    assert (pyxl("list").out, pyxl("--host", "lab2", "list").out) == before


def test_unsafe_options_need_F(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    r = pyxl("remus", "-b", "vm1", "lab2")
    assert r.code == 1
    assert r.err.splitlines()[0] == (
        "libxl: error: libxl_domain.c:446:libxl_domain_remus_start: Domain 1:Unsafe mode "
        "must be enabled to replicate to /dev/null,disable network buffering and disk "
        "replication")
    assert "Remus: Backup failed? resuming domain at primary." in r.err.splitlines()
    rows = _rows(pyxl)
    assert "s" not in rows["vm1"][4] and "p" not in rows["vm1"][4]


def test_colo_is_not_built(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    r = pyxl("remus", "-c", "-u", "vm1", "lab2")
    assert r.code == 1
    lines = r.err.splitlines()
    assert ("libxl: error: libxl_no_colo.c:42:libxl__colo_save_setup: Domain 1:"
            "COLO is not supported") in lines
    assert "COLO: Backup failed? resuming domain at primary." in lines
    assert "vm1" in _rows(pyxl)
    assert list(_rows(pyxl, "--host", "lab2")) == ["Domain-0"]


def test_one_argument_is_xl_usage(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    r = pyxl("remus", "vm1")
    assert r.code == 2 and r.err == "'xl remus' requires at least 2 arguments.\n\n"
    assert r.out.startswith("Usage: xl [-vtTf] remus [options] <Domain> [<host>]")
