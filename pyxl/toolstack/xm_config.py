"""xm's Python-syntax domain configs, read without running them.

xm executed a config file as Python; pyxm walks its syntax tree instead and
understands only what real configs use: assignments, literals, lists, tuples
and dicts, `%` formatting and `+`, comparisons and `if`, names defined
earlier, `xm_vars.var(...)`/`xm_vars.check()` with small check functions
(`def`, `if`, `raise`, `return`), `import os`/`re` with `os.uname()`,
`os.path`'s string helpers and `re.search`/`re.match`. Anything else is
refused with one line that names the construct; nothing is ever evaluated
by Python itself. The result is mapped to an xl.cfg text, so xl's own
parser builds the same DomainConfig it builds for `xl create`.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re

from pyxl.errors import PyxlError

MAX_TEXT = 1 << 20        # the longest string a config may build
MAX_DEPTH = 32            # check functions calling each other

# xm options that xl spells differently.
_RENAMED = {"cpu_cap": "cap"}
# xm's kernel `ip=` autoconfiguration pieces (create.py's preprocess_ip).
_IP_KEYS = ("ip", "nfs_server", "gateway", "netmask", "hostname", "interface", "dhcp")
_DROPPED = set(_IP_KEYS) | {"nfs_root", "xm_vars", "xm_file", "xm_help"}


class XmConfigError(PyxlError):
    """A config pyxm will not read: xm's `Error: ...` line, exit 1."""

    def __init__(self, message: str):
        super().__init__(message, 1)


class _Raised(Exception):
    """A `raise` inside a check function: xm reports `<var> - <message>`."""


class _Return(Exception):
    def __init__(self, value):
        super().__init__()
        self.value = value


class _Module:
    """`os`, `os.path` or `re` as a config sees them: a few pure helpers."""

    def __init__(self, name: str, members: dict):
        self.name = name
        self.members = members


def _uname() -> tuple:
    return tuple(os.uname())


def _re_search(pattern, text):
    return _re(re.search, pattern, text)


def _re_match(pattern, text):
    return _re(re.match, pattern, text)


def _re(fn, pattern, text):
    if not isinstance(pattern, str) or not isinstance(text, str):
        raise _Raised("expected string arguments")
    found = fn(pattern, text)
    return found.group(0) if found else None


_OS_PATH = _Module("os.path", {"join": posixpath.join, "basename": posixpath.basename,
                               "dirname": posixpath.dirname, "splitext": posixpath.splitext,
                               "isabs": posixpath.isabs, "normpath": posixpath.normpath})
_OS = _Module("os", {"uname": _uname, "path": _OS_PATH, "sep": "/"})
_RE = _Module("re", {"search": _re_search, "match": _re_match})
_MODULES = {"os": _OS, "os.path": _OS, "re": _RE}


class _Function:
    """A `def` from the config (a check function), run by the same walker."""

    def __init__(self, node: ast.FunctionDef, walker: "_Walker"):
        self.node = node
        self.walker = walker

    def __call__(self, *args):
        params = [a.arg for a in self.node.args.args]
        if len(args) != len(params):
            raise _Raised(f"{self.node.name}() takes {len(params)} arguments")
        return self.walker.call(self.node, dict(zip(params, args)))


class _Vars:
    """xm_vars: variables the config declares, checked against the command line."""

    def __init__(self, env: dict):
        self.env = env
        self.declared: list[tuple[str, object]] = []

    def var(self, name, use=None, check=None):
        self.declared.append((name, check))

    def check(self):
        for name, check in self.declared:
            if check is None:
                continue
            value = self.env.get(name)
            if value is None:
                raise XmConfigError(f"{name} - no value: give {name}=VALUE on the command line")
            try:
                self.env[name] = check(name, value)
            except _Raised as e:
                raise XmConfigError(f"{name} - {e}" if str(e) else "Invalid argument.") from None


def _int(value=0, *rest):
    if value is None:
        raise _Raised("int() argument must be a string or a number, not 'NoneType'")
    try:
        return int(value, *rest) if rest else int(value)
    except (TypeError, ValueError):
        raise _Raised(f"invalid literal for int() with base 10: {value!r}") from None


