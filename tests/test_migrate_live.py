"""Live migration as pre-copy: the rounds libxc's policy makes, the link's
and the workload's part in them, time on both hosts, and the faults that
strike during the rounds or after "go"."""

from __future__ import annotations

import json
import re
import shlex
import sys

SUMMARY = re.compile(r"migration sender: pre-copy: (\d+) rounds, (\d+) pages sent, "
                     r"([\d.]+) s in all, downtime ([\d.]+) ms")
PAGES_512M = 131072


def _figures(err: str) -> tuple[int, int, float, float]:
    m = next(m for m in map(SUMMARY.fullmatch, err.splitlines()) if m)
    return int(m[1]), int(m[2]), float(m[3]), float(m[4])


def _now_ns(pyxl, host: str) -> int:
    return json.loads(pyxl("--host", host, "clock", "show", "--json").out)["now_ns"]


def _rows(pyxl, host: str) -> dict[str, str]:
    """name -> state of each domain on `host`."""
    return {line.split()[0]: line.split()[4]
            for line in pyxl("--host", host, "list").out.splitlines()[1:]}


def _up(pyxl, guest_cfg, workload: str | None = None) -> None:
    extra = 'vif = ["bridge=xenbr0"]\n'
    if workload:
        extra += f"workload = {json.dumps(workload.split(','))}\n"
    r = pyxl("create", "-q", guest_cfg(extra=extra))
    assert r.code == 0, r.err
    assert pyxl("clock", "advance", "3s").code == 0


