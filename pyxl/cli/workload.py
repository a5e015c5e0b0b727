"""pyxl workload: what a simulated guest runs on its vCPUs (a pyxl extension).

`pyxl workload DOMAIN SPEC[,SPEC...]` sets it (one spec per vCPU; a short list
repeats its last entry); `pyxl workload DOMAIN` shows it, `--json` for programs.
"""

from __future__ import annotations

import json

import click

from pyxl.cli.base import out, session, xl_command


@xl_command("workload")
@click.option("--json", "as_json", is_flag=True)
@click.argument("domain")
@click.argument("specs", nargs=-1)
@click.pass_context
def cmd_workload(ctx, as_json, domain, specs):
    with session(ctx, write=bool(specs)) as libxl:
        domid = libxl.domain_qualifier_to_domid(domain)
        if specs:
            result = libxl.set_workload(domid, ",".join(specs))
        else:
            result = libxl.get_workload(domid)
        if as_json:
            out(json.dumps({"domid": domid, "workload": result}, indent=4) + "\n")
        elif not specs:
            out("".join(f"{i}: {s}\n" for i, s in enumerate(result)))
    return 0
