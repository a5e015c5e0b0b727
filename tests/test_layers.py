"""pyxl's layers (cli -> toolstack -> sim -> hv/xenstore -> state) hold:
imports only point down, and no module imports itself back in a loop.

The import graph is read from the source (every `import` and `from` statement,
those inside functions too), so a lazy import counts as much as one at the top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pyxl

ROOT = Path(pyxl.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a relative import's base."""
    if not level:
        return target or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports(name: str, path: Path) -> set[str]:
    """pyxl modules that `name` imports anywhere in its source."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def _graph() -> dict[str, set[str]]:
    return {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


LAYERS = ("cli", "toolstack", "sim", "hv", "xenstore", "state")
# Which layers each layer may not import (pyxl's own top-level helpers,
# errors, cnum, units, are for everyone).
FORBIDDEN = {
    "cli": {"hv", "sim", "xenstore", "state"},
    "toolstack": {"cli"},
    "sim": {"toolstack", "cli"},
    "hv": {"toolstack", "sim", "cli"},
    "xenstore": {"toolstack", "sim", "cli"},
}


def _violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        forbidden = FORBIDDEN.get(_layer(module), set())
        bad += [f"{module} imports {t}" for t in sorted(targets) if _layer(t) in forbidden]
    return bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path_through(graph, g) for g in groups]


def _path_through(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """A readable cycle inside `group`: a -> b -> ... -> a."""
    members = set(group)
    start = group[0]
    path, seen = [start], {start}
    while True:
        nxt = sorted(graph[path[-1]] & members)
        back = [n for n in nxt if n == start]
        if back and len(path) > 1:
            return path + [start]
        step = next((n for n in nxt if n not in seen), None)
        if step is None:
            return path + [nxt[0]]
        path.append(step)
        seen.add(step)


def test_the_graph_is_read_from_the_source():
    graph = _graph()
    assert "pyxl.toolstack.libxl" in graph["pyxl.toolstack"]
    assert "pyxl.cli.base" in graph["pyxl.cli.main"]
    # a function-level import counts: session() opens the toolstack lazily
    assert "pyxl.toolstack" in graph["pyxl.cli.base"]


def test_the_cli_imports_nothing_below_the_toolstack():
    graph = _graph()
    bad = [v for v in _violations(graph) if v.startswith("pyxl.cli")]
    assert bad == []


def test_each_layer_imports_only_the_layers_below_it():
    assert _violations(_graph()) == []


def test_no_import_cycles():
    cycles = [" -> ".join(c) for c in _cycles(_graph())]
    assert cycles == []


def test_the_checks_catch_what_they_look_for():
    graph = {"pyxl.cli.x": {"pyxl.sim.host"}, "pyxl.sim.host": {"pyxl.hv.y"},
             "pyxl.hv.y": {"pyxl.sim.host"}}
    assert _violations(graph) == ["pyxl.cli.x imports pyxl.sim.host",
                                  "pyxl.hv.y imports pyxl.sim.host"]
    assert _cycles(graph) == [["pyxl.hv.y", "pyxl.sim.host", "pyxl.hv.y"]]


def test_the_facade_costs_nothing_to_import():
    """Start-up stays lean: the entry point and the toolstack's facade load
    nothing below the toolstack until a command opens a host."""
    code = ("import sys, pyxl.cli.main, pyxl.toolstack\n"
            "print(sorted(m for m in sys.modules if m.split('.')[1:2] in "
            "(['sim'], ['hv'], ['xenstore'], ['state']) and m.startswith('pyxl.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT.parent, check=True)
    assert done.stdout == "[]\n"


def test_every_name_the_facade_imports_when_called_exists():
    """The facade imports its implementation inside each method: a module
    renamed or moved under it would only show when that command runs."""
    import importlib

    path = MODULES["pyxl.toolstack.libxl"]
    missing = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pyxl"):
            module = importlib.import_module(node.module)
            missing += [f"{node.module}.{a.name}" for a in node.names
                        if not hasattr(module, a.name)
                        and f"{node.module}.{a.name}" not in MODULES]
    assert missing == []
