"""Issue 9's table: how fast pyxl answers a script, next to `python -c "import click"`.

Every figure is a median of per-pair ratios: each run of a pyxl command is
paired with a run of the baseline (`python -c "import click"`) made right
before or right after it (the order alternates pair by pair), and the
ratio of the two wall times is taken per pair. Machines here are shared
and noisy; pairing keeps a slow moment from counting against one side only.

The hosts are built as issue 9 describes them: 64 pCPUs, guests of 16 MiB
(10 or 1000 of them), created through the toolstack in-process (one CLI call
per guest would take minutes), then booted (the clock advanced past their
boot) and idle before anything is timed. Each configuration has a host with
a manual clock and one with a realtime clock.

Realtime gaps: on a realtime host a command first runs the simulation from
the last committed moment to now, so its cost depends on how long the host
sat idle. To time "N s since the last command" without sleeping N s per
pair, the script sets the host's meta `wall_anchor` (the wall-clock time of
the last committed simulated moment) to N s before now, directly in the
database, just before each timed run (outside the timing). That is exactly
what N s of idle wall time means to pyxl. Gap 0 sets it to now.

    python bench/bench_table.py [--quick] [--pairs N] [--only REGEX]

--quick uses 5 pairs per cell (development); the default (25 pairs) is what
a note on the issue quotes. --only keeps the rows whose label matches.
`create + destroy` is the wall time of the two processes together over one
baseline run.

To measure another tree (say HEAD, checked out with `git worktree add
/tmp/head HEAD`), run this script from that tree with it on PYTHONPATH:
`cd /tmp/head && PYTHONPATH=/tmp/head python /work/main/bench/bench_table.py`;
the line "pyxl from ..." says which tree was measured.

pyxl's bytecode is compiled first, as pip does for a regular install (see
bench_cli.py).
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

PY = sys.executable
BASELINE = [PY, "-c", "import click"]
SIZES = (10, 1000)
GAPS = (0, 1, 3, 10)
# (goal at 10 domains, goal at 1000 domains), from issue 9.
GOALS = {"list": (1.5, 2.0), "domid": (1.5, 1.5), "xenstore-read": (1.5, 1.5),
         "create + destroy": (3.0, 3.5)}


def timed(argv: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {p.stderr.decode().strip()}")
    return t


def set_gap(host: str, gap_s: float) -> None:
    """Make the realtime host look idle for `gap_s` seconds (see the docstring)."""
    from pyxl.state.paths import db_path

    conn = sqlite3.connect(db_path(host), timeout=60)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'wall_anchor'",
                     (repr(time.time() - gap_s),))
    conn.close()


def paired(subject, env: dict, pairs: int, before=None) -> float:
    """Median over `pairs` of subject time / baseline time, the order alternating."""
    ratios = []
    for i in range(pairs):
        if i % 2:
            if before:
                before()
            ts = subject()
            tb = timed(BASELINE, env)
        else:
            tb = timed(BASELINE, env)
            if before:
                before()
            ts = subject()
        ratios.append(ts / tb)
    return statistics.median(ratios)


def populate(host: str, n: int, memory_mib: int = 16) -> None:
    """n small guests (bench_cli's), then booted and idle."""
    from bench_cli import populate as create_guests

    from pyxl.toolstack.session import open_ctx

    create_guests(host, n, memory_mib)
    with open_ctx(host, write=True) as ctx:  # past every guest's boot (PV: 1.8 s)
        ctx.host.advance_to(ctx.host.now_ns + 10 * 10**9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 pairs per cell")
    ap.add_argument("--pairs", type=int, help="pairs per cell (default 25, 5 with --quick)")
    ap.add_argument("--only", help="only the rows whose label matches this regex")
    args = ap.parse_args()
    pairs = args.pairs or (5 if args.quick else 25)
    only = re.compile(args.only) if args.only else None
    import pyxl

    tree = os.path.dirname(pyxl.__file__)
    print(f"pyxl from {tree}; {pairs} pairs per cell")
    subprocess.run([PY, "-m", "compileall", "-q", tree], check=True)
    rows: list[tuple[str, int, float, float]] = []

    def cell(label: str, n: int, goal: float, subject, env, before=None) -> None:
        if only and not only.search(label):
            return
        r = paired(subject, env, pairs, before)
        rows.append((label, n, r, goal))
        print(f"{label:44s} {n:5d}  {r:5.2f}x  goal {goal:4.1f}x  "
              f"{'met' if r <= goal else 'MISSED'}", flush=True)

    with tempfile.TemporaryDirectory() as state:
        os.environ["PYXL_STATE_DIR"] = state
        env = dict(os.environ)
        cfg = os.path.join(state, "probe.cfg")
        with open(cfg, "w") as f:
            f.write('name="probe"\ntype="pv"\nkernel="/k"\nmemory=16\n')
        print(f"{'command':44s} {'doms':>5s}  ratio  goal")
        for clock in ("manual", "realtime"):
            for n in SIZES:
                gi = SIZES.index(n)
                host = f"b{n}{clock[0]}"
                subprocess.run([PY, "-m", "pyxl", "host", "boot", host, "--cpus", "64",
                                "--memory", str(65536), "--clock", clock], env=env,
                               check=True, stdout=subprocess.DEVNULL)
                os.environ["PYXL_CLOCK"] = clock
                populate(host, n)
                henv = dict(env, PYXL_HOST=host, PYXL_CLOCK=clock)
                pyxl_cmd = [PY, "-m", "pyxl"]
                mid = f"bench{(n + 1) // 2}"
                domid = subprocess.run(pyxl_cmd + ["domid", mid], env=henv, check=True,
                                       capture_output=True, text=True).stdout.strip()

                def run(*argv, henv=henv):
                    return lambda: timed(pyxl_cmd + list(argv), henv)

                def create_destroy(henv=henv):
                    return timed(pyxl_cmd + ["create", "-q", cfg], henv) + \
                        timed(pyxl_cmd + ["destroy", "probe"], henv)

                reads = (("list", run("list")), ("domid", run("domid", mid)),
                         ("xenstore-read",
                          run("xenstore-read", f"/local/domain/{domid}/name")),
                         ("create + destroy", create_destroy))
                if clock == "manual":
                    for what, subject in reads:
                        cell(f"{what}, manual", n, GOALS[what][gi], subject, henv)
                    continue
                for gap in GAPS:
                    for what, subject in reads:
                        if what != "list" and gap not in (0, 3):
                            continue
                        cell(f"{what}, realtime, {gap} s gap", n, GOALS[what][gi], subject,
                             henv, before=lambda host=host, gap=gap: set_gap(host, gap))
    missed = [r for r in rows if r[2] > r[3]]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} figures within their goal")
    print("\n| command | domains | ratio | goal | |\n|---|---|---|---|---|")
    for label, n, r, goal in rows:
        print(f"| `{label}` | {n} | {r:.2f}x | {goal}x | {'met' if r <= goal else 'MISSED'} |")


if __name__ == "__main__":
    main()
