"""xm's domain and host commands: list, info, uptime, vcpu-list, create,
pause/unpause/destroy, memory and vCPUs, and top (shutdown.py has
shutdown and reboot, saverestore.py save, restore and migrate)."""

from __future__ import annotations

import sys

from pyxl.cli.xm.common import (arg_check, find_domain, getopt, read_xm_config, session, xl,
                                xm_state)
from pyxl.errors import PyxlError

LIST_HEADER = f"{'Name':<40} {'ID':>5} {'Mem':>5} {'VCPUs':>5} {'State':>10} {'Time(s)':>9}\n"
STATE_NAMES = {"running": 0, "blocked": 1, "paused": 2, "shutdown": 3, "crashed": 4,
               "dying": 5}


def out(text: str) -> None:
    sys.stdout.write(text)


def list_row(name: str, i) -> str:
    return (f"{name:<40} {i.domid!s:>5} {i.current_memkb // 1024:>5d} {i.vcpu_online:>5d} "
            f"{xm_state(i):>10} {i.cpu_time_ns / 1e9:8.1f}\n")


def _domains(libxl, params: list[str]) -> tuple[list, list]:
    """The running domains `params` name (all without), and the halted
    managed definitions (pyxl/cli/xm/managed.py)."""
    from pyxl.cli.xm.managed import halted

    if not params:
        return libxl.list_domain(), halted(libxl, params)[0]
    dormant, rest = halted(libxl, params)
    return [libxl.domain_info(find_domain(libxl, q)) for q in rest], dormant


def xm_list(host, args):
    from pyxl.cli.xm.main import XmUsage

    options, params = getopt(args, "list", "lv", ["long", "vcpus", "label", "state=", "pool="])
    opts = dict(options)
    long_form = "-l" in opts or "--long" in opts
    state = opts.get("--state", "all")
    if state != "all" and params:
        raise XmUsage("You may specify either a state or a particular VM, but not both", "list")
    if state != "all" and state not in STATE_NAMES:
        raise PyxlError(f"Invalid state '{state}'")
    if "-v" in opts or "--vcpus" in opts:
        sys.stderr.write("xm list -v is deprecated.  Please use xm vcpu-list.\n")
        return xm_vcpu_list(host, params)
    with session(host, write=False) as libxl:
        infos, dormant = _domains(libxl, params)
        if state != "all":
            infos = [i for i in infos if xm_state(i)[STATE_NAMES[state]] != "-"]
            dormant = []
        if long_form:
            from pyxl.cli.xm.managed import managed_sxp
            from pyxl.cli.xm.sxp import domain_sxp, pretty

            out("".join(pretty(domain_sxp(libxl, i)) for i in infos)
                + "".join(pretty(managed_sxp(m)) for m in dormant))
            return 0
        rows = [list_row(libxl.domid_to_name(i.domid) or "", i) for i in infos]
    from pyxl.cli.xm.managed import list_row as halted_row

    out(LIST_HEADER + "".join(rows) + "".join(halted_row(m) for m in dormant))
    return 0


def xm_info(host, args):
    _opts, _params = getopt(args, "info", "cn", ["config", "numa"])
    with session(host, write=False) as libxl:
        items = libxl.info_uname() + libxl.info_physinfo() + libxl.info_xeninfo()
    shown = [(k, str(v).strip()) for k, v in items if k in XM_INFO_KEYS]
    if "xend_config_format" not in dict(shown):
        shown.append(("xend_config_format", "4"))
    out("".join(f"{k:<23}: {v}\n" for k, v in shown))
    return 0


# The keys xend's node.info gave, in its order (xl adds others).
XM_INFO_KEYS = ("host", "release", "version", "machine", "nr_cpus", "nr_nodes",
                "cores_per_socket", "threads_per_core", "cpu_mhz", "hw_caps", "virt_caps",
                "total_memory", "free_memory", "free_cpus", "xen_major", "xen_minor",
                "xen_extra", "xen_caps", "xen_scheduler", "xen_pagesize", "platform_params",
                "xen_changeset", "xen_commandline", "cc_compiler", "cc_compile_by",
                "cc_compile_domain", "cc_compile_date", "xend_config_format")


def _uptime_text(seconds: int, short: bool) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{days} day{'s' if days > 1 else ''}, " if days > 0 else ""
    text += f"{hours:2d}:{minutes:02d}"
    return text if short else text + f":{secs:02d}"


def xm_uptime(host, args):
    import time

    options, params = getopt(args, "uptime", "s", ["short"])
    short = bool(options)
    with session(host, write=False) as libxl:
        clock = libxl.clock()
        ids = [find_domain(libxl, q) for q in params] or [i.domid for i in libxl.list_domain()]
        rows = []
        for domid in ids:
            if domid == 0:
                up = clock.now_ns // 1_000_000_000
            else:
                start = libxl.vm_get_start_time(domid)
                up = 0 if start is None else max(0, int(round(clock.wall - start)))
            rows.append((libxl.domid_to_name(domid) or "", domid, up))
    lines = [] if short else [f"{'Name':<33} {'ID':>4} Uptime \n"]
    stamp = time.strftime(" %H:%M:%S", time.localtime(int(clock.wall)))
    for name, domid, up in rows:
        if short:
            lines.append(f"{stamp} up {_uptime_text(up, True)}, {name} ({domid})\n")
        else:
            lines.append(f"{name:<32} {domid:>5} {_uptime_text(up, False)}\n")
    out("".join(lines))
    return 0