def _float(value=0.0):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Raised(f"could not convert string to float: {value!r}") from None


def _str(value=""):
    return _text(str(value))


_BUILTINS = {"int": _int, "str": _str, "float": _float, "len": len}
# A `%` conversion whose width or precision would build a huge string.
_WIDE = re.compile(r"%[-#0 +]*(\*|\d{5,})|%[-#0 +]*\d*\.(\*|\d{5,})")


def _text(value):
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise _Raised("string too long")
    return value


def _plain(value) -> bool:
    """Values a config may hold: never an object with behaviour of its own."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Mod: lambda a, b: a % b,
           ast.FloorDiv: lambda a, b: a // b, ast.Div: lambda a, b: a / b}
_CMPOPS = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
           ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
           ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
           ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


class _Walker:
    """Walks a config's syntax tree; `env` is its namespace."""

    def __init__(self, source: str):
        self.source = source
        self.depth = 0

    def refuse(self, node: ast.AST, what: str | None = None):
        what = what or type(node).__name__
        line = getattr(node, "lineno", 0)
        raise XmConfigError(f"{self.source}:{line}: {what} is not supported in an xm config "
                            "read by pyxm")

    # --- statements ---

    def run(self, body: list[ast.stmt], env: dict) -> None:
        for stmt in body:
            self.stmt(stmt, env)

    def stmt(self, node: ast.stmt, env: dict) -> None:
        if isinstance(node, ast.Assign):
            value = self.expr(node.value, env)
            for target in node.targets:
                self.assign(target, value, env)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            op = _BINOPS.get(type(node.op))
            if op is None:
                self.refuse(node, "this augmented assignment")
            env[node.target.id] = self.apply(node, op, self.lookup(node.target, env),
                                             self.expr(node.value, env))
        elif isinstance(node, ast.Expr):
            self.expr(node.value, env)
        elif isinstance(node, ast.If):
            self.run(node.body if self.expr(node.test, env) else node.orelse, env)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in _MODULES:
                    self.refuse(node, f"import {alias.name}")
                bound = alias.asname or alias.name.split(".")[0]
                env[bound] = _MODULES[alias.name if alias.asname else bound]
        elif isinstance(node, ast.FunctionDef):
            if node.decorator_list or node.args.defaults or node.args.vararg \
                    or node.args.kwarg or node.args.kwonlyargs:
                self.refuse(node, "this kind of def")
            env[node.name] = _Function(node, self)
        elif isinstance(node, ast.Return):
            raise _Return(None if node.value is None else self.expr(node.value, env))
        elif isinstance(node, ast.Raise):
            raise _Raised(self.raised_message(node, env))
        elif isinstance(node, ast.Pass):
            pass
        else:
            self.refuse(node)

    def assign(self, target: ast.expr, value, env: dict) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (list, tuple)) \
                and len(target.elts) == len(value):
            for t, v in zip(target.elts, value):
                self.assign(t, v, env)
        else:
            self.refuse(target, "this assignment target")

    def raised_message(self, node: ast.Raise, env: dict) -> str:
        exc = node.exc
        if isinstance(exc, ast.Call) and len(exc.args) == 1:
            return str(self.expr(exc.args[0], env))
        return ""

    def call(self, node: ast.FunctionDef, local: dict):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise XmConfigError(f"{self.source}: functions call each other too deeply")
        try:
            self.run(node.body, local)
        except _Return as r:
            return r.value
        finally:
            self.depth -= 1
        return None

    # --- expressions ---

    def expr(self, node: ast.expr, env: dict):
        if isinstance(node, ast.Constant):
            if not _plain(node.value):
                self.refuse(node, "this literal")
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node, env)
        if isinstance(node, ast.List):
            return [self.expr(e, env) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.expr(e, env) for e in node.elts)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                self.refuse(node, "** in a dict")
            return {self.expr(k, env): self.expr(v, env) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                self.refuse(node, f"the {type(node.op).__name__} operator")
            return self.apply(node, op, self.expr(node.left, env), self.expr(node.right, env))
        if isinstance(node, ast.UnaryOp):
            value = self.expr(node.operand, env)
            if isinstance(node.op, ast.Not):
                return not value
            if isinstance(node.op, ast.USub) and isinstance(value, (int, float)):
                return -value
            self.refuse(node, "this unary operator")
        if isinstance(node, ast.BoolOp):
            return self.boolop(node, env)
        if isinstance(node, ast.Compare):
            return self.compare(node, env)
        if isinstance(node, ast.IfExp):
            return self.expr(node.body if self.expr(node.test, env) else node.orelse, env)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, env)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, env)
        if isinstance(node, ast.Call):
            return self.callexpr(node, env)
        return self.refuse(node)

    def lookup(self, node: ast.Name, env: dict):
        if node.id in env:
            return env[node.id]
        if node.id in _BUILTINS:
            return _BUILTINS[node.id]
        raise XmConfigError(f"{self.source}:{node.lineno}: name '{node.id}' is not defined")

    def apply(self, node: ast.AST, op, left, right):
        if not (_plain(left) and _plain(right)):
            self.refuse(node, "this operand")
        if isinstance(node.op, ast.Mult):
            seq, count = (left, right) if isinstance(left, (str, list, tuple)) else (right, left)
            if isinstance(seq, (str, list, tuple)) and isinstance(count, int) \
                    and len(seq) * count > MAX_TEXT:
                self.refuse(node, "this repetition")
        if isinstance(node.op, ast.Mod) and isinstance(left, str) and _WIDE.search(left):
            self.refuse(node, "this format width")
        try:
            return _text(op(left, right))
        except (TypeError, ValueError, KeyError, ZeroDivisionError) as e:
            raise XmConfigError(f"{self.source}:{node.lineno}: {e}") from None

    def boolop(self, node: ast.BoolOp, env: dict):
        value = None
        for operand in node.values:
            value = self.expr(operand, env)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def compare(self, node: ast.Compare, env: dict):
        left = self.expr(node.left, env)
        for op, comparator in zip(node.ops, node.comparators):
            fn = _CMPOPS.get(type(op))
            if fn is None:
                self.refuse(node, f"the {type(op).__name__} comparison")
            right = self.expr(comparator, env)
            try:
                if not fn(left, right):
                    return False
            except TypeError as e:
                raise _Raised(str(e)) from None
            left = right
        return True

    def subscript(self, node: ast.Subscript, env: dict):
        value = self.expr(node.value, env)
        if not isinstance(value, (str, list, tuple, dict)):
            self.refuse(node, "this subscript")
        if isinstance(node.slice, ast.Slice):
            parts = [None if p is None else self.expr(p, env)
                     for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            if not all(p is None or isinstance(p, int) for p in parts):
                self.refuse(node, "this slice")
            return value[slice(*parts)]
        key = self.expr(node.slice, env)
        try:
            return value[key]
        except (IndexError, KeyError, TypeError) as e:
            raise XmConfigError(f"{self.source}:{node.lineno}: {type(e).__name__}: {e}") \
                from None

    def attribute(self, node: ast.Attribute, env: dict):
        owner = self.expr(node.value, env)
        if isinstance(owner, _Module) and node.attr in owner.members:
            return owner.members[node.attr]
        if isinstance(owner, _Vars) and node.attr in ("var", "check"):
            return getattr(owner, node.attr)
        shown = owner.name if isinstance(owner, _Module) else type(owner).__name__
        return self.refuse(node, f"{shown}.{node.attr}")

    def callexpr(self, node: ast.Call, env: dict):
        fn = self.expr(node.func, env)
        allowed = set(_BUILTINS.values()) | {m for mod in (_OS, _OS_PATH, _RE)
                                             for m in mod.members.values() if callable(m)}
        bound = getattr(fn, "__self__", None)
        if not (isinstance(fn, _Function) or isinstance(bound, _Vars)
                or (callable(fn) and fn in allowed)):
            self.refuse(node, "this call")
        if any(isinstance(a, ast.Starred) for a in node.args) \
                or any(k.arg is None for k in node.keywords):
            self.refuse(node, "* or ** arguments")
        args = [self.expr(a, env) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, env) for k in node.keywords}
        if kwargs and not isinstance(bound, _Vars):
            self.refuse(node, "keyword arguments")
        try:
            return fn(*args, **kwargs)
        except _Raised as e:
            if isinstance(fn, _Function):
                raise
            raise XmConfigError(f"{self.source}:{node.lineno}: {e}") from None
        except (TypeError, ValueError) as e:
            raise XmConfigError(f"{self.source}:{node.lineno}: {e}") from None


