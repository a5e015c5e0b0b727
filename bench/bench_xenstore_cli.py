"""xenstore-read and xenstore-ls of one domain, as real processes, on a host whose
store holds ~1,000 nodes vs ~100,000 nodes. Prints medians and the ratio
(target: within 1.2x). Run: python bench/bench_xenstore_cli.py"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 15


def build(state: str, extra_nodes: int) -> None:
    env = dict(os.environ, PYXL_STATE_DIR=state, PYXL_CLOCK="manual")
    cfg = os.path.join(state, "g.cfg")
    with open(cfg, "w") as f:
        f.write('name = "g"\nkernel = "/boot/vmlinuz"\nmemory = 256\n')
    subprocess.run([sys.executable, "-m", "pyxl", "create", "-q", cfg], env=env, check=True)
    from pyxl.sim.host import open_host

    os.environ["PYXL_STATE_DIR"] = state
    with open_host(write=True) as h:
        xs = h.xs()
        for i in range(extra_nodes):
            xs.write(f"/bench/d{i // 1000}/n{i % 1000}", b"x" * 16)


def median_ms(state: str, *args: str) -> float:
    env = dict(os.environ, PYXL_STATE_DIR=state, PYXL_CLOCK="manual")
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pyxl", *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    small, big = tempfile.mkdtemp(), tempfile.mkdtemp()
    build(small, 1000)
    build(big, 100_000)
    for args in (("xenstore-read", "/local/domain/1/name"), ("xenstore-ls", "/local/domain/1")):
        a = median_ms(small, *args)
        b = median_ms(big, *args)
        print(f"{' '.join(args):40} 1k nodes {a:7.1f} ms   100k nodes {b:7.1f} ms   "
              f"ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
