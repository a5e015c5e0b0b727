"""The pyxl process (pyxl/launch.py): it leaves with os._exit once its output
is flushed, keeps its exit status, and exits normally under a profiler; and
xl's short options reach click as single letters (no NoSuchOption detour)."""

from __future__ import annotations

import subprocess
import sys

from conftest import spawn

# An atexit handler shows whether the interpreter's teardown ran.
LAUNCH = ("import atexit, sys\n"
          "atexit.register(lambda: print('teardown', file=sys.stderr))\n"
          "sys.argv = ['pyxl'] + sys.argv[1:]\n"
          "from pyxl.launch import pyxl\n"
          "pyxl()\n")


def launch(*args: str, profiled: bool = False) -> subprocess.CompletedProcess:
    code = LAUNCH
    if profiled:
        code = "import sys; sys.setprofile(lambda *a: None)\n" + code
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def test_output_and_status_survive_the_fast_exit():
    listed = launch("list")
    assert listed.returncode == 0
    assert listed.stdout.startswith("Name ") and "Domain-0" in listed.stdout
    assert "teardown" not in listed.stderr
    missing = launch("domid", "nosuch")
    assert missing.returncode == 1
    assert missing.stderr == ("Can't get domid of domain name 'nosuch', maybe this domain "
                              "does not exist.\n")
    bad = launch("list", "--no-such-option")
    assert (bad.returncode, bad.stderr) == (2, "option `\0' not supported.\n")


def test_output_still_in_the_buffer_is_flushed(guest_cfg):
    """Under 8 KiB to a pipe stays in stdout's buffer until the exit."""
    assert spawn("create", "-q", guest_cfg("vm1")).returncode == 0
    whole = spawn("xenstore-ls", "-f").stdout
    assert 2000 < len(whole) < 8192
    fast = launch("xenstore-ls", "-f")
    assert (fast.returncode, fast.stdout) == (0, whole)


def test_a_profiled_run_exits_normally():
    done = launch("list", profiled=True)
    assert done.returncode == 0 and "Domain-0" in done.stdout
    assert "teardown" in done.stderr


def test_pyxm_module_runs_through_the_launcher():
    done = subprocess.run([sys.executable, "-m", "pyxl.cli.xm", "list"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "Domain-0" in done.stdout


def loaded_after(*args: str) -> set[str]:
    code = ("import sys\n"
            "from pyxl.cli.main import main\n"
            "try:\n"
            "    main(sys.argv[1:])\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print(' '.join(sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.splitlines()[-1].split())


def test_short_options_need_no_failed_long_lookup():
    """click tries `-x` as a long option first; its NoSuchOption imports
    difflib for suggestions. A command's own short options skip that."""
    assert "difflib" not in loaded_after("sched-credit", "-d", "0", "-w", "512")


def test_pyxls_own_commands_search_no_translation_catalogue():
    """click's --help text goes through gettext, whose catalogue search
    loads `locale`; pyxl's own commands give theirs as it is."""
    assert "locale" not in loaded_after("clock", "advance", "1ms")
    assert "locale" not in loaded_after("host", "list")


def test_clusters_and_attached_values_parse_as_getopt(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg("vm1")).code == 0
    assert pyxl("sched-credit", "-dvm1", "-w512").code == 0
    assert pyxl("sched-credit", "-d", "vm1").out.split()[-2:] == ["512", "0"]
    # glibc keeps what follows the letter, '=' included: "-d=vm1" names "=vm1"
    r = pyxl("sched-credit", "-d=vm1")
    assert (r.code, r.err) == (1, "=vm1 is an invalid domain identifier (rc=-6)\n")
    bad = pyxl("console", "-tpv", "-n0", "nosuch")   # two attached values
    assert (bad.code, bad.err) == (1, "nosuch is an invalid domain identifier (rc=-6)\n")
    verbose = pyxl("list", "-lv")
    assert verbose.code == 0 and verbose.out == pyxl("list", "-l", "-v").out
