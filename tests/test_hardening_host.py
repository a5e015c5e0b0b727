"""Hardening of paths, the host's lifecycle, its state and --as-domid.

Guest-chosen names never become paths; a domU reaches only XenStore; `host
reset` swaps a whole new database in, under the host's lock, so a bad
host.toml, a SIGKILL or a concurrent command never leaves a different host;
a damaged database is one "unreadable ...; host reset" line, while one the OS
refuses (size limit, permissions) says what the OS said instead.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import pytest
from conftest import spawn

from pyxl.cli.cmdtable import CMD_TABLE

NO_CTX = ("xencall: error: Could not obtain handle on privileged command interface: "
          "No such file or directory\n"
          "libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: "
          "No such file or directory\n"
          "cannot init xl context\n")


def _db(state_dir, host="localhost"):
    return state_dir / host / "state.db"


def _dump(path) -> list[str]:
    """The database's whole content, to compare before and after."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _tree(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not p.name.endswith(("-wal", "-shm")))


def _names(listing: str) -> list[str]:
    return [line.split()[0] for line in listing.splitlines()[1:]]


# --- 1. a domain name never becomes a path ---

@pytest.mark.parametrize("name", ["../../victim/state.db", "../../../x"])
def test_core_dump_is_named_by_domid_and_uuid(pyxl, state_dir, tmp_path, name):
    assert pyxl("host", "boot", "victim").code == 0
    victim = _db(state_dir, "victim").read_bytes()
    outside = sorted(p.name for p in tmp_path.iterdir())
    r = pyxl("create", "-q", "/dev/null", f'name="{name}"', 'kernel="/k"', "memory=64",
             'on_crash="coredump-destroy"')
    assert r.code == 0, r.err
    pyxl("clock", "advance", "3s")
    uuid = pyxl("xenstore-read", "/local/domain/1/vm").out.strip().removeprefix("/vm/")
    # the guest panics itself, through its own control/sysrq
    assert pyxl("--as-domid", "1", "xenstore-write", "control/sysrq", "c").code == 0
    pyxl("clock", "advance", "1s")
    assert _names(pyxl("list").out) == ["Domain-0"]
    assert _db(state_dir, "victim").read_bytes() == victim
    assert sorted(p.name for p in tmp_path.iterdir()) == outside
    assert [p.name for p in (state_dir / "localhost" / "dump").iterdir()] == [
        f"1-{uuid}.core"]


def test_core_dump_never_follows_a_link_out(pyxl, state_dir, tmp_path):
    pyxl("create", "-q", "/dev/null", 'name="vm1"', 'kernel="/k"', "memory=64",
         'on_crash="coredump-destroy"')
    outside = tmp_path / "outside"
    outside.mkdir()
    (state_dir / "localhost" / "dump").symlink_to(outside)
    pyxl("clock", "advance", "3s")
    assert pyxl("sysrq", "vm1", "c").code == 0
    r = pyxl("clock", "advance", "1s")
    assert r.code == 0, r.err
    assert _names(pyxl("list").out) == ["Domain-0"]  # destroyed all the same
    assert list(outside.iterdir()) == []


def test_host_toml_linked_out_is_neither_read_nor_written(pyxl, state_dir, tmp_path):
    pyxl("host", "boot", "rr", "--cpus", "2")
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text("precious\n")
    toml = state_dir / "rr" / "host.toml"
    toml.unlink()
    toml.symlink_to(elsewhere)
    r = pyxl("--host", "rr", "host", "reset")
    assert r.code == 1 and r.err.count("\n") == 1 and "leads outside" in r.err, r.err
    assert elsewhere.read_text() == "precious\n"


# --- 2. inside a domU, only the xenstore-* clients work ---

