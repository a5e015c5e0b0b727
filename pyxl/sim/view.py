"""Light reads of a host's stored state: only the fields a query shows.

`pyxl list` on a host of a thousand guests shows each domain's flags, memory,
vCPU count and CPU time. Decoding every domain and vCPU row (scheduler and
workload state included) into the hypervisor's model costs more than the
rest of the command, so these queries pull the shown fields with SQLite's
json_extract and derive the rest by the hypervisor's own rules
(pyxl/hv/dominfo.py, pyxl/hv/steady.py).

A vCPU row holds its vCPU as of its pool's saved moment (`sched_state["t"]`)
or, in a steady pool, of its own anchor (`sched_state["at"]`); a steady
pool's vCPUs are brought to `now` by their workloads alone. A pool that is
neither steady nor saved at `now` needs its scheduler run: then, and for
any row that is not what the model would accept, these functions answer
None and the caller takes the full path (which also reports damage).
"""

from __future__ import annotations

import sqlite3


class Listed:
    """One line of `xl list`: what libxl_dominfo carries, the domain's name
    and its cpupool's name."""

    __slots__ = ("domid", "name", "uuid", "running", "blocked", "paused", "shutdown",
                 "shutdown_reason", "dying", "current_memkb", "cpu_time_ns", "vcpu_online",
                 "cpupool", "pool_name")


_DOMAINS = """SELECT domid, name, json_extract(data, '$.uuid'), json_extract(data, '$.poolid'),
    json_extract(data, '$.pause_count'), json_extract(data, '$.shutdown'),
    json_extract(data, '$.shutdown_reason'), json_extract(data, '$.dying'),
    json_extract(data, '$.tot_memkb') FROM domains"""
_VCPUS = """SELECT domid, vcpuid, json_extract(data, '$.online'),
    json_extract(data, '$.runstate'), json_extract(data, '$.time.running'),
    json_extract(data, '$.sched_state.at'){evolving} FROM vcpus"""
_EVOLVING = ", json_extract(data, '$.workload'), json_extract(data, '$.wl_state')"


def list_domains(conn: sqlite3.Connection, now_ns: int,
                 domid: int | None = None) -> list[Listed] | None:
    """Every domain (or only `domid`) as `xl list` shows it at `now_ns`, by
    domid; None when the full path must answer (see the module docstring),
    [] when `domid` does not exist."""
    try:
        seed = _seed(conn)
        pools = None if seed is None else _pools(conn, now_ns)
        if pools is None:
            return None
        where = "" if domid is None else " WHERE domid = ?"
        args = () if domid is None else (domid,)
        domains = conn.execute(_DOMAINS + where + " ORDER BY domid", args).fetchall()
        evolving = any(type(anchor) is int and anchor < now_ns for _, anchor in pools.values())
        vcpus = conn.execute(_VCPUS.format(evolving=_EVOLVING if evolving else "") + where,
                             args).fetchall()
    except sqlite3.Error:  # malformed JSON in a row, say
        return None
    by_domain: dict[int, list[tuple]] = {}
    for row in vcpus:
        by_domain.setdefault(row[0], []).append(row)
    listed = []
    for row in domains:
        item = _listed(row, pools, by_domain.get(row[0], ()), now_ns, seed)
        if item is None:
            return None
        listed.append(item)
    return listed


def _seed(conn: sqlite3.Connection) -> int | None:
    """The host's seed, if meta holds what a command's full path accepts
    (else that path says what is wrong)."""
    from pyxl.sim.peek import read_meta
    from pyxl.state.db import StateDamaged

    try:
        return int(read_meta(conn)["seed"])
    except StateDamaged:
        return None


def _pools(conn: sqlite3.Connection, now_ns: int) -> dict[int, tuple[str, int | None]] | None:
    """poolid -> (name, the moment its vCPU rows hold unless they say
    otherwise, or None when they hold now); None if a pool's scheduler must
    run first."""
    import json

    from pyxl.hv.steady import pool_is_steady

    pools = {}
    for poolid, name, text in conn.execute(
            "SELECT poolid, name, json_extract(data, '$.sched_state') FROM cpupools"):
        try:
            state = json.loads(text)
        except (TypeError, ValueError, RecursionError):
            return None
        if type(state) is not dict or not pool_is_steady(state, now_ns):
            return None
        steady = state.get("steady") is not None
        pools[poolid] = (name, state.get("t", now_ns) if steady else None)
    return pools if 0 in pools else None


def _listed(row: tuple, pools: dict, vcpus, now_ns: int, seed: int) -> Listed | None:
    """A domain row and its vCPU rows as a `Listed`; None if they are not
    what the model would accept."""
    from pyxl.hv.dominfo import vcpu_summary

    domid, name, uuid, poolid, pause_count, shutdown, reason, dying, tot_memkb = row
    if not (type(uuid) is str and type(poolid) is int and type(pause_count) is int
            and type(shutdown) is int and type(dying) is int and type(tot_memkb) is int
            and (reason is None or type(reason) is int) and poolid in pools):
        return None
    pool_name, anchor = pools[poolid]
    can_run = not (pause_count > 0 or shutdown or dying)
    states = []
    for v in vcpus:
        online, runstate, running_ns, at = v[2:6]
        if not (type(online) is int and type(runstate) is str and type(running_ns) is int):
            return None
        if anchor is not None:
            t_s = at if type(at) is int else anchor
            if type(t_s) is not int:
                return None
            if t_s < now_ns:
                runstate, running_ns = _steady_at(v, can_run, t_s, now_ns, seed)
                if runstate is None:
                    return None
        states.append((bool(online), runstate, running_ns))
    item = Listed()
    item.running, item.blocked, item.vcpu_online, item.cpu_time_ns = \
        vcpu_summary(domid, can_run, states)
    item.domid, item.name, item.uuid, item.cpupool, item.pool_name = \
        domid, name, uuid, poolid, pool_name
    item.paused, item.shutdown, item.shutdown_reason, item.dying = \
        pause_count > 0, bool(shutdown), reason, bool(dying)
    item.current_memkb = tot_memkb
    return item


def _steady_at(v: tuple, can_run: bool, t_s: int, now_ns: int,
               seed: int) -> tuple[str | None, int]:
    """A steady pool's vCPU row, saved at `t_s`, brought to `now_ns` by its
    workload alone: (runstate, running ns); (None, 0) if the row is not one
    the model would accept."""
    import json

    from pyxl.hv.steady import running_at

    if len(v) < 8:  # read without its workload: its pool was saved at now
        return None, 0
    domid, vcpuid, online, runstate, running_ns, _, workload, wl_state = v
    try:
        wl_state = json.loads(wl_state)
    except (TypeError, ValueError, RecursionError):
        return None, 0
    if not (type(workload) is str and type(wl_state) is dict):
        return None, 0
    return running_at(runstate, running_ns, workload, wl_state, can_run and bool(online),
                      t_s, now_ns, seed, domid, vcpuid)


def xs_read(conn: sqlite3.Connection, path: str, caller: int) -> bytes:
    """A XenStore read outside a transaction, as domain `caller` sees it."""
    from pyxl.xenstore.store import XenStore

    return XenStore(conn, caller=caller).read(path)
