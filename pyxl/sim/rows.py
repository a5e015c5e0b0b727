"""Domains, vCPUs and cpupools as rows of the host database.

One row per domain and per vCPU, their fields as JSON, so that the dataclasses
of pyxl/hv/model.py can grow without a schema migration for every field.
"""

from __future__ import annotations

import json
import sqlite3

from pyxl.hv.model import CpuPool, Domain, Vcpu


def load_domains(conn: sqlite3.Connection) -> tuple[dict[int, Domain], dict[int, str]]:
    """Every domain with its vCPUs, and each domain row's text as read (so that
    writing back can skip the rows that did not change)."""
    vcpus: dict[int, list[Vcpu]] = {}
    for domid, data in conn.execute("SELECT domid, data FROM vcpus ORDER BY domid, vcpuid"):
        vcpus.setdefault(domid, []).append(Vcpu(**json.loads(data)))
    domains, raw = {}, {}
    for domid, data in conn.execute("SELECT domid, data FROM domains"):
        d = Domain(**json.loads(data))
        d.vcpus = vcpus.get(domid, [])
        domains[domid] = d
        raw[domid] = data
    return domains, raw


def load_pools(conn: sqlite3.Connection) -> dict[int, CpuPool]:
    return {poolid: CpuPool(poolid=poolid, name=name, **json.loads(data))
            for poolid, name, data in conn.execute("SELECT poolid, name, data FROM cpupools")}

def save_pool(conn: sqlite3.Connection, pool: CpuPool) -> None:
    data = {"sched": pool.sched, "cpus": pool.cpus, "params": pool.params,
            "sched_state": pool.sched_state}
    conn.execute("INSERT OR REPLACE INTO cpupools(poolid, name, data) VALUES (?, ?, ?)",
                 (pool.poolid, pool.name, json.dumps(data)))


def domain_data(d: Domain) -> str:
    data = {k: v for k, v in d.__dict__.items() if k != "vcpus"}
    return json.dumps(data)


def save_domain(conn: sqlite3.Connection, d: Domain, config: dict | None = None,
                 guest: dict | None = None) -> None:
    conn.execute(
        "INSERT INTO domains(domid, name, data, config, guest) VALUES (?, ?, ?, ?, ?)",
        (d.domid, d.name, domain_data(d), json.dumps(config) if config is not None else None,
         json.dumps(guest or {})),
    )
    save_vcpus(conn, d)


def save_vcpus(conn: sqlite3.Connection, d: Domain) -> None:
    conn.execute("DELETE FROM vcpus WHERE domid = ?", (d.domid,))
    conn.executemany(
        "INSERT INTO vcpus(domid, vcpuid, data) VALUES (?, ?, ?)",
        [(v.domid, v.vcpuid, json.dumps(v.__dict__)) for v in d.vcpus],
    )
