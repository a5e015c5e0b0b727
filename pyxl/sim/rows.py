"""Domains, vCPUs and cpupools as rows of the host database.

One row per domain and per vCPU, their fields as JSON, so that the classes
of pyxl/hv/model.py can grow without a schema migration for every field; the
guest OS's `GuestState` (pyxl/sim/guest.py) is JSON in its domain's row too.
Decoding is where a damaged database shows: a row that does not decode is a
`StateDamaged`, which the command reports as an unreadable host.
"""

from __future__ import annotations

import json
import sqlite3

from pyxl.hv.domains import Domains
from pyxl.hv.model import SPARSE_FIELDS, CpuPool, Domain, Vcpu
from pyxl.sim.guest import Balloon, GuestInfo, GuestState, Reaction, wake_ns
from pyxl.state.db import StateDamaged


def decode_object(text: object, what: str) -> dict:
    """A JSON object from a column; StateDamaged if the column holds anything else."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise StateDamaged(f"bad JSON in {what}") from None
    if not isinstance(value, dict):
        raise StateDamaged(f"{what} is not a JSON object")
    return value


def decode_lines(text: object, what: str) -> list[str]:
    """A JSON list of strings from a column; StateDamaged if it holds anything else."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise StateDamaged(f"bad JSON in {what}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StateDamaged(f"{what} is not a list of lines")
    return value


def _make(cls, what: str, data: dict, **fixed):
    try:
        return cls(**data, **fixed)
    except TypeError:
        raise StateDamaged(f"{what} does not hold a {cls.__name__}") from None


def guest_state(text: object, domid: int) -> GuestState:
    what = f"domains.guest of domain {domid}"
    data = decode_object(text, what)
    info, balloon, pending = data.pop("info", None), data.pop("balloon", None), \
        data.pop("pending", [])
    try:
        return GuestState(**data, info=None if info is None else GuestInfo(**info),
                          balloon=None if balloon is None else Balloon(**balloon),
                          pending=[Reaction(*r) for r in pending])
    except TypeError:
        raise StateDamaged(f"{what} does not hold a GuestState") from None


def guest_json(g: GuestState) -> str:
    data = dict(g.__dict__)
    data["info"] = None if g.info is None else g.info.__dict__
    data["balloon"] = None if g.balloon is None else g.balloon.__dict__
    data["pending"] = [[r.due_ns, r.what, r.arg] for r in g.pending]
    if not g.backend:   # only Domain-0's holds backend counters
        del data["backend"]
    return json.dumps(data)


class DomainTable(Domains):
    """The host's domains, each decoded from its rows (domain and vCPUs) the
    first time it is looked up, and all of them only when they are iterated
    by value. Which domids exist, and their names, come from one query over
    the name index; the memory in use, from the memory index. Iteration
    follows the rows' domid order, then the domains created since, as the
    dict of every domain it replaces.

    `rows` and `vcpu_rows` keep each decoded row's text as read, so that
    writing back skips the rows that did not change. A damaged row shows
    (StateDamaged) when its domain is decoded, not before.
    """

    def __init__(self, conn: sqlite3.Connection, rows: dict[int, str] | None = None,
                 vcpu_rows: dict[tuple[int, int], str] | None = None):
        super().__init__()
        self.conn = conn
        self.rows = {} if rows is None else rows
        self.vcpu_rows = {} if vcpu_rows is None else vcpu_rows
        # Every domid, in order, with its stored name (None: created since);
        # the name index answers without reading the rows, sorted here.
        names = conn.execute("SELECT domid, name FROM domains").fetchall()
        self._names: dict[int, str | None] = dict(sorted(names))
        if 0 not in self._names:
            raise StateDamaged("no Domain-0 in domains")
        self._all = False
        self._stored_memkb: dict[int, object] | None = None

    def __getitem__(self, domid: int) -> Domain:
        d = self._loaded.get(domid)
        if d is None:
            if domid not in self._names:
                raise KeyError(domid)
            d = self._load(domid)
        return d

    def __setitem__(self, domid: int, d: Domain) -> None:
        self._names.setdefault(domid, None)
        self._loaded[domid] = d

    def __delitem__(self, domid: int) -> None:
        del self._names[domid]
        self._loaded.pop(domid, None)

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, domid: object) -> bool:
        return domid in self._names

    def values(self):
        self._load_rest()
        return self._loaded.values()

    def items(self):
        self._load_rest()
        return self._loaded.items()

    def total_memkb(self) -> int:
        used = sum(d.tot_memkb for d in self._loaded.values())
        for domid, kb in self._stored_memory().items():
            if domid in self._names and domid not in self._loaded:
                # the index's integer is the row's; else decode the row
                used += kb if type(kb) is int else self[domid].tot_memkb
        return used

    def domid_named(self, name: str) -> int | None:
        loaded = self._loaded
        for domid, stored in self._names.items():
            d = loaded.get(domid)
            if (stored if d is None else d.name) == name:
                return domid
        return None

    def name_of(self, domid: int) -> str | None:
        d = self._loaded.get(domid)
        return d.name if d is not None else self._names.get(domid)

    def shut_down(self) -> list[int]:
        """Those decoded that have shut down: a domain shuts down in memory,
        and xl's monitor acted on each stored one when it shut down."""
        return sorted(domid for domid, d in self._loaded.items() if d.shutdown)

    # --- reading rows ---

    def _stored_memory(self) -> dict[int, object]:
        """Each stored row's tot_memkb from the memory index (None where the
        index has no integer), in one pass; rows not decoded do not change
        during the command."""
        if self._stored_memkb is None:
            self._stored_memkb = dict(
                self.conn.execute("SELECT domid, memkb FROM domains").fetchall())
        return self._stored_memkb

    def _load(self, domid: int) -> Domain:
        vcpus = [self._vcpu(domid, vcpuid, data) for vcpuid, data in self.conn.execute(
            "SELECT vcpuid, data FROM vcpus WHERE domid = ? ORDER BY vcpuid", (domid,))]
        row = self.conn.execute("SELECT data FROM domains WHERE domid = ?", (domid,)).fetchone()
        if row is None:
            raise KeyError(domid)
        return self._decode(domid, row[0], vcpus)

    def _load_rest(self) -> None:
        """Decode every domain not decoded yet, in two queries, and put them
        all in the table's order."""
        if self._all:
            return
        loaded, rest = self._loaded, [i for i in self._names if i not in self._loaded]
        if rest:
            wanted = set(rest)
            vcpus: dict[int, list[Vcpu]] = {}
            for domid, vcpuid, data in self.conn.execute(
                    "SELECT domid, vcpuid, data FROM vcpus ORDER BY domid, vcpuid"):
                if domid in wanted:
                    vcpus.setdefault(domid, []).append(self._vcpu(domid, vcpuid, data))
            for domid, data in self.conn.execute("SELECT domid, data FROM domains"):
                if domid in wanted:
                    self._decode(domid, data, vcpus.get(domid, []))
        self._loaded = {domid: loaded[domid] for domid in self._names}
        self._all = True

    def _vcpu(self, domid: int, vcpuid: int, data: str) -> Vcpu:
        what = f"vcpus.data of domain {domid}"
        v = _make(Vcpu, what, decode_object(data, what))
        self.vcpu_rows[domid, vcpuid] = data
        return v

    def _decode(self, domid: int, data: str, vcpus: list[Vcpu]) -> Domain:
        what = f"domains.data of domain {domid}"
        d = _make(Domain, what, decode_object(data, what))
        d.vcpus = vcpus
        self._loaded[domid] = d
        self.rows[domid] = data
        if self.on_load is not None:
            self.on_load(d)
        return d


