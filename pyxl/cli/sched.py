"""xl's scheduler commands (xl_sched.c): sched-credit, sched-credit2, sched-rtds,
and sched-sedf as xl 4.2-4.5 had it, which also takes xm's two syntaxes.

Option values go through C's strtol, as in xl: no validation here, libxl's
checks (pyxl/toolstack/sched.py) decide. In listings a domain whose
parameters cannot be read stops the listing, but the command exits 0.
"""

from __future__ import annotations

import math

import click

from pyxl.cli.base import err, out, session, xl_command
from pyxl.cnum import atoi  # xl_sched.c: int x = strtol(optarg, NULL, 10)
from pyxl.errors import PyxlError


def _pool_or_fail(libxl, name: str | None) -> int | None:
    if name is None:
        return None
    poolid = libxl.cpupool_qualifier_to_cpupoolid(name)
    if poolid is None:
        raise PyxlError(f"unknown cpupool '{name}'")
    return poolid


def _listing(libxl, sched: str, pool: str | None, pool_params, pool_line, header: str,
             fields, text, as_json: bool = False) -> None:
    """sched_domain_output: each matching pool's line, the header, its domains.

    `pool_params(poolid)` and `fields(domid)` (a list of rows) give the data,
    `pool_line(name, params)` and `text(row)` the table; --json renders the
    same data as a list of pools."""
    only = _pool_or_fail(libxl, pool)
    pools = []
    for poolid, name, domids in libxl.cpupools_running(sched, only):
        params = pool_params(poolid)
        rows: list = []
        pools.append({"cpupool": name, "poolid": poolid, "params": params, "domains": rows})
        if not as_json:
            out(pool_line(name, params))
            out(header)
        if not _pool_rows(domids, fields, text, rows, as_json):
            break
    if as_json:
        _json(pools)


def _pool_rows(domids, fields, text, rows: list, as_json: bool) -> bool:
    """A pool's domains into `rows` or onto stdout; False when one could not
    be read (its error is printed and the listing stops)."""
    for domid in domids:
        try:
            got = fields(domid)
        except PyxlError as e:
            err(e.message)
            return False
        if as_json:
            rows.extend(got)
        else:
            out("".join(text(r) for r in got))
    return True


def _json(value) -> None:
    from pyxl.cli.base import dumps

    out(dumps(value))


def _domain_rows(header: str, fields, text, as_json: bool) -> None:
    """One domain's rows from `fields()`: the header (printed before they are
    asked for, as xl does) and the lines, or --json's list."""
    if as_json:
        _json(fields())
    else:
        out(header)
        out("".join(text(r) for r in fields()))


# --- credit and credit2 -----------------------------------------------------------

WEIGHT_HEADER = f"{'Name':<33} {'ID':>4} {'Weight':>6} {'Cap':>4}\n"


def _weight_fields(libxl, sched: str, domid: int) -> list[dict]:
    p = libxl.domain_sched_params_get(domid, sched)
    return [{"name": libxl.domid_to_name(domid) or "", "domid": domid,
             "weight": p["weight"], "cap": p["cap"]}]


def _weight_text(r: dict) -> str:
    return f"{r['name']:<33} {r['domid']:>4} {r['weight']:>6} {r['cap']:>4}\n"


def _pool_params(libxl, poolid: int, sched: str) -> dict | None:
    """A pool's scheduler parameters; None (and libxl's error) when unavailable."""
    p = libxl.sched_params_get(poolid, sched)
    if p is None:
        err(f"libxl_sched_{sched}_params_get failed.")
    return p


def _credit_pool_line(name: str, p: dict | None) -> str:
    if p is None:
        return f"Cpupool {name}: [sched params unavailable]\n"
    return (f"Cpupool {name}: tslice={p['tslice_ms']}ms ratelimit={p['ratelimit_us']}us "
            f"migration-delay={p['migration_delay_us']}us\n")


def _credit2_pool_line(name: str, p: dict | None) -> str:
    if p is None:
        return f"Cpupool {name}: [sched params unavailable]\n"
    return f"Cpupool {name}: ratelimit={p['ratelimit_us']}us\n"


def _pool_only(libxl, cpupool, sched: str, pool_line, as_json: bool) -> None:
    """`-s` without values: the pool's parameters line, or its --json object."""
    poolid = _pool_or_fail(libxl, cpupool) or 0
    name = libxl.cpupoolid_to_name(poolid)
    params = _pool_params(libxl, poolid, sched)
    if as_json:
        _json({"cpupool": name, "poolid": poolid, "params": params})
    else:
        out(pool_line(name, params))


