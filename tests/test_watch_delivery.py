"""Watch delivery per change (issue 9): one matching pass over the new changes
gives every connection exactly what its own look at the log would give."""

from __future__ import annotations

import random
import sqlite3

from pyxl.xenstore import watches
from pyxl.xenstore.errors import XenStoreError
from pyxl.xenstore.perms import Perm
from pyxl.xenstore.schema import apply_schema
from pyxl.xenstore.store import XenStore

LIVE = {0, 5, 6, 7}


def _store(conn, caller=0, conn_id=None):
    return XenStore(conn, caller, domain_exists=lambda d: d in LIVE, conn_id=conn_id)


def _conn(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "host.db"), isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    apply_schema(conn)
    XenStore.boot(conn)
    return conn


def _same_as_each_look(conn, since: int) -> int:
    conn_ids = [c for (c,) in conn.execute("SELECT DISTINCT conn_id FROM xs_watch")]
    got = watches.events_by_conn(conn, since)
    for c in conn_ids:
        assert got.get(c, []) == watches.pending_events(conn, c, since), c
    assert set(got) <= set(conn_ids)
    return sum(map(len, got.values()))


def test_ancestors():
    assert watches.ancestors("/") == ["/"]
    assert watches.ancestors("/a/b") == ["/a/b", "/a", "/"]
    assert watches.ancestors("@releaseDomain/3") == ["@releaseDomain/3", "@releaseDomain"]


def test_events_by_conn_matches_pending_events(tmp_path):
    conn = _conn(tmp_path)
    dom0 = _store(conn)
    for d in (5, 6):
        home = f"/local/domain/{d}"
        dom0.mkdir(home)
        dom0.set_perms(home, [Perm(0, "n"), Perm(d, "r")])
        dom0.introduce_domain(d)
    guests = {d: _store(conn, d) for d in (5, 6)}
    others = [_store(conn, 0, conn_id=f"tool{i}") for i in range(3)]
    rng = random.Random(9)
    pool = ["/local/domain/5/a", "/local/domain/5/a/b", "/local/domain/6/x",
            "/local/domain/6/x/y/z", "/tool", "/tool/k", "/local", "/"]
    start = 0
    for i in range(300):
        op = rng.randrange(7)
        try:
            if op == 0:
                xs = rng.choice(others)
                xs.watch(rng.choice(pool + ["@releaseDomain", "@introduceDomain"]),
                         f"t{i}", depth=rng.choice([None, 0, 1, 2]))
            elif op == 1:
                d = rng.choice([5, 6])
                guests[d].watch(rng.choice(["a", "x", "a/b", "x/y"]), f"g{i}")
            elif op in (2, 3):
                dom0.write(rng.choice(pool[:-2]), b"%d" % i)
            elif op == 4:
                dom0.rm(rng.choice(pool[:-2]))
            elif op == 5:
                dom0.set_perms(rng.choice(pool[:-2]), [Perm(0, "n"), Perm(5, "r")])
            else:
                guests[5].write("a/c", b"")
        except XenStoreError:
            pass
        if i % 50 == 49:
            _same_as_each_look(conn, start)
            _same_as_each_look(conn, 0)
            start = watches.last_seq(conn)
    dom0.release_domain(6)
    assert _same_as_each_look(conn, 0) > 100


# --- a balloon that finds no memory sleeps until some is freed ---------------


def _mem(pyxl, name):
    return int(pyxl("list", name).out.splitlines()[1].split()[2])


def _fill_host(pyxl):
    """Domain-0 takes every free KiB (as a memory hog would)."""
    from pyxl.sim.host import open_host

    with open_host(write=True) as h:
        free = h.hv.free_kb()
        h.hv.domctl_max_mem(0, h.hv.domains[0].tot_memkb + free)
        h.hv.memory_populate_physmap(0, free)


def _give_back(kb):
    """Domain-0 hands `kb` back to Xen, at the host's current time."""
    from pyxl.sim.host import open_host

    with open_host(write=True) as h:
        h.hv.memory_decrease_reservation(0, kb)
        return h.now_ns


