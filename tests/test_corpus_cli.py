"""The real-world configs of ../shared/corpus through `pyxl create -n`.

The corpus README marks each file valid or not; valid domain configs must be
accepted and print their JSON configuration, the others must be refused with
one line on stderr naming the file and the line.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import CORPUS

README = CORPUS.parent / "README.md"


def _table() -> list[tuple[str, str, str]]:
    rows = []
    for line in README.read_text().splitlines():
        m = re.match(r"^\| `configs/([^`]+)` \| [^|]* \| ([^|]*) \| ([^|]*) \|$", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3).strip()))
    return rows


ROWS = _table()
DOMAIN_VALID = [f for f, what, valid in ROWS if valid.startswith("yes") and "NOT a domain" not in what]
INVALID = [f for f, what, valid in ROWS if not valid.startswith("yes")]


def test_the_corpus_table_was_read():
    assert len(ROWS) == 21
    assert len(DOMAIN_VALID) == 17 and len(INVALID) == 2


@pytest.fixture
def numa_host(pyxl):
    # the vnuma config places vNUMA nodes on pnodes 0-3, so the host needs 4 nodes
    assert pyxl("host", "boot", "--cpus", "8", "--nodes", "4").code == 0


@pytest.mark.parametrize("name", DOMAIN_VALID)
def test_valid_config_dry_runs(pyxl, numa_host, name):
    path = str(CORPUS / name)
    r = pyxl("create", "-n", path)
    assert r.code == 0, r.err
    assert r.err.splitlines()[0] == f"Parsing config from {path}"
    config = json.loads(r.out)
    assert config["c_info"]["name"]
    assert config["c_info"]["type"] in ("pv", "hvm", "pvh")
    assert r.out.startswith('{\n    "c_info": {\n')
    # the global -N does the same
    assert pyxl("-N", "create", path).out == r.out


@pytest.mark.parametrize("name", INVALID)
def test_invalid_config_is_refused_with_file_and_line(pyxl, numa_host, name):
    path = str(CORPUS / name)
    r = pyxl("create", "-q", "-n", path)
    assert r.code == 1
    assert r.out == ""
    assert r.err.count("\n") == 1, r.err
    assert re.match(re.escape(path) + r":\d+: ", r.err), r.err
    assert "Traceback" not in r.err


def test_syntax_error_is_one_line_with_file_and_line(pyxl, write_cfg):
    path = write_cfg('name = "x"\nmemory = = 5\n')
    r = pyxl("create", "-q", path)
    assert r.code == 1
    assert r.err == f"{path}:2: config parsing error near `=': syntax error, unexpected '=', expecting STRING or NUMBER or '['\n"
    assert pyxl("list").out.count("\n") == 2  # nothing was created


def test_python_xm_config_is_refused(pyxl, write_cfg):
    path = write_cfg('import os\nname = "x"\n')
    r = pyxl("create", "-q", path)
    assert r.code == 1 and r.err.startswith(f"{path}:1: ")
    assert r.err.count("\n") == 1
