"""xl top, which is xentop: a live view on a terminal, or batch lines for scripts.

Batch mode (-b) prints, every iteration, xentop's header line and one line per
domain in its column formats, sorted by name as xentop sorts by default. CPU(%)
is computed between iterations from simulated time (the first iteration shows
0.0, as xentop does without a previous sample).

Time between iterations: on a realtime host, pyxl waits DELAY seconds. On a
manual-clock host nothing would ever change, so each iteration after the
first advances the host's clock by DELAY seconds and keeps it there, exactly
as `pyxl clock advance DELAY` would: `top -b -i 3 -d 2` moves the clock 4 s.
"""

from __future__ import annotations

import sys
import time

import click

from pyxl.cli.base import out, session, xl_command

# (header, width) as xentop.c's fields[] table, NAME first.
FIELDS = (("NAME", 10), ("STATE", 6), ("CPU(sec)", 10), ("CPU(%)", 6), ("MEM(k)", 10),
          ("MEM(%)", 6), ("MAXMEM(k)", 10), ("MAXMEM(%)", 9), ("VCPUS", 5), ("NETS", 4),
          ("NETTX(k)", 8), ("NETRX(k)", 8), ("VBDS", 4), ("VBD_OO", 8), ("VBD_RD", 8),
          ("VBD_WR", 8), ("VBD_RSECT", 10), ("VBD_WSECT", 10), ("SSID", 4))


def _totals(d) -> dict[str, int]:
    """The traffic columns' values for one domain, by header."""
    return {"NETTX(k)": d.net_bytes(rx=False) // 1024, "NETRX(k)": d.net_bytes(rx=True) // 1024,
            "VBD_RD": d.vbd_total(2), "VBD_WR": d.vbd_total(3),
            "VBD_RSECT": d.vbd_total(4), "VBD_WSECT": d.vbd_total(5)}


def field_widths(domains, name_width: int = 10) -> dict[str, int]:
    """xentop's adjust_field_widths: a traffic column widens to hold the
    digits of its largest value plus one; the header follows."""
    widths = {h: w for h, w in FIELDS}
    widths["NAME"] = name_width
    for d in domains:
        for h, value in _totals(d).items():
            widths[h] = max(widths[h], len(str(value + 1)))
    return widths


def header(name_width: int = 10, widths: dict[str, int] | None = None) -> str:
    widths = widths or dict(FIELDS, NAME=name_width)
    return " ".join(f"{h:>{widths[h]}}" for h, _ in FIELDS) + "\n"


def domain_line(d, pct: float, tot_kb: int, full_name: bool, name_width: int,
                widths: dict[str, int] | None = None) -> str:
    widths = widths or dict(FIELDS, NAME=name_width)
    t = _totals(d)
    name = f"{d.name:>{name_width}}" if full_name else f"{d.name[:10]:>10}"
    maxmem = "no limit" if d.max_kb is None else str(d.max_kb)
    maxpct = "n/a" if d.max_kb is None else f"{100.0 * d.max_kb / tot_kb:.1f}"
    cols = [name, f"{d.state}", f"{d.cpu_ns // 1_000_000_000:>10}", f"{pct:6.1f}",
            f"{d.cur_kb:>10}", f"{100.0 * d.cur_kb / tot_kb:6.1f}", f"{maxmem:>10}",
            f"{maxpct:>9}", f"{d.vcpus:>5}", f"{d.nets:>4}"]
    cols += [f"{t[h]:>{widths[h]}}" for h in ("NETTX(k)", "NETRX(k)")]
    cols += [f"{d.vbds:>4}", f"{d.vbd_total(1):>8}"]
    cols += [f"{t[h]:>{widths[h]}}" for h in ("VBD_RD", "VBD_WR", "VBD_RSECT", "VBD_WSECT")]
    cols.append(f"{d.ssid:>4}")
    return " ".join(cols) + "\n"


def network_lines(d) -> str:
    """xentop -n: one line per vif, RX then TX as libxenstat has them."""
    return "".join(
        f"Net{i} RX: {n[0]:8}bytes {n[1]:8}pkts {n[2]:8}err {n[3]:8}drop  "
        f"TX: {n[4]:8}bytes {n[5]:8}pkts {n[6]:8}err {n[7]:8}drop\n"
        for i, n in enumerate(d.networks))


