"""pyxl's hypercall: issue one hypercall as a guest's kernel and show what
Xen checked, in order, and what it returned.

    pyxl hypercall DOMAIN OP [SUBOP] [name=value ...]

Names are the C fields and constants of Xen's public headers, lower case
(MMUEXT_PIN_L2_TABLE is `mmuext_op pin_l2_table`); numbers are decimal or
0x hex. A malformed call is one line on stderr, exit 1, nothing done.
"""

from __future__ import annotations

import re

import click

from pyxl.cli.base import need_args, out, session, xl_command
from pyxl.errors import PyxlError

DOMID_SELF = 0x7FF0
_NUM = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")


def _int(text: str) -> int:
    if not _NUM.fullmatch(text) or int(text, 0) >= 1 << 64:
        raise ValueError("a number (decimal or 0x hex, below 2^64)")
    return int(text, 0)


def _dom(text: str) -> int:
    if text in ("self", "DOMID_SELF"):
        return DOMID_SELF
    value = _int(text)
    if value > DOMID_SELF:
        raise ValueError("a domid or self")
    return value


_REASONS = {"poweroff": 0, "reboot": 1, "suspend": 2, "crash": 3, "watchdog": 4,
            "soft_reset": 5}


def _reason(text: str) -> int:
    if text in _REASONS:
        return _REASONS[text]
    value = _int(text)
    if value > 255:
        raise ValueError("poweroff, reboot, suspend, crash, watchdog, soft_reset or 0-255")
    return value


def _ports(text: str) -> list[int]:
    return [_int(p) for p in text.split(",")]


_UVMF = {"none": 0, "tlb_flush": 1, "invlpg": 2, "local": 0, "all": 4}
_GNTMAP = {"device_map": 1, "host_map": 2, "readonly": 4, "application_map": 8,
           "contains_pte": 16}


def _bits(names: dict[str, int]):
    def parse(text: str) -> int:
        if _NUM.fullmatch(text):
            return _int(text)
        value = 0
        for part in text.split("|"):
            if part not in names:
                raise ValueError(" | ".join(names) + ", or a number")
            value |= names[part]
        return value
    return parse


REQ = object()
# op -> subop (None: none) -> argument -> (parser, default; REQ: required)
SPEC: dict[str, dict[str | None, dict[str, tuple]]] = {
    "mmu_update": {None: {"ptr": (_int, REQ), "val": (_int, REQ)}},
    "update_va_mapping": {None: {"va": (_int, REQ), "val": (_int, REQ),
                                 "flags": (_bits(_UVMF), 0)}},
    "mmuext_op": {
        **{f"pin_l{n}_table": {"mfn": (_int, REQ)} for n in (1, 2, 3, 4)},
        "unpin_table": {"mfn": (_int, REQ)}, "new_baseptr": {"mfn": (_int, REQ)},
        "tlb_flush_local": {}, "tlb_flush_all": {},
        "invlpg_local": {"linear_addr": (_int, REQ)},
        "invlpg_all": {"linear_addr": (_int, REQ)}},
    "memory_op": {
        "increase_reservation": {"nr_extents": (_int, REQ), "extent_order": (_int, 0)},
        "populate_physmap": {"nr_extents": (_int, REQ), "extent_order": (_int, 0)},
        "decrease_reservation": {"gmfn": (_int, REQ), "nr_extents": (_int, 1)},
        "maximum_ram_page": {}, "current_reservation": {"domid": (_dom, DOMID_SELF)}},
    "grant_table_op": {
        "setup_table": {"dom": (_dom, DOMID_SELF), "nr_frames": (_int, REQ)},
        "query_size": {"dom": (_dom, DOMID_SELF)},
        "map_grant_ref": {"dom": (_dom, REQ), "ref": (_int, REQ),
                          "flags": (_bits(_GNTMAP), 2)},
        "unmap_grant_ref": {"handle": (_int, REQ)},
        "copy": {"source_ref": (_int, None), "source_gmfn": (_int, None),
                 "source_dom": (_dom, DOMID_SELF), "source_offset": (_int, 0),
                 "dest_ref": (_int, None), "dest_gmfn": (_int, None),
                 "dest_dom": (_dom, DOMID_SELF), "dest_offset": (_int, 0),
                 "len": (_int, REQ)}},
    "event_channel_op": {
        "alloc_unbound": {"dom": (_dom, DOMID_SELF), "remote_dom": (_dom, REQ)},
        "bind_interdomain": {"remote_dom": (_dom, REQ), "remote_port": (_int, REQ)},
        "send": {"port": (_int, REQ)}, "close": {"port": (_int, REQ)},
        "unmask": {"port": (_int, REQ)},
        "status": {"dom": (_dom, DOMID_SELF), "port": (_int, REQ)}},
    "sched_op": {"yield": {}, "block": {}, "shutdown": {"reason": (_reason, REQ)},
                 "poll": {"ports": (_ports, REQ), "timeout": (_int, 0)}},
    "vcpu_op": {name: {"vcpu": (_int, REQ)}
                for name in ("is_up", "up", "down", "get_runstate_info")},
}


