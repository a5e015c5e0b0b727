"""How fast the simulation runs a host's guests forward in time.

A host with N small PV guests (built in-process, as bench_cli.py does), then
`pyxl clock advance` through the CLI, each run from a fresh copy of the same
state. The guests (1 GiB each) are set going 1 ms apart, as a lesson's guests
would be, so that their events fall at different moments:

    boot      3 s in which the N guests boot (xenbus, watches, login prompt)
    balloon   3 s after each guest got a memory/target of 64 MiB (its
              balloon driver steps 32 MiB every 100 ms until it is there)
    idle      10 s of up and idle guests (the schedulers only)
    starved   1 h of the N guests each asking its balloon for 64 MiB more than
              it has, on a host whose memory is full (issue 9: the balloon
              drivers must sleep until memory is freed, not poll)
    create    `pyxl create` of one more guest beside the N booted ones
              (issue 9: the booted guests' watches are matched per change)

Each figure is the median wall time of a fresh `pyxl` process and its ratio
to `python -c "import click"` measured in the same run (machines here are
shared and noisy, so absolute times mean little).

    python bench/bench_sim.py [--runs N] [--guests 50,200] [--only starved,create]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_cli import median_time, populate


def snapshot(state: str, name: str) -> str:
    """A copy of the state directory to start each timed run from."""
    dst = os.path.join(os.path.dirname(state), f"{os.path.basename(state)}.{name}")
    shutil.copytree(state, dst)
    return dst


def timed_run(py: str, snap: str, env: dict, argv: list[str], runs: int) -> float:
    """Median time of `pyxl ARGV`, each run on a fresh copy of the snapshot."""
    times = []
    for _ in range(runs):
        work = snap + ".run"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(snap, work)
        times.append(median_time([py, "-m", "pyxl", *argv], dict(env, PYXL_STATE_DIR=work), 1))
    return statistics.median(times)


def timed_advance(py: str, snap: str, env: dict, delta: str, runs: int) -> float:
    return timed_run(py, snap, env, ["clock", "advance", delta], runs)


STAGGER_NS = 1_000_000


def staggered(host: str, act) -> None:
    """act(host, domid) for each guest, STAGGER_NS of simulated time apart."""
    from pyxl.sim.host import open_host

    with open_host(host, write=True) as h:
        for domid in sorted(h.hv.domains)[1:]:
            h.advance_to(h.now_ns + STAGGER_NS)
            act(h, domid)


def unpause(h, domid: int) -> None:
    h.hv.domctl_unpausedomain(domid)


def lower_target(h, domid: int) -> None:
    """memory/target to 64 MiB, as `mem-set` would write it."""
    h.xs(0).write(f"/local/domain/{domid}/memory/target", str(64 * 1024).encode())


def raise_target(h, domid: int) -> None:
    """memory/target 64 MiB above what the guest has (its maxmem allows it)."""
    d = h.hv.domains[domid]
    h.hv.domctl_max_mem(domid, d.tot_memkb + 64 * 1024)
    h.xs(0).write(f"/local/domain/{domid}/memory/target",
                  str(d.tot_memkb + 64 * 1024).encode())


def fill_memory(h) -> None:
    """Domain-0 takes every free KiB, so that no balloon can grow."""
    h.hv.domctl_max_mem(0, h.hv.domains[0].tot_memkb + h.hv.free_kb())
    h.hv.memory_populate_physmap(0, h.hv.free_kb())


def timed_create(py: str, snap: str, env: dict, runs: int) -> float:
    cfg = os.path.join(os.path.dirname(snap), "probe.cfg")
    with open(cfg, "w") as f:
        f.write('name="probe"\ntype="pv"\nkernel="/k"\nmemory=32\n')
    return timed_run(py, snap, env, ["create", "-q", cfg], runs)


def advance(py: str, env: dict, delta: str) -> None:
    subprocess.run([py, "-m", "pyxl", "clock", "advance", delta], env=env, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--guests", default="50,200")
    ap.add_argument("--only", default="boot,balloon,idle,starved,create",
                    help="which figures to measure")
    args = ap.parse_args()
    py = sys.executable
    import pyxl

    subprocess.run([py, "-m", "compileall", "-q", os.path.dirname(pyxl.__file__)], check=True)
    for n in (int(x) for x in args.guests.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            state = os.path.join(tmp, "state")
            env = dict(os.environ, PYXL_STATE_DIR=state, PYXL_CLOCK="manual", PYXL_HOST="sim")
            os.environ.update(PYXL_STATE_DIR=state, PYXL_CLOCK="manual")
            baseline = median_time([py, "-c", "import click"], env, args.runs)
            subprocess.run([py, "-m", "pyxl", "host", "boot", "sim", "--memory", "262144",
                            "--clock", "manual"], env=env, check=True, stdout=subprocess.DEVNULL)
            populate("sim", n, memory_mib=1024, paused=True)
            staggered("sim", unpause)
            only = set(args.only.split(","))
            t0 = time.perf_counter()
            results = {}
            if "boot" in only:
                results["boot"] = timed_advance(py, snapshot(state, "boot"), env, "3s", args.runs)
            advance(py, env, "3s")
            if "create" in only:
                results["create"] = timed_create(py, snapshot(state, "create"), env, args.runs)
            if only & {"balloon", "idle"}:
                staggered("sim", lower_target)
                results["balloon"] = timed_advance(py, snapshot(state, "balloon"), env, "3s",
                                                   args.runs)
                advance(py, env, "3s")
                results["idle"] = timed_advance(py, snapshot(state, "idle"), env, "10s",
                                                args.runs)
            if "starved" in only:
                from pyxl.sim.host import open_host

                with open_host("sim", write=True) as h:
                    fill_memory(h)
                staggered("sim", raise_target)
                advance(py, env, "3s")
                results["starved"] = timed_advance(py, snapshot(state, "starved"), env, "1h",
                                                   args.runs)
            print(f"baseline  python -c 'import click'  {baseline * 1000:8.1f} ms")
            for label, t in results.items():
                print(f"{n:5d} guests  {label:8s} {t * 1000:8.1f} ms  ratio {t / baseline:6.2f}")
            print(f"({time.perf_counter() - t0:.0f} s for {n} guests)")


if __name__ == "__main__":
    main()