def test_an_idle_guest_migrates_in_few_rounds_with_small_downtime(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    pyxl("--host", "lab2", "list")
    src0, dst0 = _now_ns(pyxl, "localhost"), _now_ns(pyxl, "lab2")
    r = pyxl("migrate", "vm1", "lab2")
    assert r.code == 0, r.err
    rounds, pages, total, downtime = _figures(r.err)
    assert rounds <= 4 and downtime < 5          # ms
    assert PAGES_512M <= pages < PAGES_512M + 2048
    # round 0 alone is 512 MiB at 1 Gbit/s: 131072 * 4104 octets * 8 / 1e9 s
    assert 4.30 <= total < 4.5
    # the source ran through the rounds; the receiver's clock followed the stream
    assert _now_ns(pyxl, "localhost") - src0 >= int(total * 1e9) - 1_000_000
    assert _now_ns(pyxl, "lab2") - dst0 >= int(total * 1e9) - 1_000_000
    assert _rows(pyxl, "lab2")["vm1"] in ("-b----", "r-----", "------")
    assert "vm1" not in _rows(pyxl, "localhost")


def test_a_guest_writing_faster_than_the_link_needs_the_stop_and_copy(pyxl, guest_cfg):
    _up(pyxl, guest_cfg, "idle,mem:dirty=200MB/s wss=256MB")
    pyxl("--host", "lab2", "list")
    r = pyxl("migrate", "vm1", "lab2")
    assert r.code == 0, r.err
    rounds, pages, total, downtime = _figures(r.err)
    # libxc's limit: rounds 0-4 live, each later one the whole working set
    # (65536 pages) again, then the stop-and-copy round sends it once more
    assert rounds == 6
    assert pages == PAGES_512M + 5 * 65536
    wss_ms = 65536 * 4104 * 8 / 1e6                 # 256 MiB at 1 Gbit/s: 2151.7 ms
    assert wss_ms <= downtime < wss_ms + 100
    assert _rows(pyxl, "lab2")["vm1"] != "--p---"
    shown = pyxl("--host", "lab2", "workload", "vm1").out
    assert "mem: dirty=200MB/s wss=256MB" in shown  # the workload went along


def test_a_faster_link_lets_the_same_guest_converge(pyxl, guest_cfg):
    _up(pyxl, guest_cfg, "idle,mem:dirty=200MB/s wss=256MB")
    assert pyxl("host", "boot", "fast", "--link", "100000").code == 0
    r = pyxl("migrate", "vm1", "fast")
    assert r.code == 0, r.err
    rounds, _pages, _total, downtime = _figures(r.err)
    assert rounds == 6  # the link is the source's: localhost's 1 Gbit/s
    r2 = pyxl("--host", "fast", "migrate", "vm1", "localhost")
    assert r2.code == 0, r2.err
    rounds, _pages, total, downtime = _figures(r2.err)
    assert rounds < 6 and downtime < 5              # 100 Gbit/s outruns 200 MB/s
    assert total < 0.2


def test_bad_mem_workloads_are_refused(pyxl, guest_cfg):
    for bad, why in (("mem:dirty=50MB", "expected mem:dirty=RATE/s"),
                     ("mem:dirty=0MB/s", "'0mb' is not a rate"),
                     ("mem:dirty=1MB/s wss=lots", "'lots' is not a size")):
        r = pyxl("create", "-q", guest_cfg(extra=f"workload = [{json.dumps(bad)}]\n"))
        assert r.code != 0 and why in r.err and len(r.err.splitlines()) == 1, r.err
    assert _rows(pyxl, "localhost").keys() == {"Domain-0"}
    r = pyxl("host", "boot", "slow", "--link", "0")
    assert r.code == 1 and r.err == "invalid --link 0: from 1 to 1000000 Mbit/s\n"


# --- faults -----------------------------------------------------------------

PROXY = r'''
import os, signal, subprocess, sys
mode, arg = sys.argv[1], sys.argv[2]
child = subprocess.Popen(sys.argv[3:], stdin=subprocess.PIPE)
go = b"domain is yours, you are cleared to unpause\0" if mode == "go" else arg.encode()
seen, tail = 0, b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    if mode == "bytes" and seen + len(chunk) >= int(arg):
        child.stdin.write(chunk[:int(arg) - seen]); child.stdin.flush()
        child.kill(); child.wait(); sys.exit(0)
    if mode in ("go", "at") and go in tail + chunk:
        child.kill(); child.wait(); sys.exit(0)
    seen += len(chunk)
    tail = (tail + chunk)[-len(go):]
    child.stdin.write(chunk); child.stdin.flush()
child.stdin.close(); sys.exit(child.wait())
'''


def _proxied(tmp_path, mode: str, arg) -> str:
    """A transport that runs the real receiver for lab2 and kills it (after
    `arg` octets of stream, when the stream reaches `arg`, or when "go" comes)."""
    script = tmp_path / "proxy.py"
    script.write_text(PROXY)
    receiver = [sys.executable, "-m", "pyxl", "--host", "lab2", "migrate-receive"]
    return " ".join(shlex.quote(a) for a in [sys.executable, str(script), mode, str(arg),
                                              *receiver])


def test_receiver_killed_during_the_rounds(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg, "idle,mem:dirty=200MB/s wss=256MB")
    pyxl("--host", "lab2", "list")
    # round 0 alone is 1 MiB of pfns: the receiver dies in round 1
    r = pyxl("migrate", "-s", "", "vm1", _proxied(tmp_path, "bytes", 1_200_000))
    assert r.code == 1
    lines = r.err.splitlines()
    # the receiver's own lines come out at migration_child_report, between these
    # two of the sender's, in the same order every time
    assert lines[-1] == "Migration failed, failed to suspend at sender."
    failed = lines.index("migration sender: libxl_domain_suspend failed (rc=-8)")
    assert lines[failed + 1:-1] == [
        "Loading new save file <incoming migration stream> (new xl fmt info 0x3/0x0/992)",
        " Savefile contains xl domain config in JSON format",
        "Parsing config from <saved>"]
    assert ("libxl: error: libxl_stream_write.c:343:libxl__xc_domain_save_done: Domain 1:"
            "saving domain: domain did not respond to suspend request: Broken pipe") in lines
    # the guest never stopped running at the source; the receiver built nothing
    assert _rows(pyxl, "localhost")["vm1"] in ("-b----", "r-----", "------")
    assert _rows(pyxl, "lab2").keys() == {"Domain-0"}
    assert pyxl("migrate", "vm1", "lab2").code == 0  # and it can go again
    assert _rows(pyxl, "lab2").keys() == {"Domain-0", "vm1"}
    assert _rows(pyxl, "localhost").keys() == {"Domain-0"}


def test_receiver_killed_during_the_stop_and_copy(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    pyxl("--host", "lab2", "list")
    # it dies when pyxl's record, at the end of the last round, arrives
    r = pyxl("migrate", "-s", "", "vm1", _proxied(tmp_path, "at", '"precopy":'))
    assert r.code == 1
    lines = r.err.splitlines()
    assert lines[-2:] == [
        "libxl: error: libxl_utils.c:494:libxl_read_exactly: file/stream truncated reading "
        "ready message from migration receiver stream",
        "Migration failed, resuming at sender."]
    pyxl("clock", "advance", "10ms")
    assert _rows(pyxl, "localhost") == {"Domain-0": "r-----", "vm1": "-b----"}  # resumed
    assert _rows(pyxl, "lab2") == {"Domain-0": "r-----"}


def test_receiver_dies_after_go(pyxl, guest_cfg, tmp_path):
    from pyxl.cli.migrate import FAILED_BADLY

    _up(pyxl, guest_cfg)
    pyxl("--host", "lab2", "list")
    r = pyxl("migrate", "-s", "", "vm1", _proxied(tmp_path, "go", 0))
    assert r.code == 1
    lines = r.err.splitlines()
    i = lines.index("migration sender: Giving target permission to start.")
    assert lines[i + 1] == ("libxl: error: libxl_utils.c:494:libxl_read_exactly: file/stream "
                            "truncated reading success/failure report message from migration "
                            "receiver stream")
    assert "\n".join(lines[i + 2:i + 8]) == FAILED_BADLY
    # as xl leaves it: the sender's copy renamed away, still suspended, not
    # destroyed; the receiver's paused under its incoming name. One copy
    # each, neither running: the user decides which to resume.
    assert _rows(pyxl, "localhost") == {"Domain-0": "r-----", "vm1--migratedaway": "---ss-"}
    assert _rows(pyxl, "lab2") == {"Domain-0": "r-----", "vm1--incoming": "--p---"}
