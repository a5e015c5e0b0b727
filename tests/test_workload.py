"""The guest demand model: spec parsing and the work/wake rules."""

import pytest

from pyxl.errors import PyxlError
from pyxl.hv.workload import NS_PER_MS
from pyxl.hv.workload import Demand, parse_duration, parse_workload


def test_single_specs_are_normalised():
    assert parse_workload("idle", 1) == ["idle"]
    assert parse_workload(" Busy ", 2) == ["busy", "busy"]
    assert parse_workload("periodic:5000us/20ms", 1) == ["periodic:5ms/20ms"]
    assert parse_workload("periodic:1s/2s", 1) == ["periodic:1s/2s"]


def test_short_list_repeats_last_entry_and_long_list_is_cut():
    assert parse_workload(["busy", "idle"], 4) == ["busy", "idle", "idle", "idle"]
    assert parse_workload(["busy", "idle", "bursty"], 2) == ["busy", "idle"]
    assert parse_workload("busy,periodic:1ms/10ms", 3) == [
        "busy", "periodic:1ms/10ms", "periodic:1ms/10ms"]


@pytest.mark.parametrize("bad", ["spin", "periodic:5ms", "periodic:5/20ms",
                                 "periodic:30ms/20ms", "periodic:0ms/20ms",
                                 "periodic:5ms/20xs"])
def test_bad_specs_raise_one_line_errors(bad):
    with pytest.raises(PyxlError) as e:
        parse_workload(bad, 1)
    assert "\n" not in e.value.message
    assert bad.split(",")[0] in e.value.message


def test_empty_list_is_rejected():
    with pytest.raises(PyxlError):
        parse_workload([], 1)


def test_duration_needs_a_unit():
    assert parse_duration("250us", "x") == 250_000
    with pytest.raises(PyxlError):
        parse_duration("250", "x")


def test_busy_never_blocks():
    d = Demand.load("busy", {}, 0, 1, 0, now=0)
    assert d.work is None and d.next_release is None and d.wants_cpu()


def test_idle_wakes_every_second_with_a_seeded_phase():
    a = Demand.load("idle", {}, 7, 1, 0, now=0)
    b = Demand.load("idle", {}, 7, 2, 0, now=0)
    assert not a.wants_cpu()
    assert 0 <= a.next_release < 1000 * NS_PER_MS
    assert a.next_release != b.next_release  # different vCPUs, different phase
    t = a.next_release
    a.release(t)
    assert a.work == 2 * NS_PER_MS and a.next_release == t + 1000 * NS_PER_MS


def test_idle_release_late_keeps_the_timer_phase():
    """A vCPU paused past its release keeps its grid instead of moving it to now."""
    a = Demand.load("idle", {}, 7, 1, 0, now=0)
    t = a.next_release
    a.release(t + 3500 * NS_PER_MS)
    assert a.next_release == t + 4000 * NS_PER_MS


def test_periodic_drops_unfinished_work_and_counts_the_miss():
    d = Demand.load("periodic:5ms/20ms", {}, 0, 1, 0, now=0)
    assert d.work == 5 * NS_PER_MS and d.next_release == 20 * NS_PER_MS
    d.consume(2 * NS_PER_MS)
    d.release(20 * NS_PER_MS)
    assert d.work == 5 * NS_PER_MS  # not 8 ms: the late job was dropped
    assert d.missed == 1
    d.consume(5 * NS_PER_MS)
    d.on_block(25 * NS_PER_MS)
    d.release(40 * NS_PER_MS)
    assert d.missed == 1


def test_bursty_is_reproducible_per_seed_and_vcpu():
    def lengths(seed, domid):
        d = Demand.load("bursty", {}, seed, domid, 0, now=0)
        out, t = [], 0
        for _ in range(5):
            out.append(d.work)
            t += d.work
            d.on_block(t)
            out.append(d.next_release - t)
            t = d.next_release
            d.release(t)
        return out
    assert lengths(1, 3) == lengths(1, 3)
    assert lengths(1, 3) != lengths(2, 3)
    assert lengths(1, 3) != lengths(1, 4)
    assert all(x > 0 for x in lengths(1, 3))


def test_state_round_trips_relative_to_save_time():
    d = Demand.load("periodic:5ms/20ms", {}, 0, 1, 0, now=1000)
    saved = d.dump(now=5000)
    e = Demand.load("periodic:5ms/20ms", saved, 0, 1, 0, now=10**9 + 5000)
    assert e.next_release - (10**9 + 5000) == d.next_release - 5000
    assert e.work == d.work
    # a changed spec starts afresh
    f = Demand.load("busy", saved, 0, 1, 0, now=0)
    assert f.work is None
