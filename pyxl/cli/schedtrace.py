"""pyxl sched-trace DURATION: watch the scheduler think (a pyxl extension).

Runs the host forward by DURATION of simulated time and shows, per vCPU of
the pool, the share of a pCPU it got, a timeline of when it ran, its credit
and priority as they moved, and the scheduler's decisions with their reasons.
The advance is kept, like `pyxl clock advance DURATION`; with --dry-run it is
shown and then thrown away. A rich view on a terminal, plain text otherwise,
--json for programs, --svg FILE for slides.
"""

from __future__ import annotations

import json
import sys

import click

from pyxl.cli.base import out, session, xl_command
from pyxl.errors import PyxlError

SHADES = " ░▒▓█"


def _cell(fraction: float) -> str:
    if fraction <= 0:
        return "·"
    return SHADES[min(4, 1 + int(fraction * 4 - 1e-9))]


def _fmt_ns(ns: int) -> str:
    return f"{ns / 1e9:.3f}s"


def render_text(tr, last: int) -> str:
    lines = [f"sched-trace: cpupool {tr.pool} ({tr.sched}, {tr.nr_pcpus} pCPU"
             f"{'s' if tr.nr_pcpus != 1 else ''}), {_fmt_ns(tr.t0_ns)} -> {_fmt_ns(tr.t1_ns)}, "
             f"one column = {tr.bucket_ns / 1e6:g} ms",
             f"timeline: {SHADES[4]} ran >75% of the column, {SHADES[3]} >50%, {SHADES[2]} >25%, "
             f"{SHADES[1]} some, · not at all", ""]
    width = max([4] + [len(v.name) for v in tr.vcpus])
    lines.append(f"{'VCPU':<8} {'Name':<{width}} {'Share':>7}  Timeline")
    for v in tr.vcpus:
        lines.append(f"{v.key:<8} {v.name:<{width}} {v.share:6.1f}%  "
                     + "".join(_cell(f) for f in v.timeline))
    if any(c is not None for v in tr.vcpus for c in v.credit):
        lines += ["", "Credit and priority (start of trace -> middle -> end):"]
        for v in tr.vcpus:
            picks = [0, len(v.credit) // 2, len(v.credit) - 1] if v.credit else []
            parts = [f"{v.credit[i]}" + (f" {v.pri[i]}" if v.pri[i] else "") for i in picks]
            lines.append(f"  {v.key:<8} " + " -> ".join(parts))
    shown = tr.decisions[-last:] if last else []
    lines += ["", f"Decisions: {tr.decisions_total} in all"
              + (f", the last {len(shown)}:" if shown else "")]
    for r in shown:
        lines.append("  " + describe(r))
    return "\n".join(lines) + "\n"


def describe(r: dict) -> str:
    """One decision in words: when, where, who, and why."""
    t = f"{r['time'] / 1e9:10.6f}s"
    where = f"cpu{r['pcpu']}" if r.get("pcpu") is not None else "pool"
    reason = r.get("reason", "")
    if reason == "accounting":
        vc = r.get("vcpus") or {}
        detail = ", ".join(f"{k} {x.get('credit')} {x.get('pri')}" for k, x in vc.items())
        return f"{t} {where:<5} accounting: {detail}"
    if reason == "extrapolated":
        return f"{t} {where:<5} extrapolated {r.get('gap', 0) / 1e9:.3f}s of steady state"
    who = r.get("vcpu") or "idle"
    prev = r.get("prev") or "idle"
    extra = [f"{k}={r[k]}" for k in ("credit", "pri", "deadline", "budget", "mode")
             if r.get(k) is not None]
    move = who if prev == who else f"{prev} -> {who}"
    return f"{t} {where:<5} {move:<16} {reason}" + (f" ({', '.join(extra)})" if extra else "")


def to_json(tr, committed: bool) -> str:
    data = {
        "pool": tr.pool, "poolid": tr.poolid, "sched": tr.sched, "t0_ns": tr.t0_ns,
        "t1_ns": tr.t1_ns, "bucket_ns": tr.bucket_ns, "nr_pcpus": tr.nr_pcpus,
        "committed": committed,
        "vcpus": [{"vcpu": v.key, "domid": v.domid, "vcpuid": v.vcpuid, "name": v.name,
                   "running_ns": v.running_ns, "share": round(v.share, 3),
                   "timeline": [round(f, 4) for f in v.timeline], "credit": v.credit,
                   "pri": v.pri, "cpu": v.cpus} for v in tr.vcpus],
        "decisions_total": tr.decisions_total,
        "decisions": tr.decisions,
    }
    return json.dumps(data, indent=2) + "\n"


def render_rich(console, tr, last: int) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print(Text(f"sched-trace: cpupool {tr.pool} ({tr.sched}), {_fmt_ns(tr.t0_ns)} → "
                       f"{_fmt_ns(tr.t1_ns)}, one column = {tr.bucket_ns / 1e6:g} ms",
                       style="bold"))
    table = Table(show_edge=False)
    table.add_column("vCPU")
    table.add_column("Name")
    table.add_column("Share", justify="right")
    table.add_column("Timeline", no_wrap=True)
    table.add_column("Credit / pri at end", justify="right")
    palette = ["green", "cyan", "magenta", "yellow", "blue", "red"]
    for i, v in enumerate(tr.vcpus):
        line = Text("".join(_cell(f) for f in v.timeline), style=palette[i % len(palette)])
        end = ""
        if v.credit and v.credit[-1] is not None:
            end = f"{v.credit[-1]}" + (f" {v.pri[-1]}" if v.pri[-1] else "")
        table.add_row(v.key, v.name, f"{v.share:.1f}%", line, end)
    console.print(table)
    shown = tr.decisions[-last:] if last else []
    console.print(Text(f"Decisions: {tr.decisions_total} in all"
                       + (f", the last {len(shown)}:" if shown else ""), style="bold"))
    for r in shown:
        console.print(Text(describe(r)), highlight=False)


@xl_command("sched-trace")
@click.option("--dry-run", "dry_run", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--svg", "svg")
@click.option("-p", "--cpupool")
@click.option("--columns", default=50, type=int)
@click.option("--last", default=20, type=int)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_sched_trace(ctx, dry_run, as_json, svg, cpupool, columns, last, args):
    from pyxl.cli.base import need_args

    need_args("sched-trace", args, 1)
    duration = _duration(args[0])
    if svg is not None:
        _check_svg_path(svg)  # before the trace runs: bad input changes nothing
    with session(ctx, write=True, commit=not dry_run) as libxl:
        poolid = libxl.require_cpupool(cpupool) if cpupool else 0
        tr = libxl.sched_trace(duration, poolid, buckets=columns)
    if as_json:
        out(to_json(tr, not dry_run))
    elif sys.stdout.isatty():
        from rich.console import Console

        render_rich(Console(), tr, last)
    else:
        out(render_text(tr, last))
    if svg:
        from rich.console import Console

        shown = (tr.t1_ns - tr.t0_ns) // max(1, tr.bucket_ns)   # the buckets it really has
        console = Console(record=True, width=max(100, shown + 50), file=_Null())
        render_rich(console, tr, last)
        try:
            console.save_svg(svg, title=f"pyxl sched-trace: {tr.pool} ({tr.sched})")
        except OSError as e:
            raise PyxlError(f"cannot write '{svg}': {e.strerror or e}") from None
    return 0


def _check_svg_path(svg: str) -> None:
    """The SVG's path must name a file in an existing directory."""
    import errno
    import os

    if os.path.isdir(svg or "."):
        raise PyxlError(f"cannot write '{svg}': {os.strerror(errno.EISDIR)}")
    if not os.path.isdir(os.path.dirname(svg) or "."):
        raise PyxlError(f"cannot write '{svg}': {os.strerror(errno.ENOENT)}")


class _Null:
    def write(self, _text):
        return 0

    def flush(self):
        pass


def _duration(text: str) -> int:
    from pyxl.toolstack import parse_duration

    try:
        return parse_duration(text)
    except PyxlError:
        raise PyxlError(f"invalid duration '{text}': use e.g. 10s, 250ms, 500us") from None
