"""Issue 10's benchmark: split devices must not slow down what does not use them.

A host of 1000 guests, each with one vif and one vbd (both connected: the
guests are booted and their frontends have reached state 4), next to a host
of 10 such guests. `list` must stay within issue 9's goal (2x
`python -c "import click"` at 1000), and `network-list` / `block-list` of one
domain must not grow with the number of domains. Each figure is the median of
per-pair ratios to the baseline, as bench/bench_table.py measures.

    python bench/bench_devices.py [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile

from bench_table import BASELINE, PY, paired, timed

DEVICES = 'vif = ["bridge=xenbr0"]\ndisk = ["phy:/dev/vg/bench,xvda,w"]\n'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=15)
    args = ap.parse_args()
    import pyxl

    subprocess.run([PY, "-m", "compileall", "-q", os.path.dirname(pyxl.__file__)], check=True)
    from bench_cli import populate

    from pyxl.toolstack.session import open_ctx

    with tempfile.TemporaryDirectory() as state:
        os.environ["PYXL_STATE_DIR"] = state
        os.environ["PYXL_CLOCK"] = "manual"
        print(f"{'command':28s} {'doms':>5s}  ratio to `{' '.join(BASELINE[1:])}`")
        for n in (10, 1000):
            host = f"d{n}"
            subprocess.run([PY, "-m", "pyxl", "host", "boot", host, "--cpus", "64",
                            "--memory", "65536", "--clock", "manual"], check=True,
                           stdout=subprocess.DEVNULL)
            populate(host, n, 16, extra=DEVICES)
            with open_ctx(host, write=True) as ctx:  # booted: the devices connect
                ctx.host.advance_to(ctx.host.now_ns + 10 * 10**9)
            env = dict(os.environ, PYXL_HOST=host)
            state4 = subprocess.run([PY, "-m", "pyxl", "network-list", "bench1"], env=env,
                                    capture_output=True, text=True, check=True).stdout
            assert state4.splitlines()[1].split()[4] == "4", state4  # connected
            mid = f"bench{(n + 1) // 2}"
            for label, argv in (("list", ["list"]), ("network-list one domain",
                                                     ["network-list", mid]),
                                ("block-list one domain", ["block-list", mid])):
                r = paired(lambda argv=argv: timed([PY, "-m", "pyxl", *argv], env), env,
                           args.pairs)
                print(f"{label:28s} {n:5d}  {r:5.2f}x", flush=True)


if __name__ == "__main__":
    main()
