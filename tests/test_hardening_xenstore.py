"""XenStore hardening: watches die with their process, the memory quota
binds, and out-of-range numbers on the xenstore-* command lines are refused
in one line instead of an internal error."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from pyxl.sim.processes import alive, start_time, this_process
from pyxl.sim.schema import SCHEMA_VERSION
from pyxl.xenstore.errors import XenStoreError
from pyxl.xenstore.schema import apply_schema
from pyxl.xenstore.store import XenStore

HUGE = "99999999999999999999"
DOMU = 1


def errno_of(fn, *args, **kw):
    with pytest.raises(XenStoreError) as info:
        fn(*args, **kw)
    return info.value.errno


@pytest.fixture
def conn(tmp_path):
    c = sqlite3.connect(str(tmp_path / "xs.db"), isolation_level=None)
    c.execute("PRAGMA synchronous=OFF")
    apply_schema(c)
    XenStore.boot(c)
    yield c
    c.close()


def dead_pid() -> int:
    """The pid of a process that has exited and been waited for."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def Store(conn, caller: int = 0, **kw) -> XenStore:
    """The store as a host opens it: told by the OS which processes still run."""
    return XenStore(conn, caller, conn_alive=alive, **kw)


def domu_home(xs: XenStore, d: int) -> None:
    xs.mkdir(f"/local/domain/{d}/data")
    xs.set_perms(f"/local/domain/{d}/data", [f"n{d}"])


# --------------------------------------------------- watches die with their process

def spawn_watcher(*paths: str) -> subprocess.Popen:
    """A real `xenstore-watch` in domain 1, once its watches are registered."""
    p = subprocess.Popen([sys.executable, "-m", "pyxl", "--as-domid", str(DOMU),
                          "xenstore-watch", *paths], stdout=subprocess.PIPE, text=True)
    first = p.stdout.readline()       # the initial event: registration committed
    assert first == paths[0] + "\n", first
    return p


def test_killed_watchers_give_back_the_watch_quota(pyxl, guest_cfg):
    assert pyxl("create", "-q", "-p", guest_cfg()).code == 0   # paused: no guest watches
    held = [f"data/w{i}" for i in range(127)]                   # quota 128: 127 allowed
    live = spawn_watcher(*held[:27])
    doomed = [spawn_watcher(*held[27 + 50 * k:77 + 50 * k]) for k in range(2)]
    try:
        r = pyxl("--as-domid", "1", "xenstore-watch", "-n", "1", "data")
        assert (r.code, r.err) == (1, "xenstore-watch: Unable to add watch on data\n\n")
        for p in doomed:
            p.send_signal(signal.SIGKILL)
            p.wait()
        r = pyxl("--as-domid", "1", "xenstore-watch", "-n", "1", "data")
        assert (r.code, r.out, r.err) == (0, "data\n", "")
        # The live watcher kept its 27 watches: 100 came free, not 127.
        r = pyxl("--as-domid", "1", "xenstore-watch", "-n", "1", *held[27:127], "data")
        assert r.code == 1 and r.err.startswith("xenstore-watch: Unable to add watch on data")
        assert pyxl("--as-domid", "1", "xenstore-watch", "-n", "1", *held[27:126]).code == 0
    finally:
        for p in [live, *doomed]:
            p.kill()
            p.wait()


def test_watcher_cleans_up_after_itself_on_sigterm(pyxl, guest_cfg):
    pyxl("create", "-q", "-p", guest_cfg())
    p = spawn_watcher(*[f"data/w{i}" for i in range(127)])
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == -signal.SIGTERM           # it dies of the signal, as the real one
    assert pyxl("--as-domid", "1", "xenstore-watch", "-n", "1", "data").code == 0


def test_connection_of_a_reused_pid_is_reaped(conn):
    pid, start = this_process()
    assert start is None or start == start_time(pid)
    xs = Store(conn, 0, conn_id="me")
    xs.bind_process(pid, start)
    xs.watch("/a", "t")
    assert xs.reap() == 0 and xs.pending_events()
    if start is None:
        pytest.skip("this platform does not tell when a process started")
    other = Store(conn, 0, conn_id="was-me")
    other.bind_process(pid, start + 1)          # same pid, another process
    other.watch("/a", "t")
    assert other.reap() == 1
    assert other.pending_events() == [] and xs.pending_events()


def test_dead_and_zombie_processes_are_not_alive():
    pid, start = this_process()
    assert alive(pid, start)
    assert not alive(dead_pid(), None)
    if not hasattr(os, "waitid"):
        pytest.skip("no waitid() to leave a zombie behind")
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
        assert not alive(zombie.pid, None)
    finally:
        zombie.wait()


def test_pruning_the_change_log_reaps_dead_connections(conn):
    xs = Store(conn, 0, conn_id="gone")
    xs.bind_process(dead_pid(), None)
    xs.watch("/a", "t")
    writer = Store(conn, 0)
    for i in range(300):                        # the log is pruned every 256 changes
        writer.write("/a", b"%d" % i)
    assert conn.execute("SELECT COUNT(*) FROM xs_watch").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM xs_conn").fetchone()[0] == 0


