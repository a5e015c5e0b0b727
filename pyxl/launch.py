"""The `pyxl` and `pyxm` processes: start, run one command, leave.

Scripts call pyxl in loops, so what a command costs beyond Python's own
start-up matters. Two costs have nothing to do with the command:

- the cyclic garbage collector, which runs every 700 container allocations
  and so a few dozen times while ~60 modules are imported and a host is
  loaded, although almost nothing a command builds is garbage before it
  exits: gen-0 collections wait for 20,000 allocations here (memory stays
  bounded: a long `clock advance` still collects);
- the interpreter's teardown after `sys.exit` (clearing every module, a last
  collection: ~20 ms with pyxl and click loaded), which changes nothing on
  disk: every write is committed, and output is flushed, before we leave
  with `os._exit`.

A profiler or tracer (cProfile, coverage) needs the normal exit to write its
results, so with one active the process ends as usual. Tests run
`pyxl.cli.main.main` in-process and are unaffected.
"""

from __future__ import annotations

import gc
import os
import sys


def pyxl() -> None:
    """The `pyxl` console script and `python -m pyxl`."""
    gc.set_threshold(20_000, 10, 10)
    from pyxl.cli.main import main

    _run_and_leave(main)


def pyxm() -> None:
    """The `pyxm` console script and `python -m pyxl.cli.xm`."""
    gc.set_threshold(20_000, 10, 10)
    from pyxl.cli.xm.main import main

    _run_and_leave(main)


def _run_and_leave(main) -> None:
    try:
        main()
    except SystemExit as e:
        code = e.code
    else:
        code = 0
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):  # as the interpreter does with sys.exit("text")
        sys.stderr.write(f"{code}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # reader gone, or stream closed
            pass
    os._exit(code & 0xFF)
