"""`Time(s)` in `list` and `vcpu-list`: xl prints `(float)ns / 1e9` with
printf's %8.1f / %9.1f, so the nanoseconds lose precision as a C float
before the division (xl_info.c, xl_vcpu.c). Checked against C itself when a
compiler is at hand, and always against ctypes' float."""

import ctypes
import random
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from pyxl.cli.info import list_row
from pyxl.cli.vcpu import vcpu_row

CASES = [0, 1, 49_999_999, 50_000_000, 150_000_000, 250_000_000, 250_000_009,
         1_250_000_000, 16_777_217, 2**31 - 1, 2**40 + 12_345, 10**18 + 7]
random.seed(2026)
CASES += [random.randrange(0, 10**6) for _ in range(100)]
CASES += [random.randrange(0, 10**13) for _ in range(300)]
CASES += [random.randrange(0, 2**63) for _ in range(100)]


def _info(ns):
    return SimpleNamespace(domid=3, current_memkb=65536, vcpu_online=1, running=False,
                           blocked=True, paused=False, shutdown=False, shutdown_reason=None,
                           dying=False, cpu_time_ns=ns)


def _vcpu(ns):
    return SimpleNamespace(domid=3, vcpuid=0, online=True, cpu=1, running=False,
                           blocked=True, vcpu_time=ns, cpumap=None, cpumap_soft=None)


def _shows(ns, printed: str) -> bool:
    """Do both rows show `printed` (C's %8.1f and %9.1f fields) for ns?"""
    wide, narrow = printed.split("|") if "|" in printed else (printed, printed)
    row = list_row("g", _info(ns))
    vrow = vcpu_row("g", _vcpu(ns), 8)
    return (row.endswith("-b----  " + wide)
            and vrow.split("-b- ", 1)[1].startswith(narrow + "  "))


def test_the_quirk():
    # 250000009 ns is 250000016.0 as a float: xl prints 0.3, not 0.2
    assert _shows(250_000_009, "     0.3|      0.3")


def test_against_ctypes_float():
    for ns in CASES:
        secs = ctypes.c_float(ns).value / 1e9
        assert _shows(ns, "%8.1f|%9.1f" % (secs, secs)), ns


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_against_c(tmp_path):
    src = tmp_path / "t.c"
    src.write_text('#include <stdio.h>\n#include <stdlib.h>\n'
                   'int main(int c, char **v) { for (int i = 1; i < c; i++) {'
                   ' unsigned long long ns = strtoull(v[i], 0, 10);'
                   ' printf("%8.1f|%9.1f\\n", ((float)ns / 1e9), ((float)ns / 1e9)); }'
                   ' return 0; }\n')
    exe = tmp_path / "t"
    subprocess.run(["cc", "-O0", "-o", str(exe), str(src)], check=True)
    got = subprocess.run([str(exe), *map(str, CASES)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len(got) == len(CASES)
    for ns, line in zip(CASES, got):
        assert _shows(ns, line), ns
