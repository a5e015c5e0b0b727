"""Domains, vCPUs and cpupools as rows of the host database.

One row per domain and per vCPU, their fields as JSON, so that the dataclasses
of pyxl/hv/model.py can grow without a schema migration for every field; the
guest OS's `GuestState` (pyxl/sim/guest.py) is JSON in its domain's row too.
Decoding is where a damaged database shows: a row that does not decode is a
`StateDamaged`, which the command reports as an unreadable host.
"""

from __future__ import annotations

import json
import sqlite3

from pyxl.hv.model import CpuPool, Domain, Vcpu
from pyxl.sim.guest import Balloon, GuestInfo, GuestState, Reaction
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
    return json.dumps(data)


def load_domains(conn: sqlite3.Connection, vcpu_rows: dict | None = None
                 ) -> tuple[dict[int, Domain], dict[int, str]]:
    """Every domain with its vCPUs, and each domain row's text as read (so that
    writing back can skip the rows that did not change); each vCPU row's text
    goes into `vcpu_rows`, by (domid, vcpuid), when it is given."""
    vcpus: dict[int, list[Vcpu]] = {}
    for domid, vcpuid, data in conn.execute(
            "SELECT domid, vcpuid, data FROM vcpus ORDER BY domid, vcpuid"):
        what = f"vcpus.data of domain {domid}"
        vcpus.setdefault(domid, []).append(_make(Vcpu, what, decode_object(data, what)))
        if vcpu_rows is not None:
            vcpu_rows[domid, vcpuid] = data
    domains, raw = {}, {}
    for domid, data in conn.execute("SELECT domid, data FROM domains"):
        what = f"domains.data of domain {domid}"
        d = _make(Domain, what, decode_object(data, what))
        d.vcpus = vcpus.get(domid, [])
        domains[domid] = d
        raw[domid] = data
    if 0 not in domains:
        raise StateDamaged("no Domain-0 in domains")
    return domains, raw


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
    data = {k: v for k, v in d.__dict__.items() if k != "vcpus"}
    return json.dumps(data)


def save_domain(conn: sqlite3.Connection, d: Domain, config: dict | None,
                guest: GuestState) -> None:
    conn.execute(
        "INSERT INTO domains(domid, name, data, config, guest) VALUES (?, ?, ?, ?, ?)",
        (d.domid, d.name, domain_data(d), json.dumps(config) if config is not None else None,
         guest_json(guest)),
    )
    save_vcpus(conn, d)


def vcpu_data(v: Vcpu) -> str:
    return json.dumps(v.__dict__)


def save_vcpus(conn: sqlite3.Connection, d: Domain) -> None:
    conn.execute("DELETE FROM vcpus WHERE domid = ?", (d.domid,))
    conn.executemany(
        "INSERT INTO vcpus(domid, vcpuid, data) VALUES (?, ?, ?)",
        [(v.domid, v.vcpuid, vcpu_data(v)) for v in d.vcpus],
    )
