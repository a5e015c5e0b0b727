"""xm sched-credit and sched-sedf: xm's tables and options."""

from __future__ import annotations

import sys

from pyxl.cli.xm.common import arg_check, find_domain, getopt, session
from pyxl.errors import PyxlError


def _check_sched(libxl, sched: str) -> None:
    current = str(dict(libxl.info_xeninfo()).get("xen_scheduler", "unknown")).strip()
    if current != sched:
        raise PyxlError(f"Xen is running with the {current} scheduler")


def _int(text: str, name: str) -> int:
    from pyxl.cli.xm.main import XmUsage

    try:
        return int(text)
    except ValueError:
        raise XmUsage("Invalid argument.", name) from None


def xm_sched_credit(host, args):
    """[-d DOMAIN [-w WEIGHT] [-c CAP]]: list, or set a domain's weight/cap."""
    from pyxl.cli.xm.main import XmUsage

    options, _params = getopt(args, "sched-credit", "d:w:c:", ["domain=", "weight=", "cap="],
                              gnu=False)
    dom = weight = cap = None
    for key, value in options:
        if key in ("-d", "--domain"):
            dom = value
        elif key in ("-w", "--weight"):
            weight = _int(value, "sched-credit")
        else:
            cap = _int(value, "sched-credit")
    setting = weight is not None or cap is not None
    with session(host, write=setting) as libxl:
        _check_sched(libxl, "credit")
        if setting:
            if dom is None:
                raise XmUsage("No domain given.", "sched-credit")
            domid = find_domain(libxl, dom)
            changes = {k: v for k, v in (("weight", weight), ("cap", cap)) if v is not None}
            libxl.domain_sched_params_set(domid, "credit", changes)
            return 0
        ids = [find_domain(libxl, dom)] if dom is not None \
            else [i.domid for i in libxl.list_domain()]
        lines = [f"{'Name':<33} {'ID':>4} {'Weight':>6} {'Cap':>4}\n"]
        for domid in ids:
            p = libxl.domain_sched_params_get(domid, "credit")
            lines.append(f"{libxl.domid_to_name(domid) or '':<32} {domid!s:>5} "
                         f"{p.get('weight', -1):6d} {p.get('cap', -1):4d}\n")
    sys.stdout.write("".join(lines))
    return 0


SEDF_HEADER = (f"{'Name':<33} {'ID':>4} {'Period(ms)':<4} {'Slice(ms)':<4} {'Lat(ms)':<7} "
               f"{'Extra':<5} {'Weight':<6}\n")


def _ms(text: str, ns: bool) -> int:
    """libxl's SEDF values are whole ms; xm's positional form gives ns, its options ms."""
    import math

    from pyxl.cli.xm.main import XmUsage

    try:
        value = float(text)
    except ValueError:
        raise XmUsage("Invalid argument.", "sched-sedf") from None
    if not math.isfinite(value) or value < 0:
        raise XmUsage("Invalid argument.", "sched-sedf")
    return int(round(value / 1_000_000)) if ns else int(round(value))


def xm_sched_sedf(host, args):
    """`DOM [-p MS] [-s MS] [-l MS] [-e 0|1] [-w W]` (the code's form), or the
    man page's `DOM PERIOD SLICE LATENCY EXTRATIME WEIGHT` in ns; none: list."""
    dom = None
    changes: dict = {}
    if args:
        arg_check(args, "sched-sedf", 1, 11)
        dom, rest = args[0], args[1:]
        options, params = getopt(rest, "sched-sedf", "p:s:l:e:w:",
                                 ["period=", "slice=", "latency=", "extratime=", "weight="])
        if params and not options:
            arg_check(args, "sched-sedf", 6)
            period, slc, lat, extra, weight = params
            changes = {"period": _ms(period, True), "slice": _ms(slc, True),
                       "latency": _ms(lat, True), "extratime": _ms(extra, False),
                       "weight": _ms(weight, False)}
        for key, value in options:
            field = {"-p": "period", "-s": "slice", "-l": "latency", "-e": "extratime",
                     "-w": "weight"}.get(key, key.lstrip("-"))
            changes[field] = _ms(value, False)
    with session(host, write=bool(changes)) as libxl:
        _check_sched(libxl, "sedf")
        ids = [find_domain(libxl, dom)] if dom is not None \
            else [i.domid for i in libxl.list_domain()]
        if changes:
            try:
                libxl.domain_sched_params_set(ids[0], "sedf", changes)
            except PyxlError:
                raise PyxlError("Failed to set sedf parameters (rv=-22).") from None
            return 0
        lines = [SEDF_HEADER]
        for domid in ids:
            p = libxl.domain_sched_params_get(domid, "sedf")
            lines.append(f"{libxl.domid_to_name(domid) or '':<32} {domid:5d} "
                         f"{float(p['period']):9.1f} {float(p['slice']):9.1f} "
                         f"{float(p['latency']):7.1f} {int(p['extratime']):6d} "
                         f"{int(p['weight']):6d}\n")
    sys.stdout.write("".join(lines))
    return 0