def vbd_lines(d) -> str:
    """xentop -x: one line per vbd, blkback's statistics; the device's
    major:minor as glibc's major()/minor() split its number."""
    text = ""
    for dev, oo, rd, wr, rsect, wsect in d.vbd_list:
        major = ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF)
        minor = (dev & 0xFF) | ((dev >> 12) & ~0xFF)
        text += (f"VBD BlkBack {dev:4} [{major:2x}:{minor:2x}]  OO: {oo:8}   RD: {rd:8}   "
                 f"WR: {wr:8}   RSECT: {rsect:10}   WSECT: {wsect:10}\n")
    return text


def vcpu_lines(d) -> str:
    text = "VCPUs(sec): "
    for i, (vcpuid, ns) in enumerate(d.vcpu_ns):
        if vcpuid != 0 and vcpuid % 5 == 0:
            text += "\n        "
        text += f" {vcpuid:2}: {ns // 1_000_000_000:10}s"
    return text + "\n"


def _ordered(domains, dom0_first: bool):
    doms = sorted(domains, key=lambda d: (d.name.lower(), d.domid))
    if dom0_first:
        doms.sort(key=lambda d: d.name != "Domain-0")
    return doms


def render_batch(s, prev, opts) -> str:
    from pyxl.toolstack import cpu_pct

    doms = _ordered(s.domains, opts["dom0_first"])
    width = 10
    if opts["full_name"]:
        width = max([10] + [len(d.name) for d in doms])
    widths = field_widths(doms, width)
    text = ""
    for i, d in enumerate(doms):
        if i == 0 or opts["repeat_header"]:
            text += header(width, widths)
        text += domain_line(d, cpu_pct(d, prev, s.now_ns), s.tot_kb, opts["full_name"], width,
                            widths)
        if opts["vcpus"]:
            text += vcpu_lines(d)
        if opts.get("networks"):
            text += network_lines(d)
        if opts.get("vbds"):
            text += vbd_lines(d)
    return text


def render_json(s, prev, opts) -> str:
    """`top -b --json`: one iteration as one line of JSON (docs/json.md)."""
    import json

    from pyxl.toolstack import cpu_pct

    doc = {"now_ns": s.now_ns, "tot_kb": s.tot_kb, "free_kb": s.free_kb,
           "nr_cpus": s.nr_cpus, "cpu_mhz": s.cpu_mhz,
           "domains": [domain_fields(d, cpu_pct(d, prev, s.now_ns), s.tot_kb)
                       for d in _ordered(s.domains, opts["dom0_first"])]}
    return json.dumps(doc) + "\n"


NET_KEYS = ("rx_bytes", "rx_packets", "rx_errs", "rx_drop",
            "tx_bytes", "tx_packets", "tx_errs", "tx_drop")
VBD_KEYS = ("dev", "oo_reqs", "rd_reqs", "wr_reqs", "rd_sects", "wr_sects")


def domain_fields(d, pct: float, tot_kb: int) -> dict:
    """One domain's xentop line as numbers, unrounded (the table's k are bytes here)."""
    return {"name": d.name, "domid": d.domid, "state": d.state, "cpu_ns": d.cpu_ns,
            "cpu_pct": pct, "mem_kb": d.cur_kb, "mem_pct": 100.0 * d.cur_kb / tot_kb,
            "maxmem_kb": d.max_kb,
            "maxmem_pct": None if d.max_kb is None else 100.0 * d.max_kb / tot_kb,
            "vcpus": d.vcpus, "nets": d.nets, "nettx_bytes": d.net_bytes(rx=False),
            "netrx_bytes": d.net_bytes(rx=True), "vbds": d.vbds, "vbd_oo": d.vbd_total(1),
            "vbd_rd": d.vbd_total(2), "vbd_wr": d.vbd_total(3),
            "vbd_rsect": d.vbd_total(4), "vbd_wsect": d.vbd_total(5), "ssid": d.ssid,
            "vcpu_ns": [{"vcpu": v, "cpu_ns": ns} for v, ns in d.vcpu_ns],
            "networks": [dict(zip(NET_KEYS, n)) for n in d.networks],
            "vbd_list": [dict(zip(VBD_KEYS, v)) for v in d.vbd_list]}


