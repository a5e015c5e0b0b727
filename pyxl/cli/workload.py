"""pyxl workload: what a simulated guest runs on its vCPUs (a pyxl extension).

`pyxl workload DOMAIN SPEC[,SPEC...]` sets it (one spec per vCPU; a short list
repeats its last entry); `pyxl workload DOMAIN` shows it, `--json` for programs.

Each vCPU runs idle, busy, bursty or periodic:RUN/PERIOD (e.g. periodic:5ms/20ms).
Three more entries say what the guest does with its devices and its memory
(fields separated by spaces, so quote them):


  net:tx=RATEpps [size=BYTES] [to=DOMAIN|bridge]
      packets a second on its first vif (size default 1500), to DOMAIN's vif
      on the same bridge, or to dom0's bridge (the default)
  io:[read=RATEiops] [write=RATEiops] [size=BYTES]
      requests a second on its first vbd (size default 4k, a multiple of 512)
  mem:dirty=RATE/s [wss=SIZE]
      how fast the guest writes its memory, within a working set (what a live
      migration's pre-copy rounds must send again)


e.g. pyxl workload web1 busy 'net:tx=2000pps size=1500 to=web2'
     pyxl workload db 'io:read=200iops write=50iops size=4k'

xentop (`pyxl top`) shows what the backends count: NETTX/NETRX, VBD_RD/VBD_WR.
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
            out("".join(_line(i, s) for i, s in enumerate(result)))
    return 0


def _line(i: int, spec: str) -> str:
    """`0: busy` for a vCPU, `net: tx=...` for a guest-level part."""
    if spec.startswith(("net:", "io:", "mem:")):
        kind, body = spec.split(":", 1)
        return f"{kind}: {body}\n"
    return f"{i}: {spec}\n"
