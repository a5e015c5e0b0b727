"""The xenstore-* tools through the CLI: layout, escaping, permissions, errors."""

from __future__ import annotations

import subprocess
import sys
import time

from conftest import spawn


def test_ls_domain_layout_and_perms(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg()).code == 0
    r = pyxl("xenstore-ls", "-p", "/local/domain/1")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].startswith('vm = "/vm/') and lines[0].endswith("(n0,r1)")
    assert 'name = "vm1" ' + ". " * 23 + ".  (n0,r1)" in lines
    assert any(l.startswith(" shutdown = \"\"") and l.endswith("(n1)") for l in lines)
    assert any(l.startswith(" target = \"524288\"") for l in lines)
    assert any(l.startswith(" backend-id = \"0\"") and l.endswith("(n1,r0)") for l in lines)
    r = pyxl("xenstore-ls", "-p")
    assert '   name = "Domain-0" . . . . . . . . . . . . . . . . . . . .  (n0)' in r.out
    assert pyxl("destroy", "vm1").code == 0
    assert pyxl("xenstore-exists", "/local/domain/1").code == 1
    assert pyxl("xenstore-list", "/libxl").out == ""


def test_read_write_escaping_and_raw(pyxl):
    assert pyxl("xenstore-write", "/a", "x\\ty\\x1b\\001\\\\").code == 0
    assert pyxl("xenstore-read", "/a").out == "x\\ty\\x1b\\001\\\\\n"
    assert pyxl("xenstore-read", "-p", "-R", "/a").out == "/a: x\ty\x1b\x01\\"
    assert pyxl("xenstore-write", "-R", "/b", "a\\tb").code == 0
    assert pyxl("xenstore-read", "/b").out == "a\\\\tb\n"
    r = pyxl("xenstore-write", "/a")
    assert r.code == 1 and r.err == "xenstore-write: Usage: xenstore-write [-h] [-R] key value [...]\n"


def test_ls_truncates_at_80_columns(pyxl):
    pyxl("xenstore-write", "/long", "v" * 100)
    line = pyxl("xenstore-ls", "/").out.splitlines()[-1]
    assert line == 'long = "' + "v" * 68 + '\\..."'
    flat = pyxl("xenstore-ls", "-f", "/").out.splitlines()[-1]
    assert flat == '/long = "' + "v" * 100 + '"'


def test_rm_tidy_list_prefix_chmod(pyxl):
    pyxl("xenstore-write", "/t/u/v", "1")
    assert pyxl("xenstore-list", "-p", "/t").out == "/t/u\n"
    assert pyxl("xenstore-rm", "-t", "/t/u/v").code == 0
    assert pyxl("xenstore-exists", "/t").code == 1
    pyxl("xenstore-write", "/c/d", "1")
    assert pyxl("xenstore-chmod", "-r", "/c", "n0", "r5").code == 0
    assert "(n0,r5)" in pyxl("xenstore-ls", "-p", "/c").out
    r = pyxl("xenstore-chmod", "/c", "x5")
    assert r.code == 1 and r.err == "xenstore-chmod: Invalid permission specification: 'x'\n"
    r = pyxl("xenstore-rm", "/nope/deeper")
    assert r.code == 1 and r.err == "xenstore-rm: could not remove path /nope/deeper\n"