def _ranges(cpus: list[int]) -> str:
    pairs: list[list[int]] = []
    for c in sorted(set(cpus)):
        if pairs and c == pairs[-1][1] + 1:
            pairs[-1][1] = c
        else:
            pairs.append([c, c])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in pairs) or "no cpus"


def xm_vcpu_list(host, args):
    out(f"{'Name':<32} {'ID':>5} {'VCPU':>5} {'CPU':>5} {'State':>5} {'Time(s)':>9} "
        "CPU Affinity\n")
    with session(host, write=False) as libxl:
        nr_cpus = libxl.get_physinfo().max_cpu_id + 1
        ids = [find_domain(libxl, q) for q in args] or [i.domid for i in libxl.list_domain()]
        lines = []
        for domid in ids:
            name = libxl.domid_to_name(domid) or ""
            for v in libxl.list_vcpu(domid) or []:
                if v.online:
                    cpu = str(v.cpu)
                    state = ("r" if v.running else "-") + ("b" if v.blocked else "-") + "-"
                else:
                    cpu, state = "-", "--p"
                cpumap = [c for c in (v.cpumap or range(nr_cpus)) if c < nr_cpus]
                affinity = "any cpu" if len(set(cpumap)) == nr_cpus else _ranges(cpumap)
                lines.append(f"{name:<32} {domid!s:>5} {v.vcpuid:5d} {cpu:>5} {state:>5}  "
                             f"{v.vcpu_time / 1e9:8.1f} {affinity}\n")
    out("".join(lines))
    return 0


def _int_unit(text: str, dest: str = "m") -> int:
    """xm's int_unit: a number with an optional k/m/g suffix, in `dest` units."""
    bases = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    unit = text[-1:].lower()
    if not unit.isalpha():
        return int(text)
    if unit not in bases:
        raise ValueError(text)
    value, base, dst = int(text[:-1]), bases[unit], bases[dest]
    return value // (dst // base) if dst > base else value * (base // dst)


def xm_mem_set(host, args):
    arg_check(args, "mem-set", 2)
    try:
        target_mb = _int_unit(args[1])
    except ValueError:
        from pyxl.cli.xm.main import XmUsage

        raise XmUsage("Invalid argument.", "mem-set") from None
    with session(host, write=True) as libxl:
        domid = find_domain(libxl, args[0])
        rc = libxl.set_memory_target(domid, target_mb * 1024)
    return 0 if not rc else 1


def xm_vcpu_set(host, args):
    from pyxl.cli.xm.main import XmUsage

    arg_check(args, "vcpu-set", 2)
    if not args[1].isdigit():
        raise XmUsage("Invalid argument.", "vcpu-set")
    with session(host, write=True) as libxl:
        domid = find_domain(libxl, args[0])
        rc = libxl.set_vcpuonline(domid, int(args[1]))
    return 0 if not rc else 1


def _simple(host, args, name: str, action) -> int:
    arg_check(args, name, 1)
    with session(host, write=True) as libxl:
        action(libxl, find_domain(libxl, args[0]))
    return 0


def xm_pause(host, args):
    return _simple(host, args, "pause", lambda libxl, d: libxl.domain_pause(d))


def xm_unpause(host, args):
    return _simple(host, args, "unpause", lambda libxl, d: libxl.domain_unpause(d))


def xm_destroy(host, args):
    return _simple(host, args, "destroy", lambda libxl, d: libxl.domain_destroy(d))


def xm_domid(host, args):
    arg_check(args, "domid", 1)
    with session(host, write=False) as libxl:
        domid = libxl.name_to_domid(args[0])
    if domid is None:
        from pyxl.cli.xm.common import NoSuchDomain

        raise NoSuchDomain(args[0])
    out(f"{domid}\n")
    return 0


def xm_domname(host, args):
    arg_check(args, "domname", 1)
    with session(host, write=False) as libxl:
        name = libxl.domid_to_name(find_domain(libxl, args[0]))
    out(f"{name}\n")
    return 0


def xm_top(host, args):
    """`xm top` ran xentop; pyxm runs pyxl's top (xentop's options, read as
    xm reads options: a bad one is xm's error and the usage)."""
    _options, params = getopt(args, "top", "bd:fi:nrvxz",
                              ["batch", "delay=", "full-name", "iterations=", "networks",
                               "repeat-header", "vcpus", "vbds", "dom0-first"])
    if params:
        arg_check(params, "top", 0)
    return xl(host, ["top"] + list(args))


def xm_create(host, args):
    """xm create FILE [name=value ...]: a Python-syntax config, read safely."""
    opts, config_file, xl_text = read_xm_config(args, "create")
    quiet = "-q" in opts or "--quiet" in opts
    with session(host, write=not _has(opts, "-n", "--dryrun")) as libxl:
        loaded = libxl.parse_config(xl_text, config_file)
        for warning in loaded.warnings:
            sys.stderr.write(warning + "\n")
        if _has(opts, "-n", "--dryrun"):
            from pyxl.toolstack import dryrun_json

            out(dryrun_json(loaded.config))
            return 0
        domid = libxl.domain_create_new(loaded.config, paused=_has(opts, "-p", "--paused"))
    if not quiet:
        out(f"Started domain {loaded.config.name} (id={domid})\n")
    if _has(opts, "-c", "--console_autoconnect"):
        return xl(host, ["console", str(domid)])
    return 0


def _has(opts: dict, *names: str) -> bool:
    return any(n in opts for n in names)
