"""Issue 12's benchmark: the live migration of a 4 GiB guest costs well
under a second of wall time.

A 4 GiB PV guest writing 50MB/s into 256MB (six pre-copy rounds, 1.16M
pages, 38 s of simulated time) migrates back and forth between two hosts of
one state directory. Each run is the whole `pyxl migrate` (the sender and
the receiver it starts, two Python processes), paired with `python -c
"import click"` as bench/bench_table.py pairs; the figures are the medians
of the wall time and of the per-pair ratio.

    python bench/bench_migrate.py [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

from bench_table import BASELINE, PY, timed

GUEST = ('name = "big"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 4096\nvcpus = 2\n'
         'workload = ["idle", "mem:dirty=50MB/s wss=256MB"]\n')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=10)
    args = ap.parse_args()
    import pyxl

    subprocess.run([PY, "-m", "compileall", "-q", os.path.dirname(pyxl.__file__)], check=True)
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, PYXL_STATE_DIR=state, PYXL_CLOCK="manual")
        cfg = os.path.join(state, "big.cfg")
        with open(cfg, "w") as f:
            f.write(GUEST)

        def run(*argv: str) -> str:
            return subprocess.run([PY, "-m", "pyxl", *argv], env=env, check=True,
                                  capture_output=True, text=True).stderr

        run("host", "boot", "a", "--clock", "manual")
        run("host", "boot", "b", "--clock", "manual")
        run("--host", "a", "create", "-q", cfg)
        run("--host", "a", "clock", "advance", "5s")
        where = ["a", "b"]
        walls, ratios, summary = [], [], ""

        def migrate() -> float:
            nonlocal summary
            t0 = time.perf_counter()
            err = run("--host", where[0], "migrate", "big", where[1])
            t = time.perf_counter() - t0
            summary = next(line for line in err.splitlines() if "pre-copy" in line)
            where.reverse()
            return t

        for i in range(args.pairs):
            if i % 2:
                ts, tb = migrate(), timed(BASELINE, env)
            else:
                tb, ts = timed(BASELINE, env), migrate()
            walls.append(ts)
            ratios.append(ts / tb)
        print(summary)
        print(f"4 GiB live migration: {statistics.median(walls):.3f} s wall (median of "
              f"{args.pairs}), {statistics.median(ratios):.2f}x `{' '.join(BASELINE[1:])}`")


if __name__ == "__main__":
    main()