DOMU_ARGS = {
    "create": ["/dev/null", 'name="x"', 'kernel="/k"'], "destroy": ["vm1"],
    "shutdown": ["vm1"], "reboot": ["vm1"], "pause": ["vm1"], "unpause": ["vm1"],
    "console": ["vm1"], "mem-max": ["vm1", "256"], "mem-set": ["vm1", "128"],
    "button-press": ["vm1", "power"], "vcpu-pin": ["vm1", "0", "1"],
    "vcpu-set": ["vm1", "1"], "sched-credit": ["-d", "vm1", "-w", "512"],
    "sched-credit2": ["-d", "vm1", "-w", "512"], "sched-rtds": ["-d", "vm1"],
    "domid": ["vm1"], "domname": ["1"], "rename": ["vm1", "vm2"],
    "trigger": ["vm1", "reset"], "sysrq": ["vm1", "c"], "dmesg": ["-c"],
    "top": ["-b", "-i", "1"], "cpupool-create": ['name="p1"'],
    "cpupool-destroy": ["Pool-0"], "cpupool-rename": ["Pool-0", "P"],
    "cpupool-cpu-add": ["Pool-0", "1"], "cpupool-cpu-remove": ["Pool-0", "1"],
    "cpupool-migrate": ["vm1", "Pool-0"], "host": ["reset"], "clock": ["advance", "5s"],
    "workload": ["vm1", "busy"], "sched-trace": ["100ms"],
}
DOMU_CASES = [[spec.name, *DOMU_ARGS.get(spec.name, [])]
              for spec in CMD_TABLE if not spec.name.startswith("xenstore-")]
DOMU_CASES += [["host", "boot", "other"], ["host", "destroy"], ["host", "list"],
               ["clock", "show"], ["no-such-command"]]


@pytest.fixture
def guest_host(pyxl, state_dir):
    assert pyxl("create", "-q", "/dev/null", 'name="vm1"', 'kernel="/k"',
                "memory=128").code == 0
    pyxl("clock", "advance", "2s")
    return lambda: (_dump(_db(state_dir)), _tree(state_dir))


@pytest.mark.parametrize("argv", DOMU_CASES, ids=" ".join)
def test_every_command_but_xenstore_fails_in_a_domu(pyxl, guest_host, argv):
    before = guest_host()
    r = pyxl("--as-domid", "1", *argv)
    assert (r.code, r.out, r.err) == (1, "", NO_CTX)
    assert guest_host() == before


def test_pyxl_as_domid_env_is_a_domu_too(pyxl, guest_host, monkeypatch):
    before = guest_host()
    monkeypatch.setenv("PYXL_AS_DOMID", "1")
    r = pyxl("destroy", "vm1")
    assert (r.code, r.err) == (1, NO_CTX)
    assert guest_host() == before


def test_help_and_xenstore_still_work_in_a_domu(pyxl, guest_host):
    r = pyxl("--as-domid", "1", "help")
    assert r.code == 0 and r.out.startswith("Usage xl")
    r = pyxl("--as-domid", "1", "xenstore-read", "name")
    assert (r.code, r.out) == (0, "vm1\n")


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "-1", "", "1\n"])
def test_bad_as_domid_is_one_line(pyxl, state_dir, value):
    r = pyxl("--as-domid", value, "list")
    assert r.code == 1 and r.err.count("\n") == 1 and r.out == ""
    assert r.err.startswith("invalid --as-domid '") and "internal error" not in r.err
    assert not state_dir.exists()  # nothing booted


# --- 3. host reset: validated first, swapped in whole, under the host's lock ---

def _rr_with_guest(pyxl):
    assert pyxl("host", "boot", "rr", "--cpus", "2", "--clock", "manual").code == 0
    assert pyxl("--host", "rr", "create", "-q", "/dev/null", 'name="vm1"', 'kernel="/k"',
                "memory=64").code == 0


def test_reset_with_bad_host_toml_changes_nothing(pyxl, state_dir):
    _rr_with_guest(pyxl)
    toml = state_dir / "rr" / "host.toml"
    toml.write_text(toml.read_text().replace("cpus = 2", "cpus = 0"))
    before = _dump(_db(state_dir, "rr"))
    r = pyxl("--host", "rr", "host", "reset")
    assert r.code == 1 and r.err.count("\n") == 1, r.err
    assert str(toml) in r.err and "cpus 0" in r.err
    assert _dump(_db(state_dir, "rr")) == before


