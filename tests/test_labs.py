"""The labs in docs/labs/: every transcript runs on a fresh state directory and
prints exactly what the lesson shows; the scheduler lessons give the textbook
shares; `pyxl lab list` and `pyxl lab start` boot what the lessons need.

A transcript is the ```console blocks of a lesson: `$ pyxl ...` (or `$ xl ...`,
which is pyxl through `pyxl shell-init`), `$ export NAME=VALUE` and `$ echo $?`
lines, each command followed by what it prints, stdout and stderr in the order
written.
No placeholders: a lesson keeps out whatever a run cannot fix (wall-clock
dates, say).

`python tests/test_labs.py docs/labs/3-credit.md` rewrites a lesson's outputs
from a run (read the diff before keeping it).
"""

from __future__ import annotations

import io
import os
import re
import shlex
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LABS = REPO / "docs" / "labs"

# The shares each scheduler lesson's `sched-trace` commands must show, in
# order, within 2 points: the textbook's numbers.
SHARES = {
    "credit": [
        {"dom-a": 25, "dom-b": 25, "dom-c": 50},  # weights 64/64/128
        {"dom-a": 25, "dom-b": 75, "dom-c": 0},  # dom-c idle: dom-a held at its cap
        {"dom-a": 50, "dom-b": 50, "dom-c": 0},  # no cap: equal weights, equal shares
        {"dom-a": 25, "dom-b": 75, "dom-c": 0},  # weights 64/192
    ],
    "sedf": [
        {"dom-a": 20, "dom-b": 20, "dom-c": 60},  # 20/100, 2/10, 5/10; dom-c takes the slack
        {"dom-a": 20, "dom-b": 20, "dom-c": 50},  # no extra time: 10% of the pCPU idle
        {"dom-a": 20, "dom-b": 20, "dom-c": 0},  # dom-c idle: the others keep their slices
    ],
}


_status = [0]  # the last command's exit status, for `echo $?`


def run_command(argv: str) -> str:
    """Run one transcript command in this process; what it prints."""
    if argv == "echo $?":
        return f"{_status[0]}\n"
    if argv.startswith("export "):
        name, _, value = argv[len("export "):].partition("=")
        os.environ[name] = value
        return ""
    words = shlex.split(argv)
    if words[0] not in ("pyxl", "xl"):
        raise ValueError(f"a transcript runs pyxl and export only, not: {argv}")
    from pyxl.cli.main import main

    both = io.StringIO()
    with redirect_stdout(both), redirect_stderr(both):
        try:
            main(words[1:])
        except SystemExit as e:
            _status[0] = e.code if isinstance(e.code, int) else 1
    return both.getvalue()


def lessons() -> list[Path]:
    return sorted(LABS.glob("[0-9]*.md"))


@pytest.fixture
def lab_env(monkeypatch):
    monkeypatch.chdir(REPO)  # lessons name configs/ from the top of the repository
    monkeypatch.delenv("PYXL_HOST", raising=False)
    yield
    os.environ.pop("PYXL_HOST", None)


@pytest.mark.parametrize("path", lessons(), ids=lambda p: p.stem)
def test_transcript(path, lab_env):
    from pyxl.toolstack.labs import transcript

    commands = transcript(path.read_text(encoding="utf-8"))
    assert commands, f"{path.name} has no transcript"
    for command in commands:
        got = run_command(command.argv)
        assert got == command.expected, f"{path.name}:{command.line}: $ {command.argv}"


_SHARE = re.compile(r"^d\d+v\d+\s+(\S+)\s+([\d.]+)%", re.M)


@pytest.mark.parametrize("name", sorted(SHARES))
def test_textbook_shares(name, lab_env):
    from pyxl.toolstack.labs import lesson, transcript

    traces = []
    for command in transcript(lesson(name).path.read_text(encoding="utf-8")):
        got = run_command(command.argv)
        if " sched-trace " in f" {command.argv} ":
            traces.append({dom: float(pct) for dom, pct in _SHARE.findall(got)})
    assert len(traces) == len(SHARES[name])
    for got, want in zip(traces, SHARES[name]):
        for dom, pct in want.items():
            assert abs(got[dom] - pct) <= 2, (dom, got)