def parse_call(words: list[str]) -> tuple[str, str | None, dict]:
    """(op, subop, arguments) of `OP [SUBOP] name=value...`; ValueError says why."""
    op, rest = words[0], list(words[1:])
    subs = SPEC.get(op)
    if subs is None:
        raise ValueError(f"unknown hypercall '{op}' (one of: {', '.join(SPEC)})")
    sub = None
    if None not in subs:
        if not rest or "=" in rest[0]:
            raise ValueError(f"{op} needs an operation (one of: {', '.join(subs)})")
        sub = rest.pop(0)
        if re.fullmatch(r"pin_l[1-4]", sub):
            sub += "_table"
        if sub not in subs:
            raise ValueError(f"unknown {op} operation '{sub}' (one of: {', '.join(subs)})")
    params = subs[sub]
    args: dict = {}
    for word in rest:
        name, eq, text = word.partition("=")
        if not eq or name not in params:
            allowed = ", ".join(f"{p}=" for p in params) or "none"
            raise ValueError(f"unexpected argument '{word}' for {sub or op} "
                             f"(arguments: {allowed})")
        if name in args:
            raise ValueError(f"{name}= given twice")
        try:
            args[name] = params[name][0](text)
        except ValueError as e:
            raise ValueError(f"bad {name}= '{text}': {e}") from None
    for name, (_, default) in params.items():
        if name not in args:
            if default is REQ:
                raise ValueError(f"{sub or op} needs {name}=")
            if default is not None:
                args[name] = default
    if op == "grant_table_op" and sub == "copy":
        args = _copy_args(args)
    return op, sub, args


def _copy_args(a: dict) -> dict:
    """GNTTABOP_copy's union: a ref (GNTCOPY_*_gref) or the caller's own gmfn."""
    flags = 0
    for side, bit in (("source", 1), ("dest", 2)):
        ref, gmfn = a.pop(f"{side}_ref", None), a.pop(f"{side}_gmfn", None)
        if (ref is None) == (gmfn is None):
            raise ValueError(f"copy needs one of {side}_ref= and {side}_gmfn=")
        a[f"{side}_ref"] = ref if ref is not None else gmfn
        flags |= bit if ref is not None else 0
    a["flags"] = flags
    return a


@xl_command("hypercall")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_hypercall(ctx, args):
    need_args("hypercall", args, 2)
    try:
        op, sub, call_args = parse_call(list(args[1:]))
    except ValueError as e:
        raise PyxlError(f"hypercall: {e}") from None
    from pyxl.toolstack.hypercall import READ_ONLY

    with session(ctx, write=(op, sub) not in READ_ONLY) as libxl:
        result = libxl.guest_hypercall(args[0], op, sub, call_args)
    out(render(result))
    return 0 if isinstance(result["rc"], int) else 1


def _shown(name: str, value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if name.endswith("dom") or name == "domid":
            return "self" if value == DOMID_SELF else str(value)
        return hex(value) if value > 9 else str(value)
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def render(r: dict) -> str:
    call = " ".join([r["op"]] + ([r["sub"]] if r["sub"] else [])
                    + [f"{k}={_shown(k, v)}" for k, v in r["args"].items()])
    lines = [f"{call}  (as {r['name']}, domain {r['domid']})"]
    for text, ok in r["checks"]:
        lines.append(f"  {'ok  ' if ok else 'FAIL'} {text}")
    for k, v in r["value"].items():
        if k != "status" or not isinstance(v, str):
            lines.append(f"  {k}: {v}")
    rc = r["rc"]
    status = r["value"].get("status")
    tail = f", {status}" if isinstance(status, str) else ""
    lines.append(f"= {rc}{tail}")
    return "".join(line + "\n" for line in lines)