@pytest.mark.parametrize("text", ["[boot]\ncpus = 'two'\n", "[boot]\nbogus = 1\n",
                                  "not toml at all", "[boot]\nnodes = 0\n"])
def test_unusable_host_toml_is_one_line(pyxl, state_dir, text):
    _rr_with_guest(pyxl)
    (state_dir / "rr" / "host.toml").write_text(text)
    r = pyxl("--host", "rr", "host", "reset")
    assert r.code == 1 and r.err.count("\n") == 1 and "host.toml" in r.err, r.err
    assert "vm1" in pyxl("--host", "rr", "list").out


def test_reset_with_toml_and_database_lost_boots_defaults_and_says_so(pyxl, state_dir):
    _rr_with_guest(pyxl)
    (state_dir / "rr" / "host.toml").unlink()
    _db(state_dir, "rr").write_bytes(b"garbage" * 100)
    r = pyxl("--host", "rr", "list")
    assert r.code == 1 and "host reset" in r.err
    r = pyxl("--host", "rr", "host", "reset")
    assert r.code == 0 and r.err.count("\n") == 1 and "defaults" in r.err, r.err
    assert _names(pyxl("--host", "rr", "list").out) == ["Domain-0"]
    assert pyxl("--host", "rr", "info", "nr_cpus").out == "8\n"
    assert (state_dir / "rr" / "host.toml").is_file()


def test_reset_without_host_toml_keeps_the_databases_options(pyxl, state_dir):
    _rr_with_guest(pyxl)
    (state_dir / "rr" / "host.toml").unlink()
    assert pyxl("--host", "rr", "host", "reset").code == 0
    assert pyxl("--host", "rr", "info", "nr_cpus").out == "2\n"
    assert "cpus = 2" in (state_dir / "rr" / "host.toml").read_text()


def test_missing_database_boots_from_host_toml(pyxl, state_dir):
    _rr_with_guest(pyxl)
    _db(state_dir, "rr").unlink()
    assert pyxl("--host", "rr", "info", "nr_cpus").out == "2\n"
    assert _names(pyxl("--host", "rr", "list").out) == ["Domain-0"]


def test_reset_of_a_missing_host_creates_nothing(pyxl, state_dir):
    r = pyxl("--host", "nope", "host", "reset")
    assert (r.code, r.err) == (1, "host 'nope' does not exist\n")
    assert not (state_dir / "nope").exists()