def test_every_lesson_is_listed_and_has_its_file(pyxl):
    from pyxl.toolstack.labs import LESSONS

    r = pyxl("lab", "list")
    assert r.code == 0 and r.err == ""
    assert r.out.splitlines()[0].split() == ["Lab", "Name", "Title"]
    for found in LESSONS:
        assert f"{found.number:<3} {found.name:<10} {found.title}\n" in r.out
        assert found.path.is_file()
    assert sorted(p.name for p in lessons()) == sorted(f.file for f in LESSONS)


def test_start_boots_a_fresh_host_with_the_lessons_options(pyxl, write_cfg):
    r = pyxl("lab", "start", "credit")
    assert r.code == 0, r.err
    assert "Booted host 'credit': 1 CPU, 16384 MiB, credit scheduler, manual clock\n" in r.out
    assert "\nFirst step: " in r.out and "  $ pyxl create configs/sched/dom-a.cfg\n" in r.out
    cfg = write_cfg('name = "left-over"\ntype = "pvh"\nkernel = "/k"\nmemory = 64\n')
    assert pyxl("--host", "credit", "create", cfg).code == 0
    assert pyxl("lab", "start", "credit").code == 0
    listed = pyxl("--host", "credit", "list").out
    assert "left-over" not in listed and len(listed.splitlines()) == 2
    hosts = pyxl("host", "list").out
    assert re.search(r"^credit +1 +16384 credit +manual +1$", hosts, re.M), hosts


def test_an_unknown_lab_is_one_line_and_boots_nothing(pyxl):
    r = pyxl("lab", "start", "nosuch")
    assert r.code == 1 and r.out == ""
    from pyxl.toolstack.labs import LESSONS

    names = ", ".join(x.name for x in LESSONS)
    assert r.err == f"pyxl: no lab named 'nosuch' (the labs: {names})\n"
    assert names.startswith("lifecycle, xenstore, credit, sedf, devices, pages, migration")
    assert "nosuch" not in pyxl("host", "list").out


def test_pictures_show_the_lessons_traces(tmp_path, lab_env):
    """make_images.py draws the lesson's own traces: each picture, new and kept
    in docs/labs/img/, holds the shares that trace prints in the lesson."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_images", LABS / "make_images.py")
    make_images = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_images)
    drawn = make_images.main(tmp_path)
    assert sorted(p.name for p in drawn) == sorted(
        name for pictures in make_images.IMAGES.values() for name in pictures.values())
    for lesson, pictures in make_images.IMAGES.items():
        shares = _trace_shares(LABS / lesson)
        for n, name in pictures.items():
            for svg in (tmp_path / name, LABS / "img" / name):
                text = svg.read_text(encoding="utf-8")
                assert text.startswith("<svg")
                for dom, pct in shares[n - 1]:
                    assert dom in text and f"{pct}%" in text, (svg, dom, pct)


def _trace_shares(path: Path) -> list[list[tuple[str, str]]]:
    """Each sched-trace's (domain, share) pairs, as the lesson shows them."""
    from pyxl.toolstack.labs import transcript

    return [_SHARE.findall(c.expected) for c in transcript(path.read_text(encoding="utf-8"))
            if " sched-trace " in f" {c.argv} "]


def _update(path: Path) -> None:
    """Rewrite a lesson's outputs from a run on a fresh state directory."""
    import tempfile
    import time

    from pyxl.toolstack.labs import transcript

    text = path.read_text(encoding="utf-8")
    os.chdir(REPO)
    os.environ.update(PYXL_STATE_DIR=tempfile.mkdtemp(), PYXL_CLOCK="manual", TZ="UTC")
    time.tzset()
    os.environ.pop("PYXL_HOST", None)
    lines = text.splitlines(keepends=True)
    commands = transcript(text)
    # Replace each command's old output (the lines up to the next command or fence).
    new, i = [], 0
    for command in commands:
        new += lines[i:command.line]
        i = command.line
        while i < len(lines) and not lines[i].startswith(("$ ", "```")):
            i += 1
        new.append(run_command(command.argv))
    new += lines[i:]
    path.write_text("".join(new), encoding="utf-8")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        _update(Path(arg).resolve())


def test_start_clears_the_other_hosts_a_lesson_boots(pyxl):
    """Lab 7 boots `dest` itself: taking it again starts without the old one."""
    assert pyxl("host", "boot", "dest", "--clock", "manual").code == 0
    assert pyxl("lab", "start", "migration").code == 0
    hosts = pyxl("host", "list").out
    assert "migration" in hosts and "dest" not in hosts
