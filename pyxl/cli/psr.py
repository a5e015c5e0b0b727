"""xl's psr-* commands (xl_psr.c): PSR's hardware, CMT monitoring, CAT and
MBA allocation. A host booted without `--psr` answers as Xen without PSR
does: CMT reads as disabled and every allocation call fails with ENODEV.

xl returns libxl's rc as its exit status, so a failed call exits 253
(ERROR_FAIL, -3, as a byte) and xl's own failures 255 or 1 or 2.
"""

from __future__ import annotations

import click

from pyxl.cli.base import err, need_args, out, print_help_and_fail, session, xl_command
from pyxl.cnum import atoi, strtol, strtoul

L3_CBM, L3_CODE, L3_DATA, L2_CBM, MBA_THRTL = 1, 2, 3, 4, 5


def _rc(rc: int) -> int:
    return rc & 0xFF


def _strtoll(text: str) -> int:
    """strtoll(text, NULL, 0), as a uint64_t."""
    val, _, _ = strtol(text, 0)
    return (val or 0) & ((1 << 64) - 1)


def _sockets(specs: list[str], nr: int) -> list[int]:
    """-s's comma-separated sockets and ranges; none given is every socket."""
    chosen: set[int] = set()
    for spec in specs:
        for item in spec.strip().split(","):
            lo, dash, hi = item.partition("-")
            start, rest, _ = strtoul(lo, 10)
            end, rest2, _ = strtoul(hi, 10) if dash else (start, "", 0)
            if start is None or end is None or rest or rest2 or end < start:
                continue
            chosen.update(range(start, min(end, start + 4096) + 1))
    return sorted(chosen) if chosen else list(range(nr))


def _name(libxl, domid: int) -> str:
    name = libxl.domid_to_name(domid)
    return "(null)" if name is None else name


# --- psr-hwinfo ---

@xl_command("psr-hwinfo")
@click.option("-m", "--cmt", "cmt", is_flag=True)
@click.option("-a", "--cat", "cat", is_flag=True)
@click.option("-b", "--mba", "mba", is_flag=True)
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_psr_hwinfo(ctx, cmt, cat, mba, ignored):
    every = not (cmt or cat or mba)
    with session(ctx, write=False) as libxl:
        psr = libxl.psr
        ret = 0
        if every or cmt:
            ret = _cmt_hwinfo(psr)
        if not ret and (every or cat):
            ret = _l3_cat_hwinfo(psr)
        if every or cat:
            ret = -3  # L2 CAT: no Xeon server has it (XEN_SYSCTL_PSR_get_l2_info fails)
        if every or mba:
            ret = _mba_hwinfo(psr)
    return _rc(ret)


def _cmt_hwinfo(psr) -> int:
    out("Cache Monitoring Technology (CMT):\n")
    enabled = psr.cmt_enabled()
    out(f"{'Enabled':<16}: {1 if enabled else 0}\n")
    if not enabled:
        return 0
    out(f"{'Total RMID':<16}: {psr.cmt_get_total_rmid()}\n")
    out("Supported monitor types:\n")
    for name, type_ in (("cache-occupancy", 1), ("total-mem-bandwidth", 2),
                        ("local-mem-bandwidth", 3)):
        if psr.cmt_type_supported(type_):
            out(name + "\n")
    return 0


def _l3_cat_hwinfo(psr) -> int:
    info = psr.hw_info("cat", 3)
    if info is None:
        return -3
    out("Cache Allocation Technology (CAT):\n")
    for i in info:
        size = psr.cmt_get_l3_cache_size(i["id"])
        if size is None:
            err(f"Failed to get l3 cache size for socket:{i['id']}")
            return -3
        out(f"{'Socket ID':<16}: {i['id']}\n{'L3 Cache':<16}: {size}KB\n"
            f"{'CDP Status':<16}: {'Enabled' if i['cdp_enabled'] else 'Disabled'}\n"
            f"{'Maximum COS':<16}: {i['cos_max']}\n{'CBM length':<16}: {i['cbm_len']}\n"
            f"{'Default CBM':<16}: {(1 << i['cbm_len']) - 1:#x}\n")
    return 0


def _mba_hwinfo(psr) -> int:
    info = psr.hw_info("mba", 0)
    if info is None:
        return -3
    out("Memory Bandwidth Allocation (MBA):\n")
    for i in info:
        out(f"Socket ID               : {i['id']}\n"
            f"Linear Mode             : {'Enabled' if i['linear'] else 'Disabled'}\n"
            f"Maximum COS             : {i['cos_max']}\n"
            f"Maximum Throttling Value: {i['thrtl_max']}\n"
            "Default Throttling Value: 0\n")
    return 0


# --- CMT ---

@xl_command("psr-cmt-attach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_psr_cmt_attach(ctx, args):
    need_args("psr-cmt-attach", args, 1)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        return _rc(libxl.psr.cmt_attach(domid))


@xl_command("psr-cmt-detach")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_psr_cmt_detach(ctx, args):
    need_args("psr-cmt-detach", args, 1)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        return _rc(libxl.psr.cmt_detach(domid))


@xl_command("psr-cmt-show")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_psr_cmt_show(ctx, args):
    from pyxl.toolstack.psr import CMT_TYPES

    need_args("psr-cmt-show", args, 1)
    type_ = CMT_TYPES.get(args[0])
    if type_ is None or len(args) > 2:
        return print_help_and_fail("psr-cmt-show", 2)
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[1]) if len(args) == 2 else None
        return _rc(_cmt_show(libxl, libxl.psr, type_, args[0], domid))


