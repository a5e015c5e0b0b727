"""Waiting for a domain to die, as xl's monitoring (create -F) does.

The waiting process polls the host: with a realtime clock the simulation
moves on by itself; with a manual clock another command must move it.
"""

from __future__ import annotations

import os

import click

from pyxl.cli.base import err, session


def wait_for_death(ctx: click.Context, domid: int, name: str) -> None:
    from pyxl.toolstack import wait_for_death as wait

    err(f"Waiting for domain {name} (domid {domid}) to die [pid {os.getpid()}]")
    wait(lambda: session(ctx, write=False), domid)
    err(f"Domain {domid} has been destroyed.")