def evaluate(text: str, source: str, variables: dict[str, str]) -> dict:
    """The config's variables after reading it as xm would (command-line
    `name=value` settings are strings, as xm passed them)."""
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as e:
        raise XmConfigError(f"Errors were found at line {e.lineno} while processing "
                            f"{source}") from None
    except ValueError:        # a NUL byte
        raise XmConfigError(f"Errors were found while processing {source}") from None
    env: dict = dict(variables)
    env["os"] = _OS                      # xm imported os and os.path for every config
    env["xm_vars"] = _Vars(env)
    walker = _Walker(source)
    try:
        walker.run(tree.body, env)
    except _Raised as e:
        raise XmConfigError(f"{source}: {e}" if str(e) else f"{source}: ValueError") from None
    except _Return:
        raise XmConfigError(f"{source}: 'return' outside function") from None
    except RecursionError:
        raise XmConfigError(f"{source}: the config nests too deeply") from None
    return env


def _option_values(env: dict, variables: dict[str, str]) -> dict:
    """The options xm would take from the config's namespace: strings, lists,
    ints and floats (not tuples, modules or functions); the command line wins."""
    values = {k: v for k, v in env.items()
              if isinstance(v, (str, list, int, float)) and not k.startswith("_")}
    declared = {name for name, _ in env["xm_vars"].declared}
    for name, value in variables.items():
        if name not in declared:
            values[name] = int(value) if value.isdigit() else value
    return values


