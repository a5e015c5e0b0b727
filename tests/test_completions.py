"""The bash completion script completes commands and domain names through pyxl itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def complete(words: list[str], tmp_path) -> list[str]:
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "pyxl").write_text(f"#!/bin/sh\nexec {sys.executable} -m pyxl \"$@\"\n")
    (shim / "pyxl").chmod(0o755)
    script = f"""
source {REPO / 'completions' / 'pyxl.bash'}
COMP_WORDS=({' '.join(repr(w) for w in words)})
COMP_CWORD={len(words) - 1}
_pyxl
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
