"""CPU lists and maps as xl reads and prints them.

``parse_cpurange`` follows xl_parse.c parse_cpurange (vcpu-pin, cpus=,
cpupool commands), ``format_cpumap`` xl's print_bitmap, and ``node_cpus``
the simulated host's NUMA layout (its CPUs split evenly over its nodes).
Messages are xl's; callers decide whether they are fatal.
"""

from __future__ import annotations

from pyxl.cnum import ULONG_MAX, strtoul
from pyxl.errors import PyxlError


class CpuRangeError(PyxlError):
    """A cpu list xl refuses (xl prints the message and fails, exit 1)."""


def node_cpus(nr_cpus: int, nr_nodes: int) -> dict[int, set[int]]:
    """NUMA node -> pCPUs: consecutive CPUs, an equal share per node
    (Xen's physinfo for the simulated host; the last node takes any rest)."""
    nr_nodes = max(1, nr_nodes)
    per = max(1, nr_cpus // nr_nodes)
    nodes: dict[int, set[int]] = {n: set() for n in range(nr_nodes)}
    for cpu in range(nr_cpus):
        nodes[min(cpu // per, nr_nodes - 1)].add(cpu)
    return nodes


def _strtoul10(text: str) -> tuple[int | None, str]:
    val, rest, _ = strtoul(text, 10)
    return val, rest


def parse_range(text: str) -> tuple[int, int] | None:
    """xl's parse_range: ``N`` or ``N-M`` (decimal, M >= N); None if invalid."""
    a, rest = _strtoul10(text)
    if a is None or a == ULONG_MAX:
        return None
    b = a
    if rest.startswith("-"):
        b, rest = _strtoul10(rest[1:])
        if b is None or b == ULONG_MAX or b < a:
            return None
    if rest:
        return None
    return a, b


def parse_cpurange(text: str, nr_cpus: int,
                   nodes: dict[int, set[int]] | None = None) -> set[int]:
    """The set of pCPUs named by an xl cpu list (``0-3,^2,node:1,all``).

    Items are applied left to right, ``^`` removes. ``all`` means CPUs
    0..nr_cpus-1 (libxl sizes cpumaps to the host's CPUs). ``node:N`` needs
    ``nodes`` (node -> cpus); without it every CPU is on node 0.
    Raises CpuRangeError with xl's message: ``Invalid pcpu range: %s.`` or
    ``Can't combine "^" and "all".``
    """
    if nodes is None:
        nodes = {0: set(range(nr_cpus))}
    cpus: set[int] = set()
    for item in [p for p in text.split(",") if p]:   # strtok skips empty items
        is_not = item.startswith("^")
        if is_not:
            item = item[1:]
        is_nodes = False
        for prefix in ("node:", "nodes:"):
            if item.startswith(prefix):
                item, is_nodes = item[len(prefix):], True
                break
        if item == "all":
            if is_not:
                raise CpuRangeError('Can\'t combine "^" and "all".', 1)
            cpus |= set(range(nr_cpus))
            continue
        rng = parse_range(item)
        if rng is None:
            raise CpuRangeError(f"Invalid pcpu range: {item}.", 1)
        a, b = rng
        limit = (nr_cpus + 7) // 8 * 8     # libxl's cpumap is whole bytes
        if is_nodes:
            members: set[int] = set()
            for node in range(a, b + 1):
                if node not in nodes:
                    raise CpuRangeError("libxl_node_to_cpumap failed.", 1)
                members |= nodes[node]
        else:
            members = set(range(a, min(b, limit - 1) + 1))
        if is_not:
            cpus -= members
        else:
            cpus |= members
    return cpus


def format_cpumap(cpus: set[int], nr_cpus: int) -> str:
    """xl's print_bitmap: ``all``, ``none`` or ``0-3,6`` over nr_cpus bits."""
    present = sorted(c for c in cpus if c < nr_cpus)
    if not present:
        return "none"
    if len(present) == nr_cpus:
        return "all"
    parts = []
    start = prev = present[0]
    for c in present[1:] + [None]:
        if c is not None and c == prev + 1:
            prev = c
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if c is not None:
            start = prev = c
    return ",".join(parts)