@pytest.mark.parametrize("rounds", [4, pytest.param(30, marks=pytest.mark.slow)])
def test_concurrent_resets_and_lists_keep_the_boot_options(pyxl, tmp_path, rounds):
    assert pyxl("host", "boot", "rr", "--cpus", "2", "--clock", "manual").code == 0
    script = tmp_path / "loop.sh"
    script.write_text(f"""#!/bin/bash
for j in $(seq 1 {rounds}); do
  {sys.executable} -m pyxl --host rr "$@" >/dev/null || echo "$* failed $?"
done
""")
    procs = [subprocess.Popen(["bash", str(script), *cmd], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for cmd in (["host", "reset"], ["list"], ["host", "reset"], ["clock", "show"])]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert (out, err) == ("", ""), (p.args, out, err)
    assert pyxl("--host", "rr", "info", "nr_cpus").out == "2\n"
    assert "mode:     manual" in pyxl("--host", "rr", "clock", "show").out
    assert _names(pyxl("--host", "rr", "list").out) == ["Domain-0"]


# A launcher that runs pyxl and SIGKILLs it at one moment: the hook lives here,
# in the tests, not in pyxl.
KILLER = r"""
import os, signal, sqlite3, sys
point = sys.argv[1]
def die():
    os.kill(os.getpid(), signal.SIGKILL)
real_connect, real_replace = sqlite3.connect, os.replace
def connect(path, *a, **kw):
    if point == "build" and str(path).endswith(".tmp"):
        die()
    return real_connect(path, *a, **kw)
def replace(src, dst, *a, **kw):
    is_db = str(dst).endswith("state.db")
    if point == "before-swap" and is_db:
        die()
    real_replace(src, dst, *a, **kw)
    if point == "after-swap" and is_db:
        die()
sqlite3.connect, os.replace = connect, replace
if point == "after-commit":
    from pyxl.state import db
    db.Database.close = lambda self: die()
from pyxl.cli.main import main
main(sys.argv[2:])
"""


def _killed(point, *argv):
    p = subprocess.run([sys.executable, "-c", KILLER, point, *argv], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr)


@pytest.mark.parametrize("point,survivor", [("build", "old"), ("before-swap", "old"),
                                            ("after-swap", "new")])
def test_killed_reset_leaves_the_old_host_or_the_new(pyxl, state_dir, point, survivor):
    assert pyxl("host", "boot", "rr", "--cpus", "2", "--clock", "manual").code == 0
    # a create killed after its commit leaves its transaction in the WAL only
    _killed("after-commit", "--host", "rr", "create", "-q", "/dev/null", 'name="vm1"',
            'kernel="/k"', "memory=64")
    assert os.path.getsize(f"{_db(state_dir, 'rr')}-wal") > 0
    _killed(point, "--host", "rr", "host", "reset")
    conn = sqlite3.connect(_db(state_dir, "rr"))
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    listing = pyxl("--host", "rr", "list")
    assert listing.code == 0, listing.err
    expected = ["Domain-0", "vm1"] if survivor == "old" else ["Domain-0"]
    assert _names(listing.out) == expected
    assert pyxl("--host", "rr", "info", "nr_cpus").out == "2\n"
    assert pyxl("--host", "rr", "host", "reset").code == 0


# --- 6. bad input: one line, xl's status, never an internal error ---

def _one_line(r, code=1):
    assert r.code == code, (r.code, r.err)
    assert r.err.count("\n") == 1, r.err
    assert "internal error" not in r.err and "Traceback" not in r.err


def test_host_name_must_match_whole(pyxl, state_dir):
    r = pyxl("--host", "x\n", "list")
    _one_line(r)
    assert r.err.startswith("invalid host name 'x\\n'")
    assert not state_dir.exists()


@pytest.mark.parametrize("where", ["/dev/null", "/proc/self", "a-file", "a-file/below"])
def test_state_dir_that_cannot_hold_hosts(pyxl, tmp_path, monkeypatch, where):
    (tmp_path / "a-file").write_text("x")
    target = where if where.startswith("/") else str(tmp_path / where)
    monkeypatch.setenv("PYXL_STATE_DIR", target)
    r = pyxl("list")
    _one_line(r)
    assert "cannot create the folder of host 'localhost'" in r.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_state_dir(pyxl, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("PYXL_STATE_DIR", str(locked))
    r = pyxl("list")
    _one_line(r)
    assert "Permission denied" in r.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unreadable_database_is_not_called_corrupt(pyxl, state_dir):
    pyxl("list")
    folder = state_dir / "localhost"
    _db(state_dir).chmod(0o000)
    try:
        r = pyxl("list")
    finally:
        _db(state_dir).chmod(0o644)
    _one_line(r)
    assert "Permission denied" in r.err and "host reset" not in r.err
    folder.chmod(0o500)
    try:
        r = pyxl("create", "-q", "/dev/null", 'name="vm1"', 'kernel="/k"')
    finally:
        folder.chmod(0o755)
    _one_line(r)
    assert "Permission denied" in r.err and "host reset" not in r.err


def _limit_file_size():
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_file_size_limit_is_not_called_corrupt(state_dir):
    assert spawn("create", "-q", "/dev/null", 'name="vm1"', 'kernel="/k"').returncode == 0
    p = spawn("create", "-q", "/dev/null", 'name="vm2"', 'kernel="/k"',
              preexec_fn=_limit_file_size)
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert "File too large" in p.stderr and "host reset" not in p.stderr
    assert _names(spawn("list").stdout) == ["Domain-0", "vm1"]  # the host is healthy


def test_shm_that_is_a_directory_is_not_called_corrupt(pyxl, state_dir):
    pyxl("list")
    shm = state_dir / "localhost" / "state.db-shm"
    shm.mkdir()
    r = pyxl("create", "-q", "/dev/null", 'name="vm1"', 'kernel="/k"')
    _one_line(r)
    assert "state.db-shm: Is a directory" in r.err and "host reset" not in r.err
    shm.rmdir()
    assert pyxl("create", "-q", "/dev/null", 'name="vm1"', 'kernel="/k"').code == 0


def test_host_folder_that_is_a_symlink(pyxl, state_dir, tmp_path):
    pyxl("host", "boot", "real")
    elsewhere = tmp_path / "elsewhere"
    (state_dir / "real").rename(elsewhere)
    (state_dir / "linked").symlink_to(elsewhere)
    (state_dir / "dangling").symlink_to(tmp_path / "nowhere")
    before = _dump(elsewhere / "state.db")
    for host in ("linked", "dangling"):
        r = pyxl("--host", host, "list")
        _one_line(r)
        assert "is a symbolic link" in r.err
    assert "linked                   (unusable: " in pyxl("host", "list").out
    assert pyxl("host", "destroy", "linked").code == 0
    assert not (state_dir / "linked").exists()
    assert _dump(elsewhere / "state.db") == before  # only the link went
    assert not (tmp_path / "nowhere").exists()


DAMAGE = [
    ("meta boot", "UPDATE meta SET value = '{' WHERE key = 'boot'", ["list"]),
    ("meta boot values", """UPDATE meta SET value = '{"cpus": 0}' WHERE key = 'boot'""",
     ["list"]),
    ("domains.data", "UPDATE domains SET data = 'nope' WHERE domid = 1", ["list"]),
    ("domains.data type", "UPDATE domains SET data = '[1]' WHERE domid = 1", ["list"]),
    ("vcpus.data", """UPDATE vcpus SET data = '{"x": 1}' WHERE domid = 1""", ["list"]),
    ("guest", "UPDATE domains SET guest = '{' WHERE domid = 1", ["clock", "advance", "1s"]),
    ("config", "UPDATE domains SET config = '{' WHERE domid = 1", ["list", "-l"]),
    ("xs_node.perms", "UPDATE xs_node SET perms = 'q!' WHERE path = '/local'",
     ["xenstore-ls", "/local"]),
    ("xs_node.perms empty", "UPDATE xs_node SET perms = '' WHERE path = '/local'",
     ["xenstore-ls", "/local"]),
    ("schema_version x", "UPDATE meta SET value = 'x' WHERE key = 'schema_version'", ["list"]),
    ("schema_version 0", "UPDATE meta SET value = '0' WHERE key = 'schema_version'", ["list"]),
    ("no cpupools", "DELETE FROM cpupools", ["list"]),
    ("no meta now_ns", "DELETE FROM meta WHERE key = 'now_ns'", ["list"]),
    ("wall_anchor", "UPDATE meta SET value = 'nan' WHERE key = 'wall_anchor'", ["list"]),
]


@pytest.mark.parametrize("sql,argv", [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_damaged_contents_say_unreadable_and_reset(pyxl, state_dir, sql, argv):
    pyxl("host", "boot", "--cpus", "2")
    assert pyxl("create", "-q", "/dev/null", 'name="vm1"', 'kernel="/k"').code == 0
    conn = sqlite3.connect(_db(state_dir))
    conn.execute(sql)
    conn.commit()
    conn.close()
    r = pyxl(*argv)
    _one_line(r)
    assert r.err.startswith(f"pyxl: the state database {_db(state_dir)} of host 'localhost' "
                            "is unreadable (")
    assert r.err.endswith("; start it afresh with: pyxl --host localhost host reset\n")
    assert pyxl("host", "reset").code == 0
    assert _names(pyxl("list").out) == ["Domain-0"]
    assert pyxl("info", "nr_cpus").out == "2\n"
