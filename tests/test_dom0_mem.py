"""Xen's dom0_mem= at `host boot --dom0-mem` (xen/arch/x86/dom0_build.c):
the amount, min: and max:, sizes with units, percentages of the host, and
negative amounts; without max: Domain-0 has no limit."""

from __future__ import annotations

import pytest

NO_LIMIT_KB = ((1 << 32) - 1) * 4    # max_pages = UINT_MAX, as libxl reports it


def _boot(pyxl, spec, memory="16384"):
    r = pyxl("host", "boot", "h", "--memory", memory, "--dom0-mem", spec, "--clock", "manual")
    assert r.code == 0, r.err
    return r


def _dom0(pyxl):
    """(Domain-0's MiB as `list` shows it, its static-max in KiB as libxl fills it in)."""
    mem = int(pyxl("--host", "h", "list", "0").out.splitlines()[1].split()[2])
    assert pyxl("--host", "h", "mem-set", "0", f"{mem}m").code == 0   # libxl fills it in
    static_max = pyxl("--host", "h", "xenstore-read", "/local/domain/0/memory/static-max")
    return mem, int(static_max.out)


@pytest.mark.parametrize("spec, kb, max_kb", [
    ("1024M,max:1024M", 1024 << 10, 1024 << 10),
    ("2048", 2048 << 10, 2048 << 10),            # pyxl's MiB form: the amount and the max
    ("2G", 2048 << 10, NO_LIMIT_KB),
    ("1G+10%", (262144 + 4194304 // 10) * 4, NO_LIMIT_KB),   # 10% of 16 GiB, in pages
    ("-512M", (16384 - 512) << 10, NO_LIMIT_KB),
    ("max:4G", 4096 << 10, 4096 << 10),          # no amount: all but 128 MiB, clamped by max
    ("min:512M", (16384 - 128) << 10, NO_LIMIT_KB),
    ("512M,min:1G", 1024 << 10, NO_LIMIT_KB),    # min wins over a smaller amount
    ("max:1G,2G", 1024 << 10, 1024 << 10),       # max wins over a larger one
    ("1048576k", 1024 << 10, NO_LIMIT_KB),       # with a unit it is Xen's: k, m, g, t, b
    ("1024m", 1024 << 10, NO_LIMIT_KB),
    ("0x400M", 1024 << 10, NO_LIMIT_KB),         # parse_size_and_unit reads hex
])
def test_dom0_mem_as_xen_reads_it(pyxl, spec, kb, max_kb):
    out = _boot(pyxl, spec).out
    assert f"Domain-0 with {kb >> 10} MiB" in out
    assert _dom0(pyxl) == (kb >> 10, max_kb)
    dmesg = pyxl("--host", "h", "dmesg").out
    shown = f"{spec}M,max:{spec}M" if spec.isdigit() else spec
    assert f"(XEN) Command line: placeholder dom0_mem={shown} " in dmesg
    assert f"(XEN)  Dom0 alloc.:   {kb}kB" in dmesg


def test_xentop_shows_no_limit_without_max(pyxl):
    _boot(pyxl, "2G")
    dom0 = [line for line in pyxl("--host", "h", "top", "-b", "-i", "1").out.splitlines()
            if "Domain-0" in line][0].split()
    assert dom0[6:9] == ["no", "limit", "n/a"]
    _boot_again = pyxl("host", "boot", "j", "--dom0-mem", "2G,max:2G", "--clock", "manual")
    assert _boot_again.code == 0
    dom0 = [line for line in pyxl("--host", "j", "top", "-b", "-i", "1").out.splitlines()
            if "Domain-0" in line][0].split()
    assert dom0[6] == str(2048 << 10)


def test_the_default_host_has_a_limit(pyxl):
    assert "dom0_mem=1024M,max:1024M" in pyxl("info", "xen_commandline").out
    assert pyxl("xenstore-read", "/local/domain/0/memory/static-max").code == 1
    assert pyxl("mem-set", "0", "1024m").code == 0
    assert pyxl("xenstore-read", "/local/domain/0/memory/static-max").out == "1048576\n"


@pytest.mark.parametrize("spec, why", [
    ("bogus", "use Xen's dom0_mem syntax"),
    ("100%", "use Xen's dom0_mem syntax"),
    ("10%+1G", "use Xen's dom0_mem syntax"),
    ("1G,", "use Xen's dom0_mem syntax"),
    ("1Q", "use Xen's dom0_mem syntax"),
    ("20G", "it gives Domain-0 16384 MiB; from 32 to 16368 MiB"),
    ("16M", "it gives Domain-0 16 MiB; from 32 to 16368 MiB"),
])
def test_bad_dom0_mem_boots_nothing(pyxl, state_dir, spec, why):
    r = pyxl("host", "boot", "h", "--dom0-mem", spec)
    assert r.code == 1
    assert r.err == f"invalid --dom0-mem '{spec}': {why}" + (
        ", [min:AMT,][max:AMT,][AMT] with AMT like 1024M, 10%, 1G+10% or -512M\n"
        if why.startswith("use") else "\n")
    assert not (state_dir / "h").exists()


def test_a_host_toml_from_before_keeps_its_dom0_memory(pyxl, state_dir):
    """Hosts booted before dom0_mem= was accepted stored dom0_mem_mib."""
    (state_dir / "old").mkdir(parents=True)
    (state_dir / "old" / "host.toml").write_text(
        '[boot]\ncpus = 4\nnodes = 1\nmemory_mib = 8192\ndom0_mem_mib = 2048\n'
        'sched = "credit"\nclock = "manual"\n')
    assert pyxl("--host", "old", "list", "0").out.splitlines()[1].split()[2] == "2048"
    assert "dom0_mem=2048M,max:2048M" in pyxl("--host", "old", "info", "xen_commandline").out
