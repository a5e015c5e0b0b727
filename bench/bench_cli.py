"""How fast pyxl answers a script: `list`, and `create` + `destroy`.

Each figure is the median wall time of a fresh `pyxl` process, reported as a
ratio to `python -c "import click"` measured in the same run (machines here
are shared and noisy, so absolute times mean little). Hosts with 10 and with
1000 domains are built through the toolstack API in-process (building 1000
domains one CLI call at a time would take minutes), then timed through the CLI.

    python bench/bench_cli.py [--runs N] [--clock manual|realtime]

Targets: `list` within 1.5x of the baseline at 10 domains and 2x at 1000.

pyxl's bytecode is compiled first, as pip does for a regular install: where
PYTHONDONTWRITEBYTECODE is set (it is on this project's machines) an editable
install would otherwise recompile every module on every run, while click,
the baseline, comes precompiled.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def median_time(argv: list[str], env: dict, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {p.stderr.decode().strip()}")
    return statistics.median(times)


def populate(host: str, n: int, memory_mib: int = 32, paused: bool = False,
             extra: str = "") -> None:
    """Create n small guests on the host, in batches of one transaction each
    (`extra`: more xl.cfg lines for each, e.g. devices)."""
    from pyxl.toolstack.create import create_domain
    from pyxl.toolstack.session import open_ctx
    from pyxl.toolstack.libxlu_cfg import parse_cfg
    from pyxl.toolstack.xl_parse import parse_domain_config

    made = 0
    while made < n:
        with open_ctx(host, write=True) as ctx:
            for _ in range(min(100, n - made)):
                made += 1
                text = (f'name="bench{made}"\ntype="pv"\nkernel="/k"\nmemory={memory_mib}\n'
                        + extra)
                config, _ = parse_domain_config(parse_cfg(text, "bench"))
                create_domain(ctx, config, paused=paused)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--clock", choices=["manual", "realtime"], default="manual")
    args = ap.parse_args()
    py = sys.executable
    import pyxl

    subprocess.run([py, "-m", "compileall", "-q", os.path.dirname(pyxl.__file__)], check=True)
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, PYXL_STATE_DIR=state, PYXL_CLOCK=args.clock)
        os.environ.update(PYXL_STATE_DIR=state, PYXL_CLOCK=args.clock)
        baseline = median_time([py, "-c", "import click"], env, args.runs)
        print(f"baseline  python -c 'import click'      {baseline * 1000:7.1f} ms")
        results = {}
        for n in (10, 1000):
            host = f"bench{n}"
            subprocess.run([py, "-m", "pyxl", "host", "boot", host, "--memory", "65536",
                            "--clock", args.clock], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            populate(host, n)
            henv = dict(env, PYXL_HOST=host)
            t_list = median_time([py, "-m", "pyxl", "list"], henv, args.runs)
            cfg = os.path.join(state, "b.cfg")
            with open(cfg, "w") as f:
                f.write('name="probe"\ntype="pv"\nkernel="/k"\nmemory=32\n')
            creates, destroys = [], []
            for _ in range(max(3, args.runs // 3)):
                creates.append(median_time([py, "-m", "pyxl", "create", "-q", cfg], henv, 1))
                destroys.append(median_time([py, "-m", "pyxl", "destroy", "probe"], henv, 1))
            t_create, t_destroy = statistics.median(creates), statistics.median(destroys)
            results[n] = (t_list, t_create, t_destroy)
            print(f"{n:5d} domains  list     {t_list * 1000:7.1f} ms  ratio {t_list / baseline:5.2f}")
            print(f"{n:5d} domains  create   {t_create * 1000:7.1f} ms  "
                  f"ratio {t_create / baseline:5.2f}")
            print(f"{n:5d} domains  destroy  {t_destroy * 1000:7.1f} ms  "
                  f"ratio {t_destroy / baseline:5.2f}")
        ok10 = results[10][0] / baseline <= 1.5
        ok1000 = results[1000][0] / baseline <= 2.0
        print(f"target list <= 1.5x at 10: {'met' if ok10 else 'MISSED'}; "
              f"<= 2x at 1000: {'met' if ok1000 else 'MISSED'}")


if __name__ == "__main__":
    main()