def test_starved_balloon_sleeps_then_grows_at_its_retry_tick(pyxl, guest_cfg, monkeypatch):
    from pyxl.sim import guest as guestos
    from pyxl.sim.host import open_host

    assert pyxl("create", "-q", guest_cfg(memory=256, extra="maxmem = 512\n")).code == 0
    assert pyxl("clock", "advance", "3s").code == 0
    _fill_host(pyxl)
    assert pyxl("mem-set", "vm1", "512").code == 0
    assert pyxl("clock", "advance", "2s").code == 0
    assert _mem(pyxl, "vm1") == 256
    with open_host(write=False) as h:
        b = h.guest(1).balloon
        assert b.next_ns is None and b.starved_ns is not None
        assert h.meta["balloon_waiters"] == "[1]"
        starved = b.starved_ns

    steps = []
    real_step = guestos.step
    monkeypatch.setattr(guestos, "step", lambda *a: (steps.append(a[1].domid), real_step(*a)))
    assert pyxl("clock", "advance", "1h").code == 0
    assert steps == [] and _mem(pyxl, "vm1") == 256  # asleep: no polling

    assert pyxl("clock", "advance", "250ms").code == 0
    freed_at = _give_back(512 * 1024)
    tick = starved + -(-(freed_at - starved) // guestos.BALLOON_RETRY_NS) * guestos.BALLOON_RETRY_NS
    assert tick > freed_at
    assert pyxl("clock", "advance", f"{(tick - freed_at) // 1_000_000 - 1}ms").code == 0
    assert _mem(pyxl, "vm1") == 256  # the driver tries again at its next retry tick ...
    assert pyxl("clock", "advance", "1ms").code == 0
    assert _mem(pyxl, "vm1") == 288  # ... and takes its first step there
    assert pyxl("clock", "advance", "2s").code == 0
    assert _mem(pyxl, "vm1") == 512
    with open_host(write=False) as h:
        assert h.guest(1).balloon.starved_ns is None


def test_destroy_wakes_a_starved_balloon(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg(memory=256, extra="maxmem = 512\n")).code == 0
    assert pyxl("create", "-q", guest_cfg("hog", memory=256)).code == 0
    assert pyxl("clock", "advance", "3s").code == 0
    _fill_host(pyxl)
    assert pyxl("mem-set", "vm1", "512").code == 0
    assert pyxl("clock", "advance", "10s").code == 0
    assert _mem(pyxl, "vm1") == 256
    assert pyxl("destroy", "hog").code == 0
    assert pyxl("clock", "advance", "3s").code == 0
    assert _mem(pyxl, "vm1") == 512


def test_raising_maxmem_wakes_a_balloon_at_its_limit(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg(memory=256)).code == 0
    assert pyxl("clock", "advance", "3s").code == 0
    from pyxl.sim.host import open_host

    with open_host(write=True) as h:  # the target above max_pages, as a toolstack could
        h.xs(0).write("/local/domain/1/memory/target", str(384 * 1024).encode())
    assert pyxl("clock", "advance", "5s").code == 0
    before = _mem(pyxl, "vm1")
    assert pyxl("mem-max", "vm1", "1024").code == 0
    assert pyxl("clock", "advance", "3s").code == 0
    assert _mem(pyxl, "vm1") == 384 > before


def test_starved_guest_missing_from_the_waiter_list_still_wakes(pyxl, guest_cfg):
    from pyxl.sim.host import open_host

    assert pyxl("create", "-q", guest_cfg(memory=256, extra="maxmem = 512\n")).code == 0
    assert pyxl("create", "-q", guest_cfg("hog", memory=256)).code == 0
    assert pyxl("clock", "advance", "3s").code == 0
    _fill_host(pyxl)
    assert pyxl("mem-set", "vm1", "512").code == 0
    assert pyxl("clock", "advance", "5s").code == 0
    with open_host(write=True) as h:  # as if the list were lost (older or damaged state)
        h.set_meta("balloon_waiters", "not json")
    assert pyxl("destroy", "hog").code == 0  # nobody on the list hears of it
    assert pyxl("clock", "advance", "3s").code == 0
    assert _mem(pyxl, "vm1") == 512