def test_transaction_quota_reaps_dead_connections(conn):
    dom0 = Store(conn, 0)
    domu_home(dom0, 5)
    dead = Store(conn, 5, conn_id="gone")
    dead.bind_process(dead_pid(), None)
    ids = [dead.transaction_start() for _ in range(9)]
    assert ids and Store(conn, 5).transaction_start()


def test_release_domain_forgets_its_connections(conn):
    dom0 = Store(conn, 0)
    domu_home(dom0, 5)
    dom0.introduce_domain(5)
    Store(conn, 5, conn_id="w").bind_process(*this_process())
    dom0.release_domain(5)
    assert conn.execute("SELECT COUNT(*) FROM xs_conn").fetchone()[0] == 0


def test_old_database_adopts_watchers_of_before(pyxl, state_dir):
    pyxl("list")
    db = next(state_dir.rglob("state.db"))
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("DROP TABLE xs_conn")
    c.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    pid = dead_pid()
    c.execute("INSERT INTO xs_watch (conn_id, path, token, domid, depth, relative, reg_seq)"
              " VALUES (?, '/a', 't', 0, NULL, 0, 1)", (f"xenstore-watch:{pid}:77",))
    c.close()
    assert pyxl("list").code == 0
    c = sqlite3.connect(db)
    try:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                         ).fetchone()[0] == str(SCHEMA_VERSION)
        assert c.execute("SELECT conn_id, domid, pid, pid_start FROM xs_conn").fetchall() == [
            (f"xenstore-watch:{pid}:77", 0, pid, None)]
    finally:
        c.close()


# ------------------------------------------------------------------- memory quota

def test_memory_quota_counts_nodes_copies_and_watches(conn):
    dom0 = Store(conn, 0)
    domu_home(dom0, 5)
    domu = Store(conn, 5)
    domu.write("data/k", b"x" * 100)
    # Node header 16, one perm 8, value, child names ("k\0"), then the path.
    used = (16 + 8 + 2 + len("/local/domain/5/data")
            + 16 + 8 + 100 + len("/local/domain/5/data/k"))
    dom0.set_quota("memory", used + 1, domid=5)
    before = conn.execute("SELECT value FROM xs_node WHERE path LIKE '%/k'").fetchall()
    assert errno_of(domu.write, "data/k", b"x" * 101) == "EIO"
    assert conn.execute("SELECT value FROM xs_node WHERE path LIKE '%/k'").fetchall() == before
    domu.write("data/k", b"x" * 100)               # the same size still fits
    assert errno_of(domu.watch, "data", "t") == "ENOMEM"
    dom0.set_quota("memory", used + 1 + len("/local/domain/5/data") + 1, domid=5)
    domu.watch("data", "t")
    tx = domu.transaction_start()
    domu.read("data/k", tx)                        # a read copy is charged too ...
    assert errno_of(domu.write, "data/k", b"y", tx) == "EIO"   # ... so no room left
    domu.transaction_end(tx, False)
    dom0.write("/local/domain/5/data/big", b"z" * 1000)  # dom0 is not bound
    dom0.set_quota("memory", 0, domid=5)           # 0 disables it
    domu.write("data/k", b"x" * 1500)


def set_domain_quota(state_dir, domid: int, name: str, value: int) -> None:
    """What `xenstore-control quota-set` would do (pyxl has no such command)."""
    c = sqlite3.connect(next(state_dir.rglob("state.db")), isolation_level=None)
    try:
        Store(c, 0).set_quota(name, value, domid=domid)
    finally:
        c.close()


def test_memory_quota_through_the_cli(pyxl, guest_cfg, state_dir):
    pyxl("create", "-q", "-p", guest_cfg())
    set_domain_quota(state_dir, DOMU, "memory", 64 * 1024)
    value = "v" * 2000
    pairs = [x for i in range(40) for x in (f"data/n{i}", value)]
    r = pyxl("--as-domid", "1", "xenstore-write", *pairs)
    assert r.code == 1 and r.out == ""
    assert r.err.startswith("xenstore-write: could not write path data/n")
    assert r.err.count("\n") == 1
    assert pyxl("xenstore-exists", "/local/domain/1/data/n0").code == 1  # all or nothing
    made = 0
    while pyxl("--as-domid", "1", "xenstore-write", *pairs[2 * made:2 * made + 2]).code == 0:
        made += 1
    assert 25 < made < 32          # 64 KiB / (2000 bytes + 24 + path) each
    assert pyxl("xenstore-write", "/local/domain/1/data/dom0", value).code == 0  # dom0: free
    long_watch = "data/" + "w" * 1100          # path and token: more than one node's room
    r = pyxl("--as-domid", "1", "xenstore-watch", "-n", "1", long_watch)
    assert (r.code, r.err) == (1, f"xenstore-watch: Unable to add watch on {long_watch}\n\n")
    assert pyxl("--as-domid", "1", "xenstore-rm", "data/n0", "data/n1").code == 0
    assert pyxl("--as-domid", "1", "xenstore-watch", "-n", "1", long_watch).code == 0


