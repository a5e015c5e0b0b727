"""The labs: lessons in docs/labs/, each a transcript a student follows.

A lesson is a markdown file whose ```console blocks hold `$ command` lines,
each followed by the output the command prints (stdout and stderr as a
terminal shows them). tests/test_labs.py runs every block on a fresh state
directory and compares, so what a lesson shows is what pyxl does.

`lab start NAME` boots a fresh host named after the lesson, with a manual
clock (so the numbers are the lesson's) and the lesson's boot options, and
returns the lesson's first step: the heading and commands of the section
that follows the one with `lab start` in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pyxl.errors import PyxlError

LABS_DIR = Path(__file__).resolve().parent.parent.parent / "docs" / "labs"


@dataclass(frozen=True)
class Lesson:
    name: str  # the host it boots, and what `lab start` takes
    number: int
    title: str
    file: str  # under docs/labs/
    boot: dict = field(default_factory=dict)  # boot_host's keywords beyond the defaults
    others: tuple[str, ...] = ()  # hosts the lesson boots itself: gone at `lab start`

    @property
    def path(self) -> Path:
        return LABS_DIR / self.file


LESSONS = (
    Lesson("lifecycle", 1, "A domain's life: create, pause, shutdown, destroy",
           "1-lifecycle.md", {"cpus": 2, "memory_mib": 4096}),
    Lesson("xenstore", 2, "XenStore and the PV protocols", "2-xenstore.md",
           {"cpus": 2, "memory_mib": 4096}),
    Lesson("credit", 3, "The credit scheduler: weights 64/64/128 and a 25% cap",
           "3-credit.md", {"cpus": 1, "sched": "credit"}),
    Lesson("sedf", 4, "SEDF: reservations of 20/100, 2/10 and 5/10", "4-sedf.md",
           {"cpus": 1, "sched": "sedf"}),
    Lesson("devices", 5, "Split devices and their rings", "5-devices.md",
           {"cpus": 2, "memory_mib": 4096}),
    Lesson("pages", 6, "shared_info and time", "6-pages.md",
           {"cpus": 2, "memory_mib": 4096}),
    Lesson("migration", 7, "Live migration", "7-migration.md",
           {"cpus": 2, "memory_mib": 4096}, others=("dest",)),
)
_BOOT_DEFAULTS = {"cpus": 8, "nodes": 1, "memory_mib": 16384, "sched": "credit"}


@dataclass
class Command:
    """One `$ command` of a transcript and the output it is shown with."""

    argv: str
    expected: str
    line: int  # in the markdown file, for messages


@dataclass
class Step:
    heading: str
    commands: list[str]


def lesson(name: str) -> Lesson:
    for found in LESSONS:
        if found.name == name:
            return found
    names = ", ".join(x.name for x in LESSONS)
    raise PyxlError(f"pyxl: no lab named '{name}' (the labs: {names})")


def boot_options(found: Lesson) -> dict:
    return {**_BOOT_DEFAULTS, **found.boot, "clock": "manual"}


def start(name: str):
    """A fresh host for the lesson (any host of that name is destroyed
    first); (its boot options, the lesson's first step or None)."""
    from pyxl.state.paths import list_hosts
    from pyxl.toolstack.libxl import boot_host, destroy_host

    found = lesson(name)
    for host in (found.name, *found.others):
        if host in list_hosts():
            destroy_host(host)
    _booted, opts = boot_host(found.name, **boot_options(found))
    return opts, first_step(found)


_FENCE = re.compile(r"^```(\w*)\s*$")


def transcript(text: str) -> list[Command]:
    """The `$ command` lines of a lesson's ```console blocks, with their output."""
    commands: list[Command] = []
    in_console = in_block = False
    for number, line in enumerate(text.splitlines(), 1):
        fence = _FENCE.match(line)
        if fence and not in_block:
            in_block, in_console = True, fence.group(1) == "console"
        elif line.startswith("```") and in_block:
            in_block = in_console = False
        elif in_console and line.startswith("$ "):
            commands.append(Command(line[2:], "", number))
        elif in_console and commands:
            commands[-1].expected += line + "\n"
    return commands


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) for each `## ` section."""
    parts = re.split(r"^## (.*)$", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2]))


def first_step(found: Lesson) -> Step | None:
    """The section after the one that starts the lab; None without the file
    (pyxl installed without its docs)."""
    try:
        text = found.path.read_text(encoding="utf-8")
    except OSError:
        return None
    parts = sections(text)
    for i, (_heading, body) in enumerate(parts[:-1]):
        if any(c.argv.startswith(("pyxl lab start", "xl lab start")) for c in transcript(body)):
            heading, body = parts[i + 1]
            return Step(heading, [c.argv for c in transcript(body)])
    return None
