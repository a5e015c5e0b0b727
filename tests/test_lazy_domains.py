"""create and destroy on a host with many domains decode only the domains they
touch: the others' ids and names come from the name index, the memory they
hold from one pass over their rows (pyxl/sim/rows.py, DomainTable). What the
commands print and do is what it was when every domain was decoded."""

from __future__ import annotations

import sqlite3

import pytest


@pytest.fixture
def decoded(monkeypatch):
    """The domids whose domain row each command decodes, in order."""
    from pyxl.sim import rows

    seen: list[int] = []
    real = rows.decode_object

    def spy(text, what):
        if what.startswith("domains.data of domain "):
            seen.append(int(what.rsplit(" ", 1)[1]))
        return real(text, what)

    monkeypatch.setattr(rows, "decode_object", spy)
    return seen


def _ok(r):
    assert r.code == 0, r.err
    return r


def _create(pyxl, name: str, memory: int = 256, *extra: str):
    return pyxl("create", "-q", "/dev/null", f'name="{name}"', 'kernel="/k"',
                f"memory={memory}", *extra)


def _host(pyxl, guests: int = 4) -> None:
    """4 pCPUs, 4 GiB (dom0 1 GiB), `guests` booted guests of 256 MiB: vm1..vmN."""
    _ok(pyxl("host", "boot", "--cpus", "4", "--memory", "4096"))
    for i in range(1, guests + 1):
        _ok(_create(pyxl, f"vm{i}"))
    _ok(pyxl("clock", "advance", "5s"))


def _sql(state_dir, statement: str) -> None:
    conn = sqlite3.connect(state_dir / "localhost" / "state.db", isolation_level=None)
    try:
        conn.execute(statement)
    finally:
        conn.close()


def _rows(pyxl) -> list[tuple[str, ...]]:
    """`xl list` as (name, id, mem, vcpus, state) rows."""
    return [tuple(line.split()[:5]) for line in _ok(pyxl("list")).out.splitlines()[1:]]


def test_create_and_destroy_decode_only_their_own_domain(pyxl, decoded):
    _host(pyxl)
    decoded.clear()
    # built in memory; no other guest decoded (Domain-0 is: xenstored's and
    # xenconsoled's ends of the new domain's event channels are its)
    _ok(_create(pyxl, "vm5"))
    assert decoded == [0]
    _ok(pyxl("destroy", "vm2"))
    assert decoded == [0, 2, 0]
    _ok(pyxl("create", "-q", "-p", "/dev/null", 'name="vm6"', 'kernel="/k"', "memory=128"))
    _ok(pyxl("destroy", "6"))
    assert [d for d in decoded if d] == [2, 6]
    assert _rows(pyxl) == [
        ("Domain-0", "0", "1024", "4", "r-----"),
        ("vm1", "1", "256", "1", "-b----"),
        ("vm3", "3", "256", "1", "-b----"),
        ("vm4", "4", "256", "1", "-b----"),
        ("vm5", "5", "256", "1", "------"),
    ]
    assert _ok(pyxl("info")).out.count("free_memory            : 2048\n") == 1


def test_a_create_refused_for_memory_counts_every_domain(pyxl, decoded):
    _host(pyxl)                              # 4096 - 1024 - 4 * 256 = 2048 MiB free
    decoded.clear()
    r = _create(pyxl, "big", 2049)
    assert r.code == 3
    assert r.err.splitlines() == [
        "xc: error: panic: xg_dom_boot.c:121: xc_dom_boot_mem_init: can't allocate low "
        "memory for domain: Out of memory",
        "libxl: error: libxl_create.c:1653:domcreate_rebuild_done: Domain 5:cannot "
        "(re-)build domain: -3"]
    assert decoded == []
    _ok(_create(pyxl, "fits", 2048))         # the last MiB is there
    assert [row[0] for row in _rows(pyxl)] == ["Domain-0", "vm1", "vm2", "vm3", "vm4", "fits"]


def test_a_name_clash_is_refused_without_decoding_the_other_domain(pyxl, decoded):
    _host(pyxl)
    _ok(pyxl("rename", "vm3", "renamed"))
    decoded.clear()
    r = _create(pyxl, "vm2")
    # libxl makes domain 5 before its rename fails, then destroys it (twice: xl too)
    assert (r.code, r.err.splitlines()[:2]) == (3, [
        'libxl: error: libxl_domain.c:81:libxl__domain_rename: Domain 5:Domain with name "vm2" '
        'already exists.',
        "libxl: error: libxl_create.c:1309:initiate_domain_create: Domain 5:cannot make "
        "domain: -6"])
    r = _create(pyxl, "renamed")
    assert r.code == 3 and 'Domain with name "renamed" already exists.' in r.err
    assert decoded == []
    _ok(_create(pyxl, "vm3"))                # the old name is free again
    assert _ok(pyxl("domid", "vm3")).out == "7\n"   # domids 5 and 6 were used up


def test_domids_come_from_the_rover_past_domains_not_decoded(pyxl, decoded, state_dir):
    _host(pyxl, guests=3)
    _ok(pyxl("destroy", "vm2"))
    _ok(_create(pyxl, "a"))
    assert _ok(pyxl("domid", "a")).out == "4\n"   # the rover moves on: 2 is not reused yet
    _sql(state_dir, "UPDATE meta SET value = '32750' WHERE key = 'domid_rover'")
    _ok(_create(pyxl, "b"))
    decoded.clear()
    _ok(_create(pyxl, "c"))                  # wraps, skips 1 (taken), takes 2
    assert decoded == [0]                    # Domain-0 binds the new channels
    assert [row[:2] for row in _rows(pyxl)] == [
        ("Domain-0", "0"), ("vm1", "1"), ("c", "2"), ("vm3", "3"), ("a", "4"), ("b", "32751")]


def test_a_damaged_row_of_another_domain_does_not_stop_create_or_destroy(pyxl, state_dir):
    _host(pyxl)
    _sql(state_dir, """UPDATE vcpus SET data = '{"x": 1}' WHERE domid = 1""")
    _sql(state_dir, "UPDATE domains SET data = json_set(data, '$.bogus', 1) WHERE domid = 2")
    _ok(_create(pyxl, "vm5"))
    _ok(pyxl("destroy", "vm4"))
    _ok(pyxl("destroy", "vm5"))
    r = pyxl("list")                         # list shows every domain: it must decode them
    assert r.code != 0 and len(r.err.splitlines()) == 1 and "is unreadable (" in r.err


def test_create_counts_memory_from_the_index_and_a_row_it_must_read_stops_it(
        pyxl, state_dir):
    # free memory is what no domain holds, summed from the memory index: a
    # row that is not JSON does not stop create while the index has its
    # size; where the index has none, the row is read, and create says the
    # host is unreadable; destroy needs no such sum and goes ahead
    _host(pyxl)
    _sql(state_dir, "UPDATE domains SET data = 'nope' WHERE domid = 1")
    _ok(_create(pyxl, "vm5"))
    _ok(pyxl("destroy", "vm5"))
    _sql(state_dir, "UPDATE domains SET memkb = NULL WHERE domid = 1")
    r = _create(pyxl, "vm5")
    assert r.code != 0 and len(r.err.splitlines()) == 1 and "is unreadable (" in r.err
    _ok(pyxl("destroy", "vm2"))
