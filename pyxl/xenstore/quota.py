"""xenstored's per-domain quotas: names, defaults and where values live.

Quotas bind unprivileged domains only, and xenstored rejects when the new
value *reaches* the quota (``val >= quota``), so the usable maximum is one
less than the number configured.  0 disables a quota.  What the ``memory``
quota measures is in memory.py; its soft variant only made xenstored log,
so nothing here acts on it.
"""

from .errors import XenStoreError

# Hard-quota defaults from domain.c quotas[] (names as GET/SET_QUOTA use).
DEFAULTS = {
    "nodes": 1000,
    "watches": 128,
    "outstanding": 20,
    "memory": 2 * 1024 * 1024 + 512 * 1024,
    "transactions": 10,
    "transaction-nodes": 1024,
    "node-permissions": 5,
    "path-max": 2048,
    "node-size": 2048,
}
SOFT_DEFAULTS = {"memory": 2 * 1024 * 1024}
Q_VAL_DISABLED = 0xFFFFFFFF
GLOBAL = -1   # domid column value for the global quota set


def names() -> list[str]:
    """What GET_QUOTA without arguments lists, in xenstored's order."""
    out = []
    for name in DEFAULTS:
        out.append(name)
        if name in SOFT_DEFAULTS:
            out.append("soft-" + name)
    return out


def check_name(name: str) -> str:
    if name.startswith("soft-"):
        if name[5:] not in SOFT_DEFAULTS:
            raise XenStoreError("EINVAL")
    elif name not in DEFAULTS:
        raise XenStoreError("EINVAL")
    return name


def default(name: str) -> int:
    return SOFT_DEFAULTS[name[5:]] if name.startswith("soft-") else DEFAULTS[name]


def lookup(conn, domid: int, name: str) -> int:
    """The quota in force for ``domid``: its own setting, else the global one."""
    row = conn.execute(
        "SELECT value FROM xs_quota WHERE name = ? AND domid IN (?, ?)"
        " ORDER BY domid DESC LIMIT 1", (name, domid, GLOBAL)).fetchone()
    return row[0] if row else default(name)


def store(conn, domid: int, name: str, value: int) -> None:
    conn.execute("INSERT OR REPLACE INTO xs_quota (domid, name, value) VALUES (?, ?, ?)",
                 (domid, name, value))


def exceeds(value: int, quota: int) -> bool:
    """xenstored's check: reject when the new value reaches a non-zero quota."""
    return quota != 0 and value >= quota
