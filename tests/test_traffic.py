"""Traffic you can watch: a workload's net:/io: parts drive packets over vifs
and requests over vbds, counted by Domain-0's backends and shown by xentop."""

from __future__ import annotations

import pytest

DEVICES = 'vif = ["bridge={bridge}"]\ndisk = ["/srv/{name}.img,raw,xvda,rw"]\n'
SEND = "net:tx=1000pps size=1500 to=rx"


def _guest(pyxl, guest_cfg, name, bridge="xenbr0", workload=None):
    extra = DEVICES.format(bridge=bridge, name=name)
    if workload:
        extra += f'workload = "{workload}"\n'
    r = pyxl("create", guest_cfg(name, memory=256, vcpus=1, extra=extra))
    assert r.code == 0, r.err


@pytest.fixture
def pair(pyxl, guest_cfg):
    """tx sends 1000 packets a second of 1500 bytes to rx; both are up."""
    _guest(pyxl, guest_cfg, "tx", workload=SEND)
    _guest(pyxl, guest_cfg, "rx")
    assert pyxl("clock", "advance", "2s").code == 0  # both booted (PV: 1.8 s)


def _top(pyxl, *opts):
    """{name: (NETTX(k), NETRX(k), VBD_RD, VBD_WR, VBD_RSECT, VBD_WSECT)} and the text."""
    r = pyxl("top", "-b", "-i", "1", *opts)
    assert r.code == 0, r.err
    rows = {}
    for line in r.out.splitlines():
        f = line.split()
        if len(f) == 19 and f[0] != "NAME":
            rows[f[0]] = tuple(int(x) for x in (f[10], f[11], f[14], f[15], f[16], f[17]))
    return rows, r.out


def _net(pyxl, name):
    """The first Net0 line's (RX bytes, RX pkts, RX drop, TX bytes, TX pkts, TX drop)."""
    _, out = _top(pyxl, "-n")
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
    f = lines[i + 1].replace("bytes", " ").replace("pkts", " ").replace("err", " ") \
        .replace("drop", " ").split()
    return int(f[2]), int(f[3]), int(f[5]), int(f[7]), int(f[8]), int(f[10])


def test_packets_are_rate_times_time(pyxl, pair):
    before = _net(pyxl, "tx")
    assert pyxl("clock", "advance", "10s").code == 0
    sent = _net(pyxl, "tx")
    got = _net(pyxl, "rx")
    # libxenstat reads dom0's vifD.N as it is: what the guest sent is the
    # vif's Receive side (the domain's NETRX); what it received, Transmit.
    assert sent[1] - before[1] == 10_000 and sent[0] - before[0] == 10_000 * 1500
    assert got[4] == sent[1] and got[3] == sent[0]
    rows, _ = _top(pyxl)
    assert rows["tx"][1] == sent[0] // 1024 and rows["rx"][0] == got[3] // 1024
    assert rows["tx"][0] == 0 and rows["rx"][1] == 0


def test_remainder_is_carried_between_windows(pyxl, pair):
    before = _net(pyxl, "tx")[1]
    for _ in range(7):
        assert pyxl("clock", "advance", "1500us").code == 0  # 1.5 packets each
    assert _net(pyxl, "tx")[1] - before == 10  # 10.5, the half still carried


def test_paused_sender_sends_nothing(pyxl, pair):
    assert pyxl("pause", "tx").code == 0
    before = _net(pyxl, "rx")
    assert pyxl("clock", "advance", "5s").code == 0
    assert _net(pyxl, "rx") == before
    assert pyxl("unpause", "tx").code == 0
    assert pyxl("clock", "advance", "1s").code == 0
    assert _net(pyxl, "rx")[4] == before[4] + 1000


def test_receiver_on_another_bridge_counts_drops(pyxl, guest_cfg):
    _guest(pyxl, guest_cfg, "tx", workload=SEND)
    _guest(pyxl, guest_cfg, "rx", bridge="xenbr1")
    assert pyxl("clock", "advance", "2s").code == 0
    before = _net(pyxl, "tx")
    assert pyxl("clock", "advance", "3s").code == 0
    sent = _net(pyxl, "tx")
    assert sent[1] - before[1] == 3000 and sent[2] - before[2] == 3000  # rx_dropped
    assert _net(pyxl, "rx")[4] == 0