def test_permission_matrix_as_domu(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("a"))
    pyxl("create", "-q", guest_cfg("b"))
    before = pyxl("xenstore-ls", "-p", "/").out
    denied = [
        ("xenstore-read", "/local/domain/2/name"), ("xenstore-read", "/local/domain/0/name"),
        ("xenstore-list", "/local/domain"), ("xenstore-read", "/libxl/1/type"),
        ("xenstore-write", "/local/domain/1/name", "evil"),
        ("xenstore-write", "/local/domain/2/data/x", "1"),
        ("xenstore-write", "/local/domain/1/memory/target", "1"),
        ("xenstore-chmod", "/local/domain/1/name", "b1"),
        ("xenstore-rm", "/local/domain/1/name"),
    ]
    for args in denied:
        r = pyxl("--as-domid", "1", *args)
        assert r.code == 1, args
        assert r.err.startswith(args[0] + ": "), (args, r.err)
    assert pyxl("xenstore-ls", "-p", "/").out == before
    allowed = [("xenstore-read", "name"), ("xenstore-write", "data/x", "1"),
               ("xenstore-write", "control/shutdown", ""), ("xenstore-ls", "memory")]
    for args in allowed:
        assert pyxl("--as-domid", "1", *args).code == 0, args
    for args in denied:
        assert pyxl(*args).code == 0, args


def test_privileged_commands_fail_in_domu(pyxl):
    r = pyxl("--as-domid", "3", "list")
    assert r.code == 1 and "cannot init xl context" in r.err


def test_bad_paths(pyxl):
    for bad in ("/a b", "/a//b", "/a/", "/" + "x" * 3100, "@foo"):
        r = pyxl("xenstore-write", bad, "1")
        assert r.code == 1 and r.err == f"xenstore-write: could not write path {bad}\n"
    r = pyxl("--as-domid", "1", "xenstore-read", "x" * 2100)
    assert r.code == 1


def test_quota_nodes_for_domu(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg())
    made = 0
    for group in range(30):
        args = []
        for j in range(40):
            args += [f"data/g{group}/n{j}", "1"]
        r = pyxl("--as-domid", "1", "xenstore-write", *args)
        if r.code:
            assert r.err.startswith("xenstore-write: could not write path data/g")
            break
        made += 41
    assert 900 < made < 1000  # nodes quota 1000: at most 999 owned nodes
    assert pyxl("xenstore-exists", f"/local/domain/1/data/g{group}").code == 1
    assert pyxl("xenstore-write", "/local/domain/1/data/dom0made", "1").code == 0


def test_transaction_conflict_through_cli(pyxl):
    pyxl("xenstore-write", "/k", "0")
    tx = pyxl("xenstore-transaction", "start").out.strip()
    assert pyxl("xenstore-read", "-T", tx, "/k").out == "0\n"
    assert pyxl("xenstore-write", "-T", tx, "/k", "tx").code == 0
    assert pyxl("xenstore-read", "/k").out == "0\n"
    assert pyxl("xenstore-write", "/k", "other").code == 0
    r = pyxl("xenstore-transaction", "commit", tx)
    assert r.code == 1 and "Resource temporarily unavailable (EAGAIN)" in r.err
    assert pyxl("xenstore-read", "/k").out == "other\n"
    tx = pyxl("xenstore-transaction", "start").out.strip()
    pyxl("xenstore-write", "-T", tx, "/k", "mine")
    assert pyxl("xenstore-transaction", "commit", tx).code == 0
    assert pyxl("xenstore-read", "/k").out == "mine\n"


def test_concurrent_writers(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-m", "pyxl", "xenstore-write",
                               *sum(([f"/w/p{i}/k{j}", str(j)] for j in range(20)), [])])
             for i in range(4)]
    assert all(p.wait(60) == 0 for p in procs)
    out = spawn("xenstore-ls", "/w").stdout
    assert out.count("k") == 80


def test_watch_sees_mem_set_from_another_process(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg())
    w = subprocess.Popen([sys.executable, "-m", "pyxl", "xenstore-watch", "-n", "2",
                          "/local/domain/1/memory/target"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # let the watcher register (its first line is the initial event)
        assert spawn("mem-set", "1", "256").returncode == 0
        out, _ = w.communicate(timeout=30)
    finally:
        w.kill()
    assert out == "/local/domain/1/memory/target\n" * 2
    r = pyxl("xenstore-read", "/local/domain/1/memory/target")
    assert r.out == "262144\n"
