"""Does XenStore cost grow with the size of the store?  (target: <= 1.2x)

Builds a 1,000-node and a 100,000-node store in temporary databases,
each with many libxl-like domain subtrees (~30 nodes each), then times,
in both, a READ of one key and a recursive listing (``walk``) of one
domain's subtree, as dom0 and as the domain itself.  Prints the times and
the large/small ratios; machines are noisy, so each figure is the best of
several rounds.

    python bench/bench_xenstore.py
"""

import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pyxl.xenstore.perms import Perm  # noqa: E402
from pyxl.xenstore.schema import apply_schema  # noqa: E402
from pyxl.xenstore.store import XenStore  # noqa: E402

KEYS = ["name", "domid", "vm", "cpu/0/availability", "cpu/1/availability",
        "memory/static-max", "memory/target", "memory/videoram", "control/shutdown",
        "control/feature-poweroff", "control/feature-reboot", "control/sysrq",
        "device/vif/0/backend", "device/vif/0/backend-id", "device/vif/0/state",
        "device/vif/0/mac", "device/vbd/51712/backend", "device/vbd/51712/state",
        "device/vbd/51712/virtual-device", "console/port", "console/ring-ref",
        "console/limit", "store/port", "store/ring-ref", "data", "error"]


def build(path: str, nodes: int) -> int:
    """Fill a store with domains until it holds about ``nodes`` nodes."""
    conn = sqlite3.connect(path, isolation_level=None)
    apply_schema(conn)
    conn.execute("BEGIN IMMEDIATE")
    XenStore.boot(conn)
    xs = XenStore(conn)
    domid = 1
    while conn.execute("SELECT COUNT(*) FROM xs_node").fetchone()[0] < nodes:
        home = f"/local/domain/{domid}"
        xs.mkdir(home)
        xs.set_perms(home, [Perm(0, "n"), Perm(domid, "r")])
        for key in KEYS:
            xs.write(f"{home}/{key}", b"value-%d" % domid)
        xs.introduce_domain(domid)
        domid += 1
    conn.execute("COMMIT")
    conn.close()
    return domid - 1


def best(fn, rounds: int = 7, loops: int = 300) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - t0) / loops)
    return min(times)


def measure(path: str, domid: int) -> dict[str, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    dom0 = XenStore(conn)
    domu = XenStore(conn, domid)
    home = f"/local/domain/{domid}"
    assert len(dom0.walk(home)) >= 30
    out = {
        "read (dom0)": best(lambda: dom0.read(home + "/memory/target")),
        "read (domU)": best(lambda: domu.read("memory/target")),
        "walk ~30 nodes (dom0)": best(lambda: dom0.walk(home), loops=100),
        "walk ~30 nodes (domU)": best(lambda: domu.walk(home), loops=100),
        "directory (dom0)": best(lambda: dom0.directory(home)),
    }
    conn.execute("COMMIT")
    conn.close()
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small, large = os.path.join(tmp, "small.db"), os.path.join(tmp, "large.db")
        n_small = build(small, 1_000)
        t0 = time.perf_counter()
        n_large = build(large, 100_000)
        built = time.perf_counter() - t0
        counts = {}
        for p in (small, large):
            c = sqlite3.connect(p)
            counts[p] = c.execute("SELECT COUNT(*) FROM xs_node").fetchone()[0]
            c.close()
        print(f"small store: {counts[small]} nodes, {n_small} domains")
        print(f"large store: {counts[large]} nodes, {n_large} domains "
              f"(built in {built:.1f}s)")
        # Probe a domain in the middle of each store.
        a = measure(small, n_small // 2 + 1)
        b = measure(large, n_large // 2 + 1)
        print(f"{'operation':26} {'1k nodes':>10} {'100k nodes':>11} {'ratio':>6}")
        for key in a:
            print(f"{key:26} {a[key] * 1e6:8.1f}us {b[key] * 1e6:9.1f}us "
                  f"{b[key] / a[key]:6.2f}")


if __name__ == "__main__":
    main()