def _take_sample(ctx, advance_ns: int):
    """A sample `advance_ns` after the last, and the clock's mode."""
    with session(ctx, write=advance_ns > 0) as libxl:
        return libxl.top_sample(advance_ns), libxl.clock().mode


@xl_command("top")
@click.option("-d", "--delay", default="3")
@click.option("-b", "--batch", is_flag=True)
@click.option("-i", "--iterations")
@click.option("-v", "--vcpus", is_flag=True)
@click.option("-r", "--repeat-header", "repeat_header", is_flag=True)
@click.option("-f", "--full-name", "full_name", is_flag=True)
@click.option("-z", "--dom0-first", "dom0_first", is_flag=True)
@click.option("-n", "--networks", is_flag=True)
@click.option("-x", "--vbds", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def cmd_top(ctx, delay, batch, iterations, vcpus, repeat_header, full_name, dom0_first,
            networks, vbds, as_json):
    from pyxl.cnum import atoi, c_uint32

    # xentop keeps both in unsigned ints, from atoi; -i 0 counts down from
    # 2^32 ("--iterations" wraps), so it all but never stops.
    delay_s = c_uint32(atoi(delay))
    count = (c_uint32(atoi(iterations)) or 1 << 32) if iterations is not None else None
    opts = dict(vcpus=vcpus, repeat_header=repeat_header, full_name=full_name,
                dom0_first=dom0_first, networks=networks, vbds=vbds)
    if not batch and not as_json and sys.stdout.isatty():
        return _live(ctx, delay_s, count, opts)
    render = render_json if as_json else render_batch
    prev = None
    n = 0
    while True:
        s, clock = _take_sample(ctx, 0 if prev is None else delay_s * 1_000_000_000)
        out(render(s, prev, opts))
        sys.stdout.flush()
        prev = s
        n += 1
        if count is not None and n >= count:
            break
        if clock == "realtime":
            time.sleep(delay_s)
    return 0


def _live(ctx, delay_s: int, count: int | None, opts) -> int:
    """The interactive view: xentop's summary and table, refreshed in place (rich)."""
    from rich.console import Group
    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

    from pyxl.toolstack import cpu_pct, summary_counts

    def view(s, prev):
        c = summary_counts(s)
        clock = time.strftime("%H:%M:%S", time.localtime(s.wall))
        used = s.tot_kb - s.free_kb
        head = Text(
            f"xentop - {clock}   Xen {s.xen_version}\n"
            f"{len(s.domains)} domains: {c['running']} running, {c['blocked']} blocked, "
            f"{c['paused']} paused, {c['crashed']} crashed, {c['dying']} dying, "
            f"{c['shutdown']} shutdown \n"
            f"Mem: {s.tot_kb}k total, {used}k used, {s.free_kb}k free    "
            f"CPUs: {s.nr_cpus} @ {s.cpu_mhz}MHz")
        table = Table(box=None, header_style="reverse")
        for h, _w in FIELDS[:10]:
            table.add_column(h, justify="right")
        for d in _ordered(s.domains, opts["dom0_first"]):
            pct = cpu_pct(d, prev, s.now_ns)
            table.add_row(d.name if opts["full_name"] else d.name[:10], d.state,
                          str(d.cpu_ns // 1_000_000_000), f"{pct:.1f}", str(d.cur_kb),
                          f"{100.0 * d.cur_kb / s.tot_kb:.1f}",
                          "no limit" if d.max_kb is None else str(d.max_kb),
                          "n/a" if d.max_kb is None else f"{100.0 * d.max_kb / s.tot_kb:.1f}",
                          str(d.vcpus), str(d.nets))
        return Group(head, table, Text("Ctrl-C to quit", style="dim"))

    prev = None
    n = 0
    try:
        s, clock = _take_sample(ctx, 0)
        with Live(view(s, None), auto_refresh=False) as live:
            while count is None or n + 1 < count:
                time.sleep(delay_s if clock == "realtime" else max(1, delay_s) * 0.25)
                prev = s
                s, clock = _take_sample(ctx, delay_s * 1_000_000_000)
                live.update(view(s, prev), refresh=True)
                n += 1
    except KeyboardInterrupt:
        pass
    return 0
