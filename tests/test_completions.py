"""The bash completion script completes commands and domain names through pyxl itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def complete(words: list[str], tmp_path, prog: str = "pyxl",
             module: str = "pyxl") -> list[str]:
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    (shim / prog).write_text(f"#!/bin/sh\nexec {sys.executable} -m {module} \"$@\"\n")
    (shim / prog).chmod(0o755)
    script = f"""
source {REPO / 'completions' / f'{prog}.bash'}
COMP_WORDS=({' '.join(repr(w) for w in words)})
COMP_CWORD={len(words) - 1}
_{prog}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}")
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return [line for line in p.stdout.splitlines() if line]


def test_completes_command_names(tmp_path):
    assert complete(["pyxl", "cre"], tmp_path) == ["create"]
    assert set(complete(["pyxl", "vcpu-"], tmp_path)) == {"vcpu-list", "vcpu-pin", "vcpu-set"}


def test_completes_domain_names_after_global_options(tmp_path):
    from conftest import spawn

    assert spawn("create", "-q", "/dev/null", 'name="web1"', 'kernel="/k"').returncode == 0
    assert complete(["pyxl", "-v", "pause", "we"], tmp_path) == ["web1"]
    assert complete(["pyxl", "--host", "localhost", "destroy", "Dom"], tmp_path) == ["Domain-0"]


def test_pyxm_completes_xm_commands_and_managed_domains(tmp_path, write_cfg):
    from conftest import spawn

    def pyxm(*words: str) -> list[str]:
        return complete(["pyxm", *words], tmp_path, "pyxm", "pyxl.cli.xm")

    assert pyxm("sus") == ["suspend"]
    assert set(pyxm("re")) == {"reboot", "restore", "resume"}
    cfg = write_cfg('name = "kept"\nkernel = "/boot/vmlinuz"\nmemory = 64\n', "kept.py")
    p = subprocess.run([sys.executable, "-m", "pyxl.cli.xm", "new", cfg], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    assert spawn("create", "-q", "/dev/null", 'name="web1"', 'kernel="/k"').returncode == 0
    assert pyxm("start", "ke") == ["kept"]
    assert pyxm("--host", "localhost", "pause", "we") == ["web1"]
    assert pyxm("start", "-") == ["-p", "-c", "--paused", "--console_autoconnect"]