def load_pools(conn: sqlite3.Connection, pool_rows: dict | None = None) -> dict[int, CpuPool]:
    """Every cpupool; each row's (name, data) as read goes into `pool_rows` when given."""
    pools = {}
    for poolid, name, data in conn.execute("SELECT poolid, name, data FROM cpupools"):
        what = f"cpupools.data of pool {poolid}"
        pools[poolid] = _make(CpuPool, what, decode_object(data, what), poolid=poolid, name=name)
        if pool_rows is not None:
            pool_rows[poolid] = (name, data)
    if 0 not in pools:  # Pool-0 exists from boot and cannot be destroyed
        raise StateDamaged("no Pool-0 in cpupools")
    return pools


def pool_data(pool: CpuPool) -> str:
    return json.dumps({"sched": pool.sched, "cpus": pool.cpus, "params": pool.params,
                       "sched_state": pool.sched_state})


def save_pool(conn: sqlite3.Connection, pool: CpuPool, data: str | None = None) -> None:
    """Write the pool's row (`data`: its pool_data, if the caller has it already)."""
    conn.execute("INSERT OR REPLACE INTO cpupools(poolid, name, data) VALUES (?, ?, ?)",
                 (pool.poolid, pool.name, pool_data(pool) if data is None else data))


def domain_data(d: Domain) -> str:
    data = {k: v for k, v in d.__dict__.items()
            if k != "vcpus" and (v or k not in SPARSE_FIELDS)}
    return json.dumps(data)


def save_domain(conn: sqlite3.Connection, d: Domain, config: dict | None,
                guest: GuestState) -> None:
    conn.execute(
        "INSERT INTO domains(domid, name, data, config, guest, wake_ns, memkb) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (d.domid, d.name, domain_data(d), json.dumps(config) if config is not None else None,
         guest_json(guest), wake_ns(d, guest), d.tot_memkb),
    )
    save_vcpus(conn, d)


def save_guests(conn: sqlite3.Connection, rows: list[tuple[str, int | None, int]]) -> None:
    """Write guests' states back, each with its wake index entry: (guest_json, wake, domid)."""
    conn.executemany("UPDATE domains SET guest = ?, wake_ns = ? WHERE domid = ?", rows)


def save_wakes(conn: sqlite3.Connection, rows: list[tuple[int | None, int]]) -> None:
    """Correct wake index entries found stale or damaged: (wake, domid)."""
    conn.executemany("UPDATE domains SET wake_ns = ? WHERE domid = ?", rows)


def vcpu_data(v: Vcpu) -> str:
    return json.dumps(v.__dict__)


def save_vcpus(conn: sqlite3.Connection, d: Domain) -> None:
    conn.execute("DELETE FROM vcpus WHERE domid = ?", (d.domid,))
    conn.executemany(
        "INSERT INTO vcpus(domid, vcpuid, data) VALUES (?, ?, ?)",
        [(v.domid, v.vcpuid, vcpu_data(v)) for v in d.vcpus],
    )
