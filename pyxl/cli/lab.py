"""pyxl lab: the lessons in docs/labs/, and a fresh host to follow one on."""

from __future__ import annotations

import click

from pyxl.cli.base import OwnGroup, out

_CTX = {"help_option_names": ["-h", "--help"]}


@click.group("lab", cls=OwnGroup, context_settings=_CTX)
def cmd_lab():
    """List the lessons, or boot a fresh host for one."""


@cmd_lab.command("list")
def lab_list():
    """The lessons, in the order to take them."""
    from pyxl.toolstack.labs import LESSONS

    out(f"{'Lab':<3} {'Name':<10} Title\n")
    for lesson in LESSONS:
        out(f"{lesson.number:<3} {lesson.name:<10} {lesson.title}\n")


@cmd_lab.command("start")
@click.argument("name")
def lab_start(name):
    """Boot a fresh host named NAME for lesson NAME (manual clock) and print its first step."""
    from pyxl.toolstack.labs import lesson, start

    found = lesson(name)
    opts, step = start(name)
    cpus = f"{opts.cpus} CPU{'s' if opts.cpus != 1 else ''}"
    out(f"Lab {found.number}: {found.title} (docs/labs/{found.file})\n"
        f"Booted host '{found.name}': {cpus}, {opts.memory_mib} MiB, {opts.sched} scheduler, "
        f"manual clock\n"
        f"Use it from this shell: export PYXL_HOST={found.name}\n")
    if step is not None:
        out(f"\nFirst step: {step.heading}\n" + "".join(f"  $ {c}\n" for c in step.commands))