@xl_command("sched-credit")
@click.option("-d", "--domain", "dom")
@click.option("-w", "--weight")
@click.option("-c", "--cap")
@click.option("-p", "--cpupool")
@click.option("-t", "--tslice_ms", "tslice")
@click.option("-r", "--ratelimit_us", "ratelimit")
@click.option("-m", "--migration_delay_us", "migrdelay")
@click.option("-s", "--schedparam", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_sched_credit(ctx, dom, weight, cap, cpupool, tslice, ratelimit, migrdelay,
                     schedparam, as_json, ignored):
    if (cpupool or schedparam) and (dom or weight is not None or cap is not None):
        raise PyxlError("Specifying a cpupool or schedparam is not allowed with domain "
                        "options.")
    if not dom and (weight is not None or cap is not None):
        raise PyxlError("Must specify a domain.")
    pool_opts = {"tslice_ms": tslice, "ratelimit_us": ratelimit,
                 "migration_delay_us": migrdelay}
    setting_pool = any(v is not None for v in pool_opts.values())
    if not schedparam and setting_pool:
        raise PyxlError("Must specify schedparam to set schedule parameter values.")
    with session(ctx, write=True) as libxl:
        if schedparam:
            if not setting_pool:
                _pool_only(libxl, cpupool, "credit", _credit_pool_line, as_json)
            else:
                poolid = _pool_or_fail(libxl, cpupool) or 0
                changes = {k: atoi(v) for k, v in pool_opts.items() if v is not None}
                libxl.sched_params_set(poolid, "credit", changes)
        elif not dom:
            _listing(libxl, "credit", cpupool, lambda i: _pool_params(libxl, i, "credit"),
                     _credit_pool_line, WEIGHT_HEADER,
                     lambda d: _weight_fields(libxl, "credit", d), _weight_text, as_json)
        else:
            _domain_weight(libxl, "credit", dom, weight, cap, as_json)
    return 0


def _domain_weight(libxl, sched: str, dom: str, weight, cap, as_json: bool) -> None:
    domid = libxl.domain_qualifier_to_domid(dom)
    if weight is None and cap is None:
        _domain_rows(WEIGHT_HEADER, lambda: _weight_fields(libxl, sched, domid), _weight_text,
                     as_json)
        return
    changes = {}
    if weight is not None:
        changes["weight"] = atoi(weight)
    if cap is not None:
        changes["cap"] = atoi(cap)
    libxl.domain_sched_params_set(domid, sched, changes)


@xl_command("sched-credit2")
@click.option("-d", "--domain", "dom")
@click.option("-w", "--weight")
@click.option("-c", "--cap")
@click.option("-p", "--cpupool")
@click.option("-r", "--ratelimit_us", "ratelimit")
@click.option("-s", "--schedparam", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_sched_credit2(ctx, dom, weight, cap, cpupool, ratelimit, schedparam, as_json,
                      ignored):
    if cpupool and (dom or weight is not None or cap is not None):
        raise PyxlError("Specifying a cpupool is not allowed with other options.")
    if not dom and (weight is not None or cap is not None):
        raise PyxlError("Must specify a domain.")
    with session(ctx, write=True) as libxl:
        if schedparam:
            if ratelimit is None:
                _pool_only(libxl, cpupool, "credit2", _credit2_pool_line, as_json)
            else:
                poolid = _pool_or_fail(libxl, cpupool) or 0
                libxl.sched_params_set(poolid, "credit2", {"ratelimit_us": atoi(ratelimit)})
        elif not dom:
            _listing(libxl, "credit2", cpupool, lambda i: _pool_params(libxl, i, "credit2"),
                     _credit2_pool_line, WEIGHT_HEADER,
                     lambda d: _weight_fields(libxl, "credit2", d), _weight_text, as_json)
        else:
            _domain_weight(libxl, "credit2", dom, weight, cap, as_json)
    return 0


# --- rtds -------------------------------------------------------------------------

RTDS_HEADER = f"{'Name':<33} {'ID':>4} {'Period':>9} {'Budget':>9} {'Extratime':>10}\n"
RTDS_VCPU_HEADER = (f"{'Name':<33} {'ID':>4} {'VCPU':>4} {'Period':>9} {'Budget':>9} "
                    f"{'Extratime':>10}\n")


def _yes(flag) -> str:
    return "yes" if flag else "no"


def _rtds_fields(libxl, domid: int) -> list[dict]:
    p = libxl.domain_sched_params_get(domid, "rtds")
    return [{"name": libxl.domid_to_name(domid) or "", "domid": domid,
             "period_us": p["period"], "budget_us": p["budget"],
             "extratime": bool(p.get("extratime"))}]


def _rtds_text(r: dict) -> str:
    return (f"{r['name']:<33} {r['domid']:>4} {r['period_us']:>9} {r['budget_us']:>9} "
            f"{_yes(r['extratime']):>10}\n")


def _rtds_vcpu_fields(libxl, domid: int, vcpuids: list[int] | None) -> list[dict]:
    name = libxl.domid_to_name(domid) or ""
    return [{"name": name, "domid": domid, "vcpu": v, "period_us": p["period"],
             "budget_us": p["budget"], "extratime": bool(p.get("extratime"))}
            for v, p in libxl.vcpu_sched_params_get(domid, vcpuids)]


def _rtds_vcpu_text(r: dict) -> str:
    return (f"{r['name']:<33} {r['domid']:>4} {r['vcpu']:>4} {r['period_us']:>9} "
            f"{r['budget_us']:>9} {_yes(r['extratime']):>10}\n")


@xl_command("sched-rtds")
@click.option("-d", "--domain", "dom")
@click.option("-p", "--period", "periods", multiple=True)
@click.option("-b", "--budget", "budgets", multiple=True)
@click.option("-e", "--extratime", "extras", multiple=True)
@click.option("-v", "--vcpuid", "vcpus", multiple=True)
@click.option("-c", "broken_c", is_flag=True)  # xl declares -c without its argument
@click.option("--cpupool")
@click.option("--json", "as_json", is_flag=True)
@click.argument("ignored", nargs=-1)
@click.pass_context
def cmd_sched_rtds(ctx, dom, periods, budgets, extras, vcpus, broken_c, cpupool, as_json,
                   ignored):
    for e in extras:
        if e not in ("0", "1"):
            raise PyxlError("Invalid extratime.")
    opt_all = "all" in vcpus
    ids = [atoi(v) for v in vcpus if v != "all"]
    opt_v = bool(ids)
    if cpupool and (dom or periods or budgets or extras or opt_v or opt_all):
        raise PyxlError("Specifying a cpupool is not allowed with other options.")
    if not dom and (periods or budgets or extras or opt_v):
        raise PyxlError("Missing parameters.")
    if dom and not opt_v and not opt_all and (periods or budgets or extras):
        raise PyxlError("Must specify VCPU.")
    if opt_v and opt_all:
        raise PyxlError("Incorrect VCPU IDs.")
    n_v, n_p, n_b, n_e = len(ids), len(periods), len(budgets), len(extras)
    if (n_v > n_b and budgets) or (n_v > n_p and periods) or (n_v > n_e and extras) \
            or n_p != n_b or n_p != n_e:
        raise PyxlError("Incorrect number of period, budget and extratime")
    with session(ctx, write=True) as libxl:
        if not dom:
            fields = (lambda d: _rtds_vcpu_fields(libxl, d, None)) if opt_all else \
                (lambda d: _rtds_fields(libxl, d))
            _listing(libxl, "rtds", cpupool, lambda i: None,
                     lambda n, _p: f"Cpupool {n}: sched=RTDS\n",
                     RTDS_VCPU_HEADER if opt_all else RTDS_HEADER, fields,
                     _rtds_vcpu_text if opt_all else _rtds_text, as_json)
            return 0
        domid = libxl.domain_qualifier_to_domid(dom)
        if not opt_v and not opt_all:
            _domain_rows(RTDS_HEADER, lambda: _rtds_fields(libxl, domid), _rtds_text, as_json)
        elif not periods:
            _domain_rows(RTDS_VCPU_HEADER, lambda: _rtds_vcpu_fields(libxl, domid, ids or None),
                         _rtds_vcpu_text, as_json)
        else:
            def params(i):
                return {"period": atoi(periods[i]), "budget": atoi(budgets[i]),
                        "extratime": int(extras[i])}
            if ids:
                libxl.vcpu_sched_params_set(domid, [(v, params(i)) for i, v in enumerate(ids)])
            else:
                libxl.vcpu_sched_params_set(domid, [(None, params(0))])
    return 0


# --- sedf (xl 4.5, plus xm's syntaxes) -----------------------------------------------

SEDF_HEADER = (f"{'Name':<33} {'ID':>4} {'Period':>6} {'Slice':<6} {'Latency':>7} "
               f"{'Extra':>5} {'Weight':>6}\n")
XM_SEDF_HEADER = (f"{'Name':<33} {'ID':>4} {'Period(ms)':<4} {'Slice(ms)':<4} "
                  f"{'Lat(ms)':<7} {'Extra':<5} {'Weight':<6}\n")


def _sedf_fields(libxl, domid: int) -> list[dict]:
    p = libxl.domain_sched_params_get(domid, "sedf")
    return [{"name": libxl.domid_to_name(domid) or "", "domid": domid,
             "period_ms": p["period"], "slice_ms": p["slice"], "latency_ms": p["latency"],
             "extratime": p["extratime"], "weight": p["weight"]}]


def _sedf_text(r: dict) -> str:
    return (f"{r['name']:<33} {r['domid']:>4} {r['period_ms']:>6} {r['slice_ms']:>6} "
            f"{r['latency_ms']:>7} {r['extratime']:>5} {r['weight']:>6}\n")


def _xm_sedf_text(r: dict) -> str:
    return (f"{r['name']:<32} {r['domid']:>5} {float(r['period_ms']):>9.1f} "
            f"{float(r['slice_ms']):>9.1f} {float(r['latency_ms']):>7.1f} "
            f"{r['extratime']:>6} {r['weight']:>6}\n")


def _ms(text: str, ns: bool) -> int:
    """A value for libxl (whole ms): xm's positional form gives ns, its options float ms."""
    try:
        value = float(text)
    except ValueError:
        raise PyxlError(f"Invalid number '{text}'") from None
    if not math.isfinite(value):
        raise PyxlError(f"Invalid number '{text}'")
    return int(round(value / 1_000_000)) if ns else int(round(value))


@xl_command("sched-sedf")
@click.option("-d", "--domain", "dom")
@click.option("-p", "--period")
@click.option("-s", "--slice", "slice_")
@click.option("-l", "--latency")
@click.option("-e", "--extra", "--extratime", "extra")
@click.option("-w", "--weight")
@click.option("-c", "--cpupool")
@click.option("--json", "as_json", is_flag=True)
@click.argument("args", nargs=-1)
@click.pass_context
def cmd_sched_sedf(ctx, dom, period, slice_, latency, extra, weight, cpupool, as_json, args):
    opts = {"period": period, "slice": slice_, "latency": latency, "extratime": extra,
            "weight": weight}
    if args and not dom:
        return _xm_sedf(ctx, args, opts, as_json)
    setting = any(v is not None for v in opts.values())
    if cpupool and (dom or setting):
        raise PyxlError("Specifying a cpupool is not allowed with other options.")
    if not dom and setting:
        raise PyxlError("Must specify a domain.")
    if weight is not None and (period is not None or slice_ is not None):
        err("Specifying a weight AND period or slice is not allowed.")
    with session(ctx, write=True) as libxl:
        if not dom:
            _listing(libxl, "sedf", cpupool, lambda i: None, lambda n, _p: f"Cpupool {n}:\n",
                     SEDF_HEADER, lambda d: _sedf_fields(libxl, d), _sedf_text, as_json)
            return 0
        domid = libxl.domain_qualifier_to_domid(dom)
        if not setting:
            _domain_rows(SEDF_HEADER, lambda: _sedf_fields(libxl, domid), _sedf_text, as_json)
            return 0
        changes = {}
        if period is not None:
            changes.update(period=atoi(period), weight=0)
        if slice_ is not None:
            changes.update(slice=atoi(slice_), weight=0)
        if latency is not None:
            changes["latency"] = atoi(latency)
        if extra is not None:
            changes["extratime"] = atoi(extra)
        if weight is not None:
            changes.update(weight=atoi(weight), period=0, slice=0)
        libxl.domain_sched_params_set(domid, "sedf", changes)
    return 0


def _xm_sedf(ctx, args, opts, as_json: bool = False) -> int:
    """xm sched-sedf: `DOM PERIOD SLICE LATENCY EXTRA WEIGHT` (ns) or `DOM [-p MS ...]`."""
    dom, rest = args[0], list(args[1:])
    changes = {}
    if rest:
        if len(rest) != 5:
            raise PyxlError("xm sched-sedf takes <dom> <period> <slice> <latency-hint> "
                            "<extratime> <weight>")
        period, slc, lat, extra, weight = rest
        changes = {"period": _ms(period, True), "slice": _ms(slc, True),
                   "latency": _ms(lat, True), "extratime": atoi(extra),
                   "weight": atoi(weight)}
    else:
        for key, value in opts.items():
            if value is not None:
                changes[key] = _ms(value, False) if key in ("period", "slice", "latency") \
                    else atoi(value)
    with session(ctx, write=True) as libxl:
        domid = libxl.domain_qualifier_to_domid(dom)
        if not changes:
            _domain_rows(XM_SEDF_HEADER, lambda: _sedf_fields(libxl, domid), _xm_sedf_text,
                         as_json)
            return 0
        try:
            libxl.domain_sched_params_set(domid, "sedf", changes)
        except PyxlError:
            raise PyxlError("Failed to set sedf parameters (rv=-22).") from None
    return 0