def _kernel_ip(values: dict) -> str | None:
    """xm's `ip=` kernel argument, from ip/gateway/netmask/hostname/dhcp."""
    dhcp = values.get("dhcp", "off")
    if not values.get("ip") and dhcp == "off":
        return None
    parts = [values.get("ip", ""), values.get("nfs_server") or "127.0.255.255",
             values.get("gateway", ""), values.get("netmask", ""),
             values.get("hostname", ""), values.get("interface", "eth0"), dhcp]
    return "ip=" + ":".join(str(p) for p in parts)


def _xl_value(key: str, value, source: str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else _xl_string(repr(value))
    if isinstance(value, str):
        return _xl_string(value)
    if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                       for v in value):
        return "[ " + ", ".join(_xl_string(str(v)) for v in value) + " ]"
    raise XmConfigError(f"{source}: option {key}: this value has no xl.cfg form")


def _xl_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_xl_cfg(values: dict, source: str) -> str:
    """The options as an xl.cfg text, xm's names mapped to xl's."""
    values = dict(values)
    ip = _kernel_ip(values)
    if values.get("nfs_root") and values.get("nfs_server"):
        values["extra"] = (f"nfsroot={values['nfs_server']}:{values['nfs_root']} "
                           + str(values.get("extra", ""))).strip()
    if ip:
        values["extra"] = (str(values.get("extra", "")) + " " + ip).strip()
    lines = []
    for key, value in values.items():
        if key in _DROPPED or not key.isidentifier():
            continue
        key = _RENAMED.get(key, key)
        lines.append(f"{key} = {_xl_value(key, value, source)}\n")
    return "".join(lines)


def xm_config_to_xl(text: str, source: str, variables: dict[str, str]) -> str:
    """An xm config file's text -> the xl.cfg text xl's parser reads."""
    env = evaluate(text, source, variables)
    return to_xl_cfg(_option_values(env, variables), source)
