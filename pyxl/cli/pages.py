"""pyxl's shared-info and start-info: a guest's two pages, as bytes and as
the structs of Xen's public headers. A tree (rich on a terminal, plain text
otherwise), `--hex` (xxd's lines with the fields that start on each),
`--raw` (the page's 4096 bytes) or `--json` (the C field names, nested)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import click

from pyxl.cli.base import need_args, out, session, xl_command
from pyxl.errors import PyxlError


def _view_flags(name: str, hexdump: bool, raw: bool, as_json: bool) -> None:
    if hexdump + raw + as_json > 1:
        raise PyxlError(f"{name}: --hex, --raw and --json exclude each other")


@xl_command("shared-info")
@click.option("--vcpu", "vcpu", type=int, default=None)
@click.option("--hex", "hexdump", is_flag=True)
@click.option("--raw", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_shared_info(ctx, vcpu, hexdump, raw, as_json, args):
    need_args("shared-info", args, 1)
    _view_flags("shared-info", hexdump, raw, as_json)
    with session(ctx, write=False) as libxl:
        page = libxl.shared_info(args[0], vcpu)
    return _show(page, hexdump, raw, as_json, _shared_tree)


@xl_command("start-info")
@click.option("--hex", "hexdump", is_flag=True)
@click.option("--raw", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_start_info(ctx, hexdump, raw, as_json, args):
    need_args("start-info", args, 1)
    _view_flags("start-info", hexdump, raw, as_json)
    with session(ctx, write=False) as libxl:
        page = libxl.start_info(args[0])
    return _show(page, hexdump, raw, as_json, _start_tree)


def _show(page: dict, hexdump: bool, raw: bool, as_json: bool, tree) -> int:
    if raw:
        _write_raw(page["raw"])
    elif hexdump:
        out(hex_dump(page["raw"], page["layout"]))
    elif as_json:
        out(json.dumps(_json(page), indent=4) + "\n")
    else:
        _render(tree(page))
    return 0


def _write_raw(data: bytes) -> None:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (a test's StringIO)
        sys.stdout.write(data.decode("latin-1"))
        return
    sys.stdout.flush()
    buffer.write(data)
    buffer.flush()


def _json(page: dict) -> dict:
    """The struct's C fields at the top, beside what pyxl adds to read them."""
    data = dict(page["fields"])
    if page.get("vcpu") is not None:
        data["vcpu_info"] = {str(page["vcpu"]): data["vcpu_info"][page["vcpu"]]}
    extra = {k: v for k, v in page.items() if k not in ("fields", "raw", "layout", "vcpu")}
    data["pyxl"] = extra
    return data


# --- --hex ------------------------------------------------------------------

