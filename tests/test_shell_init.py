"""pyxl shell-init: Xen's command names as shell functions, run through a real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import run_pyxl

NAMES = ("xl", "xm", "xentop", "xenstore-read", "xenstore-write", "xenstore-ls",
         "xenstore-list", "xenstore-rm", "xenstore-exists", "xenstore-chmod", "xenstore-watch")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_every_name_is_a_function_with_undo(shell):
    r = run_pyxl("shell-init", shell)
    assert r.code == 0 and r.err == ""
    undo = "functions -e" if shell == "fish" else "unset -f"
    assert f"# Undo:   {undo} {' '.join(NAMES)}\n" in r.out
    for name in NAMES:
        defined = f"function {name};" if shell == "fish" else f"{name}() {{"
        assert defined in r.out


def test_an_unknown_shell_is_one_line():
    r = run_pyxl("shell-init", "ksh")
    assert (r.code, r.out, r.err) == (1, "", "pyxl: unknown shell 'ksh' (bash, zsh or fish)\n")


@pytest.fixture
def bash_env(tmp_path):
    """A PATH with `pyxl` (this interpreter's) and `pyxm` stubs and the system's
    basics; skip without bash or where a real Xen's tools would be found."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, run in (("pyxl", f'exec {sys.executable} -m pyxl "$@"'), ("pyxm", 'echo "pyxm $*"')):
        path = bindir / name
        path.write_text(f"#!/bin/sh\n{run}\n")
        path.chmod(0o755)
    path = f"{bindir}:/usr/bin:/bin"
    if shutil.which("xentop", path="/usr/bin:/bin") or shutil.which("xl", path="/usr/bin:/bin"):
        pytest.skip("a real Xen install is on PATH")
    return bash, dict(os.environ, PATH=path)


def _bash(bash_env, script: str) -> subprocess.CompletedProcess:
    bash, env = bash_env
    return subprocess.run([bash, "--norc", "-c", f'eval "$(pyxl shell-init bash)"\n{script}'],
                          capture_output=True, text=True, env=env)


def test_xentop_batch_through_the_functions(bash_env):
    p = _bash(bash_env, "xentop -b -i 3")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["NAME", "Domain-0"] * 3
    assert "xentop" not in p.stderr


def test_xl_xm_and_xenstore_names_reach_pyxl(bash_env):
    p = _bash(bash_env, "xl list | tail -n 1 | awk '{print $1}'\n"
                        "xenstore-read /local/domain/0/name\n"
                        "xm list -l\n")
    assert (p.returncode, p.stdout) == (0, "Domain-0\nDomain-0\npyxm list -l\n"), p.stderr


def test_the_undo_line_removes_every_function(bash_env):
    undo = f"unset -f {' '.join(NAMES)}"
    p = _bash(bash_env, f"{undo}\nfor n in {' '.join(NAMES)}; do type -t $n; done; echo done")
    assert (p.returncode, p.stdout) == (0, "done\n")


def test_a_command_already_on_path_is_not_shadowed(bash_env, tmp_path):
    bash, env = bash_env
    real = tmp_path / "bin" / "xentop"
    real.write_text("#!/bin/sh\necho real xentop\n")
    real.chmod(0o755)
    p = _bash(bash_env, "xentop -b\ntype -t xl")
    assert (p.returncode, p.stdout) == (0, "real xentop\nfunction\n"), p.stderr