def test_io_reads_and_writes_fill_the_vbd_columns(pyxl, guest_cfg):
    _guest(pyxl, guest_cfg, "db", workload="idle,io:read=200iops write=50iops size=8k")
    assert pyxl("clock", "advance", "2s").code == 0
    before, _ = _top(pyxl)
    assert pyxl("clock", "advance", "4s").code == 0
    after, out = _top(pyxl, "-x")
    rd, wr = after["db"][2] - before["db"][2], after["db"][3] - before["db"][3]
    assert (rd, wr) == (800, 200)
    assert after["db"][4] - before["db"][4] == 800 * 16
    assert after["db"][5] - before["db"][5] == 200 * 16
    assert f"VBD BlkBack 51712 [ca: 0]  OO:        0   RD: {after['db'][2]:8}" in out


def test_same_commands_same_numbers(pyxl, guest_cfg, tmp_path, monkeypatch):
    outs = []
    for run in ("a", "b"):
        monkeypatch.setenv("PYXL_STATE_DIR", str(tmp_path / run))
        _guest(pyxl, guest_cfg, "tx", workload=SEND + ",io:read=33iops")
        _guest(pyxl, guest_cfg, "rx")
        pyxl("clock", "advance", "3s")
        pyxl("clock", "advance", "777ms")
        outs.append(_top(pyxl, "-n", "-x")[1])
    assert outs[0] == outs[1]


@pytest.mark.parametrize("bad", ["net:tx=10", "net:tx=5pps size=0", "io:size=4k",
                                 "io:read=1iops size=1000", "net:tx=1pps mtu=9000",
                                 "busy,net:tx=1pps,net:tx=2pps"])
def test_bad_spec_changes_nothing(pyxl, pair, bad):
    before = pyxl("workload", "tx").out
    r = pyxl("workload", "tx", bad)
    assert r.code == 1 and r.out == "" and r.err.count("\n") == 1
    assert "Invalid workload" in r.err
    assert pyxl("workload", "tx").out == before


def test_workload_shows_and_replaces_the_net_part(pyxl, pair):
    assert pyxl("workload", "tx").out == "0: idle\nnet: tx=1000pps size=1500 to=rx\n"
    assert pyxl("workload", "tx", "busy").code == 0
    assert pyxl("workload", "tx").out == "0: busy\n"
    before = _net(pyxl, "rx")
    pyxl("clock", "advance", "1s")
    assert _net(pyxl, "rx") == before


def test_trace_shows_grant_copies_and_sends(pyxl, pair):
    r = pyxl("--trace", "top", "-b", "-i", "2", "-d", "1")
    assert r.code == 0
    lines = r.err.splitlines()
    copies = [x for x in lines if x.startswith("xen: GNTTABOP_copy(domid=0, ")]
    assert copies and all("status=0" in x for x in copies)
    assert "count=256" in copies[0]
    assert any(x.startswith("xen: EVTCHNOP_send(domid=1, ") for x in lines)  # netfront
    assert any(x.startswith("xen: EVTCHNOP_send(domid=0, ") for x in lines)  # netback
    # 1000 packets: 4 passes of up to 256; two shown, the rest in one line.
    assert "xen: pyxl_traffic(dev=vif1.0, passes_not_shown=2, requests=488)" in lines


def test_trace_of_clock_advance_shows_the_ring_passes(pyxl, pair):
    r = pyxl("--trace", "clock", "advance", "10ms")
    assert r.code == 0
    assert "xen: GNTTABOP_copy(domid=0, " in r.err
    assert "xen: EVTCHNOP_send(" in r.err


def test_long_advance_traces_a_bounded_number_of_lines(pyxl, pair):
    r = pyxl("--trace", "top", "-b", "-i", "2", "-d", "3600")
    assert r.code == 0
    assert len(r.err.splitlines()) < 50
    rows, _ = _top(pyxl)
    assert rows["rx"][0] >= 3600 * 1000 * 1500 // 1024


def test_destination_not_connected_drops_in_its_netback(pyxl, guest_cfg, write_cfg):
    _guest(pyxl, guest_cfg, "tx", workload=SEND)
    hvm = ('name = "rx"\ntype = "hvm"\nmemory = 256\nxen_platform_pci = 0\n'
           'vif = ["bridge=xenbr0"]\n')
    assert pyxl("create", write_cfg(hvm, "rx.cfg")).code == 0
    assert pyxl("clock", "advance", "5s").code == 0  # tx up; rx's frontend stays at 1
    before = _net(pyxl, "rx")
    assert pyxl("clock", "advance", "2s").code == 0
    after = _net(pyxl, "rx")
    assert after[5] - before[5] == 2000 and after[4] == 0  # its tx drop, nothing delivered


def test_destroyed_receiver_turns_packets_into_drops(pyxl, pair):
    assert pyxl("destroy", "rx").code == 0
    before = _net(pyxl, "tx")
    assert pyxl("clock", "advance", "1s").code == 0
    after = _net(pyxl, "tx")
    assert after[1] - before[1] == 1000 and after[2] - before[2] == 1000