@pytest.mark.slow
def test_memory_quota_with_default_quotas(pyxl, guest_cfg):
    """1000 nodes of at most 2 KiB cannot reach the 2.5 MiB memory quota
    alone; a transaction's copies of them can."""
    pyxl("create", "-q", "-p", guest_cfg())
    value = "v" * 2000
    for g in range(9):
        pairs = [x for i in range(100) for x in (f"data/g{g}/n{i}", value)]
        assert pyxl("--as-domid", "1", "xenstore-write", *pairs).code == 0
    tx = pyxl("--as-domid", "1", "xenstore-transaction", "start").out.strip()
    failed = None
    for g in range(9):
        pairs = [x for i in range(100) for x in (f"data/g{g}/n{i}", "w" + value[1:])]
        r = pyxl("--as-domid", "1", "xenstore-write", "-T", tx, *pairs)
        if r.code:
            failed = r
            break
    assert failed is not None, "the memory quota never bound"
    assert failed.code == 1
    assert failed.err.startswith(f"xenstore-write: could not write path data/g{g}/n")
    assert failed.err.count("\n") == 1
    assert pyxl("xenstore-write", f"/local/domain/1/data/g{g}/dom0", value).code == 0
    assert pyxl("--as-domid", "1", "xenstore-transaction", "abort", tx).code == 0
    assert pyxl("--as-domid", "1", "xenstore-write", "data/g0/n0", "again").code == 0


# --------------------------------------------------------- numbers out of range

@pytest.mark.parametrize("txid", [HUGE, "4294967296", "\u00b2"])
def test_read_with_bad_transaction_id(pyxl, txid):
    pyxl("xenstore-write", "/k", "v")
    r = pyxl("xenstore-read", "-T", txid, "/k")
    assert (r.code, r.out, r.err) == (1, "", f"xenstore-read: invalid transaction id '{txid}'\n")


@pytest.mark.parametrize("verb", ["commit", "abort"])
@pytest.mark.parametrize("txid", [HUGE, "-1", "4294967296", "\u00b2"])
def test_transaction_end_with_bad_id(pyxl, verb, txid):
    tx = pyxl("xenstore-transaction", "start").out.strip()
    r = pyxl("xenstore-transaction", verb, txid)
    assert (r.code, r.out) == (1, "")
    assert r.err == f"xenstore-transaction: invalid transaction id '{txid}'\n"
    assert pyxl("xenstore-transaction", "commit", tx).code == 0   # untouched


# atoi keeps the low 32 bits of strtol's saturated long: 2^63-1 -> -1 (no
# depth: the child is seen); -2^63 -> 0 and 2^32 -> 0 (depth 0: it is not).
@pytest.mark.parametrize("depth,first", [(HUGE, "/tool/c"), ("-" + HUGE, "/tool"),
                                         ("4294967296", "/tool")])
def test_watch_depth_parsed_like_atoi(pyxl, depth, first):
    pyxl("xenstore-ls")
    w = subprocess.Popen([sys.executable, "-m", "pyxl", "xenstore-watch", "-d", depth,
                          "-n", "2", "/tool"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert w.stdout.readline() == "/tool\n"
        pyxl("xenstore-write", "/tool/c", "1")
        pyxl("xenstore-write", "/tool", "2")
        out, err = w.communicate(timeout=60)
    finally:
        w.kill()
    assert (w.returncode, out, err) == (0, first + "\n", "")


def test_engine_refuses_ids_and_depths_beyond_the_wire(conn):
    xs = Store(conn, 0)
    assert errno_of(xs.read, "/tool", 1 << 70) == "ENOENT"
    assert errno_of(xs.transaction_end, 1 << 70, True) == "ENOENT"
    assert errno_of(xs.transaction_start, 1 << 70) == "ENOENT"
    assert errno_of(xs.watch, "/tool", "t", 1 << 70) == "EINVAL"
    assert errno_of(xs.watch, "/tool", "t", 1 << 31) == "EINVAL"
    xs.watch("/tool", "t", (1 << 31) - 1)


@pytest.mark.parametrize("tool", ["xenstore-rm", "xenstore-read", "xenstore-ls",
                                  "xenstore-exists", "xenstore-list", "xenstore-write"])
def test_a_path_that_is_not_utf8_is_einval_not_an_internal_error(tool):
    args = [b"/a\xc3(", b"x"] if tool == "xenstore-write" else [b"/a\xc3("]
    r = subprocess.run([sys.executable, "-m", "pyxl", tool.encode(), *args],
                       capture_output=True)
    assert r.returncode == 1 and b"internal error" not in r.stderr
    if tool == "xenstore-exists":      # says nothing, as the real one
        assert r.stderr == b""
    else:
        assert r.stderr.count(b"\n") == 1 and b"/a\xc3(" in r.stderr
