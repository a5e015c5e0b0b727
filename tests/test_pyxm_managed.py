"""pyxm's managed domains (xm new/start/delete/suspend/resume): definitions the
host keeps while no domain runs them, which xl does not have."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

KEPT = 'name = "kept"\nkernel = "/boot/vmlinuz"\nmemory = 256\nvcpus = 2\n'
HALTED_ROW = re.compile(r"^kept {36} {6} +256 +2 +------ +0\.0$", re.M)


@pytest.fixture
def kept(pyxm, write_cfg):
    """A managed domain `kept`, halted."""
    r = pyxm("new", write_cfg(KEPT, "kept.py"))
    assert r.code == 0 and r.err == "", r.err
    assert r.out.startswith('Using config file "') and r.out.count("\n") == 1
    return "kept"


def _uuid(pyxm, name: str) -> str:
    return re.search(r"\(uuid ([0-9a-f-]+)\)", pyxm("list", "-l", name).out).group(1)


def test_new_is_listed_halted_by_pyxm_not_by_pyxl(pyxm, pyxl, kept):
    r = pyxm("list")
    assert r.code == 0, r.err
    assert HALTED_ROW.search(r.out), r.out
    row = [line for line in r.out.splitlines() if line.startswith("kept")][0]
    assert row[41:46] == "     "  # xm's empty ID column
    assert HALTED_ROW.search(pyxm("list", "kept").out)
    assert "kept" not in pyxl("list").out
    long = pyxm("list", "-l", "kept").out
    assert long.startswith("(domain") and "(name kept)" in long and "(domid" not in long
    assert pyxm("list", "--state=running").out.count("\n") == 2  # header and Domain-0


def test_new_refuses_a_name_in_use(pyxm, pyxl, write_cfg, guest_cfg, kept):
    r = pyxm("new", "-q", write_cfg(KEPT, "again.py"))
    assert (r.code, r.err) == (1, "Error: VM name 'kept' already exists\n")
    assert pyxl("create", guest_cfg("web")).code == 0
    r = pyxm("new", "-q", write_cfg('name = "web"\nkernel = "/k"\n', "web.py"))
    assert (r.code, r.err) == (1, "Error: VM name 'web' already exists as domain 1\n")
    assert pyxm("list").out.count("\n") == 4  # header, Domain-0, web, kept: nothing added


def test_start_runs_the_definition_with_its_uuid(pyxm, pyxl, kept):
    uuid = _uuid(pyxm, "kept")
    r = pyxm("start", "kept")
    assert (r.code, r.out, r.err) == (0, "", "")
    rows = [line.split() for line in pyxm("list").out.splitlines() if line.startswith("kept")]
    assert len(rows) == 1 and rows[0][1] == "1"
    assert uuid in pyxl("list", "-v").out  # the domain xl sees is the definition's
    r = pyxm("start", "kept")
    assert r.code == 1 and r.err == "Error: Domain is already running\n"
    assert r.out.startswith("Usage: xm start <DomainName>")


def test_start_paused_and_errors(pyxm, pyxl, kept):
    assert pyxm("start", "-p", "kept").code == 0
    assert pyxl("list", "kept").out.split()[-2][2] == "p"
    r = pyxm("start", "nope")
    assert (r.code, r.err) == (3, "Error: Domain 'nope' does not exist.\n")
    r = pyxm("start")
    assert (r.code, r.err) == (1, "Error: Expects 1 argument\n")


def test_delete_only_when_halted(pyxm, pyxl, kept):
    assert pyxm("start", "kept").code == 0
    r = pyxm("delete", "kept")
    assert (r.code, r.err) == (1, "Error: Domain is not halted.\n")
    assert r.out.startswith("Usage: xm delete <DomainName>")
    assert pyxl("destroy", "kept").code == 0
    assert HALTED_ROW.search(pyxm("list").out)  # the definition outlives its domain
    assert pyxm("delete", "kept").code == 0
    assert "kept" not in pyxm("list").out
    r = pyxm("delete", "kept")
    assert (r.code, r.err) == (1, "Error: <Fault 3: 'kept'>\n")


def test_suspend_and_resume_keep_the_image_under_the_uuid(pyxm, pyxl, kept, state_dir):
    uuid = _uuid(pyxm, "kept")
    assert pyxm("start", "kept").code == 0
    r = pyxm("suspend", "kept")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert "kept" not in pyxl("list").out
    assert HALTED_ROW.search(pyxm("list").out)
    images = sorted(p.name for p in Path(state_dir).rglob("*.chk"))
    assert images == [f"{uuid}.chk"]
    assert pyxm("start", "kept").err == "Error: Domain is already running\n"
    assert pyxm("delete", "kept").err == "Error: Domain is not halted.\n"
    r = pyxm("resume", "-p", "kept")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert pyxl("list", "kept").out.split()[-2][2] == "p"
    assert uuid in pyxl("list", "-v").out
    assert list(Path(state_dir).rglob("*.chk")) == []
    r = pyxm("resume", "kept")
    assert (r.code, r.err) == (1, "Error: Error occurred when resuming: "
                                  "Cannot resume domain that is not suspended.\n")


def test_suspend_refusals(pyxm, pyxl, guest_cfg, kept):
    r = pyxm("suspend", "kept")
    assert (r.code, r.err) == (1, "Error: Domain is not running\n")
    assert r.out.startswith("Usage: xm suspend <DomainName>")
    assert pyxl("create", guest_cfg("plain")).code == 0
    r = pyxm("suspend", "plain")
    assert (r.code, r.err) == (1, "Error: Domain is not managed by Xend lifecycle support.\n")
    assert pyxl("list", "plain").code == 0  # left running
    r = pyxm("suspend", "0")
    assert (r.code, r.err) == (1, "Error: Cannot suspend privileged domain 0\n")
    r = pyxm("suspend", "nope")
    assert (r.code, r.err) == (3, "Error: Domain 'nope' does not exist.\n")


def test_resume_refusals(pyxm):
    r = pyxm("resume", "nope")
    assert (r.code, r.err) == (1, "Error: Error occurred when resuming: <Fault 3: 'nope'>\n")
    r = pyxm("resume", "Domain-0")
    assert r.err == ("Error: Error occurred when resuming: "
                     "Cannot resume privileged domain Domain-0\n")
    r = pyxm("resume", "a", "b")
    assert (r.code, r.err) == (1, "Error: Wrong number of parameters\n")


def test_help_lists_the_managed_commands(pyxm):
    names = [line.split()[0] for line in pyxm("help").out.splitlines()
             if line.startswith(" ") and line[1] != " "]
    assert {"new", "delete", "start", "suspend", "resume"} <= set(names)
    assert pyxm("help", "start").out.startswith("Usage: xm start <DomainName>\n\n"
                                                 "Start a Xend managed domain\n")


def test_a_host_without_definitions_keeps_no_managed_state(pyxm, pyxl, guest_cfg, state_dir):
    import sqlite3

    assert pyxl("create", guest_cfg("web")).code == 0
    assert pyxm("list").code == 0
    db = next(Path(state_dir).rglob("state.db"))
    with sqlite3.connect(db) as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM meta") if "xm" in k]
    assert keys == [] and not any(Path(state_dir).rglob("xm-domains"))
    assert os.path.isfile(db)


def test_a_numeric_id_that_is_no_domain_is_one_line(pyxm):
    r = pyxm("pause", "42")
    assert (r.code, r.err) == (3, "Error: Domain '42' does not exist.\n")
