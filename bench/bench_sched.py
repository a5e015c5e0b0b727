"""Benchmark: credit scheduler, 16 pCPUs, 32 domains x 2 busy vCPUs.

Prints simulated seconds per wall-clock second for a 60 s advance (which
simulates the bounded window explicitly and extrapolates the rest), for the
window alone simulated in 1 s steps (the explicit event rate), once with an
engine loaded and saved at each step and once with one engine kept across
the steps (as the hypervisor keeps it within a command), and for a one-day
gap, each against the median wall time of `python -c "import click"`
measured in the same run (machines here are shared and noisy).

Run: python bench/bench_sched.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from pyxl.hv.model import CpuPool, Domain, Vcpu
from pyxl.hv.sched import advance_pool, open_engine, run_engine

S = 10**9


def setup():
    doms = []
    for i in range(32):
        d = Domain(domid=i + 1, name=f"vm{i + 1}", uuid=f"u{i}",
                   sched_params={"weight": 256, "cap": 0})
        d.vcpus = [Vcpu(domid=d.domid, vcpuid=j, workload="busy") for j in range(2)]
        doms.append(d)
    pool = CpuPool(poolid=0, name="Pool-0", sched="credit", cpus=list(range(16)),
                   params={"tslice_ms": 30, "ratelimit_us": 1000, "migration_delay_us": 0})
    return pool, doms


def timed(fn, runs=5):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def baseline():
    return timed(lambda: subprocess.run([sys.executable, "-c", "import click"], check=True))


def one_advance(seconds):
    def fn():
        pool, doms = setup()
        advance_pool(pool, doms, 0, seconds * S)
    return fn


def explicit_steps(seconds):
    def fn():
        pool, doms = setup()
        for k in range(seconds):
            advance_pool(pool, doms, k * S, (k + 1) * S)
    return fn


def kept_engine_steps(seconds):
    def fn():
        pool, doms = setup()
        eng = open_engine(pool, doms, 0)
        for k in range(seconds):
            run_engine(eng, (k + 1) * S)
        eng.save()
    return fn


def main():
    base = baseline()
    print(f"baseline (python -c 'import click'): {base * 1000:.1f} ms median")
    for label, fn, sim in (
        ("60 s advance (window + extrapolation)", one_advance(60), 60),
        ("60 s in 1 s steps (all explicit)", explicit_steps(60), 60),
        ("60 s in 1 s steps, one engine kept", kept_engine_steps(60), 60),
        ("1 day gap", one_advance(86400), 86400),
    ):
        wall = timed(fn, runs=3)
        print(f"{label:40s} wall {wall * 1000:8.1f} ms  "
              f"{sim / wall:12.0f} sim-s/wall-s  {wall / base:6.2f} x baseline")


if __name__ == "__main__":
    main()