def hex_dump(data: bytes, layout) -> str:
    """xxd's 16-byte lines, each with the fields that start in it."""
    starts: dict[int, list[str]] = {}
    for path, _fmt, off in layout:
        starts.setdefault(off // 16, []).append(path)
    lines = []
    for row in range(len(data) // 16):
        chunk = data[row * 16:row * 16 + 16]
        words = " ".join(chunk[i:i + 2].hex() for i in range(0, 16, 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        names = ", ".join(starts.get(row, ()))
        lines.append(f"{row * 16:08x}: {words}  {text}  {names}".rstrip())
    return "".join(line + "\n" for line in lines)


# --- the decoded tree -------------------------------------------------------

def _when(ns: int) -> str:
    t = datetime.fromtimestamp(ns // 1_000_000_000, timezone.utc)
    return f"{t:%Y-%m-%d %H:%M:%S}.{ns % 1_000_000_000:09d} UTC"


def _bits(words: list[int]) -> str:
    ports = [w * 64 + b for w, word in enumerate(words) for b in range(64) if word >> b & 1]
    return ", ".join(map(str, ports)) if ports else "none"


def _shared_tree(page: dict) -> tuple[str, list]:
    f = page["fields"]
    checks = {c["vcpu"]: c for c in page["guest_time"]}
    shown = [page["vcpu"]] if page["vcpu"] is not None else range(min(page["vcpus"], 32))
    kids = []
    for i in shown:
        vi = f["vcpu_info"][i]
        t = vi["time"]
        time_kids = [f"version {t['version']}", f"tsc_timestamp {t['tsc_timestamp']}",
                     f"system_time {t['system_time']} ns",
                     f"tsc_to_system_mul 0x{t['tsc_to_system_mul']:08x}",
                     f"tsc_shift {t['tsc_shift']}", f"flags 0x{t['flags']:02x}"]
        c = checks.get(i)
        if c is not None:
            time_kids.append(
                f"guest's sum at TSC {c['tsc']}: system time {c['system_time']} ns, "
                f"wallclock {_when(c['wallclock_ns'])}")
        kids.append((f"vcpu_info[{i}]", [
            f"evtchn_upcall_pending {vi['evtchn_upcall_pending']}",
            f"evtchn_upcall_mask {vi['evtchn_upcall_mask']}",
            f"evtchn_pending_sel 0x{vi['evtchn_pending_sel']:016x}",
            f"arch.cr2 0x{vi['arch']['cr2']:x}", ("time", time_kids)]))
    arch = f["arch"]
    kids += [f"evtchn_pending: ports {_bits(f['evtchn_pending'])}",
             f"evtchn_mask: ports {_bits(f['evtchn_mask'])}",
             f"wc_version {f['wc_version']}", f"wc_sec {f['wc_sec']}",
             f"wc_nsec {f['wc_nsec']}", f"wc_sec_hi {f['wc_sec_hi']}",
             ("arch", [f"{k} 0x{v:x}" for k, v in arch.items()])]
    kids.append(f"simulated clock: {page['now_ns']} ns, {_when(page['wallclock_ns'])}")
    return (f"shared_info of {page['name']} ({page['domid']}) at mfn 0x{page['mfn']:x}", kids)


def _start_tree(page: dict) -> tuple[str, list]:
    f = page["fields"]
    console = f["console"]["domU"]
    kids = [f"magic {f['magic']}", f"nr_pages {f['nr_pages']}",
            f"shared_info 0x{f['shared_info']:x}", f"flags 0x{f['flags']:x}",
            f"store_mfn 0x{f['store_mfn']:x}", f"store_evtchn {f['store_evtchn']}",
            ("console.domU", [f"mfn 0x{console['mfn']:x}", f"evtchn {console['evtchn']}"]),
            f"pt_base 0x{f['pt_base']:x}", f"nr_pt_frames {f['nr_pt_frames']}",
            f"mfn_list 0x{f['mfn_list']:x}", f"mod_start 0x{f['mod_start']:x}",
            f"mod_len {f['mod_len']}", f"cmd_line {f['cmd_line']!r}",
            f"first_p2m_pfn 0x{f['first_p2m_pfn']:x}", f"nr_p2m_frames {f['nr_p2m_frames']}",
            ("layout (pfn, pages, virtual address)",
             [f"{s['name']}: 0x{s['pfn']:x} +{s['pages']} "
              + (f"0x{s['vstart']:x}" if s["vstart"] else "unmapped")
              for s in page["segments"]]),
            ("P2M runs (pfn -> mfn, count)",
             [f"0x{p:x} -> 0x{m:x}, {n}" for p, m, n in page["p2m"]]),
            ("page types (mfn, count: type, type count, refs)",
             [f"0x{t['mfn']:x}, {t['count']}: {t['type']}, {t['type_count']}, "
              f"{t['count_info']}{', pinned' if t['pinned'] else ''}"
              for t in page["page_types"]])]
    return (f"start_info of {page['name']} ({page['domid']}) at pfn 0x{page['pfn']:x}, "
            f"mfn 0x{page['mfn']:x}", kids)


def _render(tree: tuple[str, list]) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.text import Text
        from rich.tree import Tree

        def grow(node, kids):
            for kid in kids:
                if isinstance(kid, tuple):
                    grow(node.add(Text(kid[0])), kid[1])
                else:
                    node.add(Text(kid))

        root = Tree(Text(tree[0]))
        grow(root, tree[1])
        Console(highlight=False).print(root)
        return
    lines = [tree[0]]

    def walk(kids, depth):
        for kid in kids:
            if isinstance(kid, tuple):
                lines.append("  " * depth + kid[0])
                walk(kid[1], depth + 1)
            else:
                lines.append("  " * depth + kid)

    walk(tree[1], 1)
    out("".join(line + "\n" for line in lines))