def _cmt_show(libxl, psr, type_: int, type_name: str, domid: int | None) -> int:
    if not psr.cmt_enabled():
        err("CMT is disabled in the system")
        return -1
    if not psr.cmt_type_supported(type_):
        err(f"Monitor type '{type_name}' is not supported in the system")
        return -1
    sockets = range(psr.nr_sockets)
    out(f"Total RMID: {psr.cmt_get_total_rmid()}\n")
    out(f"{'Name':<40} {'ID':>5}" + "".join(f"{'Socket':>14} {s}" for s in sockets) + "\n")
    if type_ == 1:
        out(f"{'Total L3 Cache Size':<46}")
        for s in sockets:
            out(f"{psr.cmt_get_l3_cache_size(s):>13} KB")
        out("\n")
    if domid is not None:
        if libxl.domain_info(domid) is None:
            err(f"Failed to get domain info for {domid}")
            return -1
        domids = [domid]
    else:
        domids = [i.domid for i in libxl.list_domain()]
    for d in domids:
        if not psr.cmt_domain_attached(d):
            continue
        out(f"{_name(libxl, d):<40} {d:>5}")
        for s in sockets:
            sample = psr.cmt_get_sample(d, type_, s)
            if sample is not None:
                out(f"{sample // 1024:>13} KB" if type_ == 1 else f"{sample // 1024:>11} KB/s")
        out("\n")
    return 0


# --- CAT and MBA ---

def _set(ctx, name: str, args, sockets, type_: int, fail_code: int) -> int:
    if len(args) != 2:
        return print_help_and_fail(name, fail_code)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0])
        psr = libxl.psr
        return _rc(psr.set_val(domid, type_, _sockets(sockets, psr.nr_sockets),
                               _strtoll(args[1])))


@xl_command("psr-cat-set")
@click.option("-s", "--socket", "sockets", multiple=True)
@click.option("-l", "--level", "level", default=None)
@click.option("-c", "--code", "code", is_flag=True)
@click.option("-d", "--data", "data", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_psr_cat_set(ctx, sockets, level, code, data, args):
    need_args("psr-cat-set", args, 2)
    lvl = 3 if level is None else atoi(level)
    if lvl == 2:
        type_ = L2_CBM
    elif lvl == 3:
        if code and data:
            err("Cannot handle -c and -d at the same time")
            return 1
        type_ = L3_DATA if data else L3_CODE if code else L3_CBM
    else:
        err(f"Input lvl {lvl} is wrong")
        return 1
    return _set(ctx, "psr-cat-set", args, sockets, type_, 2)


@xl_command("psr-mba-set")
@click.option("-s", "--socket", "sockets", multiple=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_psr_mba_set(ctx, sockets, args):
    return _set(ctx, "psr-mba-set", args, sockets, MBA_THRTL, 1)


@xl_command("psr-cat-show")
@click.option("-l", "--level", "level", default=None)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_psr_cat_show(ctx, level, args):
    lvl = 3 if level is None else atoi(level)
    return _show(ctx, "psr-cat-show", args, "cat", lvl)


@xl_command("psr-mba-show")
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_psr_mba_show(ctx, args):
    return _show(ctx, "psr-mba-show", args, "mba", 0)


def _show(ctx, name: str, args, kind: str, lvl: int) -> int:
    if len(args) > 1:
        return print_help_and_fail(name, 2)
    if kind == "cat" and lvl not in (2, 3):
        err(f"Input lvl {lvl} is wrong")
        return 1
    with session(ctx, write=False) as libxl:
        domid = libxl.domain_qualifier_to_domid(args[0]) if args else None
        psr = libxl.psr
        info = None if lvl == 2 else psr.hw_info(kind, lvl)
        if info is None:
            err("Failed to get info")
            return _rc(-3)
        for i in info:
            rc = _print_socket(libxl, psr, i, kind, domid)
            if rc:
                return _rc(rc)
    return 0


def _print_socket(libxl, psr, info: dict, kind: str, domid: int | None) -> int:
    out(f"{'Socket ID':<16}: {info['id']}\n")
    if kind == "cat":
        size = psr.cmt_get_l3_cache_size(info["id"])
        if size is None:
            err(f"Failed to get l3 cache size for socket:{info['id']}")
            return -1
        out(f"{'L3 Cache':<16}: {size}KB\n")
        out(f"{'Default CBM':<16}: {(1 << info['cbm_len']) - 1:#x}\n")
        if info["cdp_enabled"]:
            out(f"{'ID':>5}{'NAME':>25}{'CBM (code)':>16}{'CBM (data)':>16}\n")
            types = (L3_CODE, L3_DATA)
        else:
            out(f"{'ID':>5}{'NAME':>25}{'CBM':>16}\n")
            types = (L3_CBM,)
    else:
        out(f"{'Default THRTL':<16}: 0\n")
        out(f"{'ID':>5}{'NAME':>25}{'THRTL':>16}\n")
        types = (MBA_THRTL,)
    domids = [domid] if domid is not None else [i.domid for i in libxl.list_domain()]
    for d in domids:
        out(f"{d:>5}{_name(libxl, d):>25}")
        for t in types:
            val = psr.get_val(d, t, info["id"])
            if val is None:
                out(f"{'error':>16}")
            elif t == MBA_THRTL and info.get("linear"):
                out(f"{val:>16}")
            else:
                out(f"{_hex(val):>16}")
        out("\n")
    return 0


def _hex(val: int) -> str:
    """printf's %#x: no 0x prefix for zero."""
    return f"{val:#x}" if val else "0"
