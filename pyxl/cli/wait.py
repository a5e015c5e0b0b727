"""Waiting for a domain to die, as xl's monitoring (create -F) does.

The waiting process polls the host: with a realtime clock the simulation
moves on by itself; with a manual clock another command must move it.
"""

from __future__ import annotations

import os
import time

import click

from pyxl.cli.base import err, session

POLL_S = 0.1


def wait_for_death(ctx: click.Context, domid: int, name: str) -> None:
    err(f"Waiting for domain {name} (domid {domid}) to die [pid {os.getpid()}]")
    while True:
        with session(ctx, write=False) as xc:
            if domid not in xc.hv.domains:
                break
        time.sleep(POLL_S)
    err(f"Domain {domid} has been destroyed.")
