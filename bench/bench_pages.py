"""Issue 11's benchmark: creating a 64 GiB guest costs what a 64 MiB one does.

Machine frames are runs (the heap's free runs, each domain's P2M), never a
row or an entry per page, so `create` must not grow with the guest's size.
On a host of 80 GiB, each pair times `pyxl create` of a 64 GiB PV guest and
of a 64 MiB one, in alternating order, each destroyed again untimed; the
figure is the median of the per-pair ratios (goal: at most 1.2x).

    python bench/bench_pages.py [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile

from bench_table import PY, timed

CFG = 'name = "{name}"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = {mib}\nvcpus = 2\n'
GOAL = 1.2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=15)
    args = ap.parse_args()
    import pyxl

    subprocess.run([PY, "-m", "compileall", "-q", os.path.dirname(pyxl.__file__)], check=True)
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, PYXL_STATE_DIR=state, PYXL_CLOCK="manual", PYXL_HOST="pages")
        subprocess.run([PY, "-m", "pyxl", "host", "boot", "pages", "--memory", "81920",
                        "--clock", "manual"], env=env, check=True, stdout=subprocess.DEVNULL)
        cfgs = {}
        for name, mib in (("big", 64 * 1024), ("small", 64)):
            cfgs[name] = os.path.join(state, f"{name}.cfg")
            with open(cfgs[name], "w") as f:
                f.write(CFG.format(name=name, mib=mib))

        def create(name: str) -> float:
            t = timed([PY, "-m", "pyxl", "create", "-q", cfgs[name]], env)
            timed([PY, "-m", "pyxl", "destroy", name], env)
            return t

        ratios = []
        for i in range(args.pairs):
            if i % 2:
                small = create("small")
                big = create("big")
            else:
                big = create("big")
                small = create("small")
            ratios.append(big / small)
        r = statistics.median(ratios)
        print(f"create 64 GiB / create 64 MiB: {r:.2f}x (goal <= {GOAL}x, "
              f"median of {args.pairs} pairs)")


if __name__ == "__main__":
    main()
