"""xm shutdown and xm reboot (xm's shutdown.py over xend's domain.shutdown).

As xend did, the request is written to the guest's control/shutdown and the
command returns; only -w waits, printing `Domain NAME terminated` (or
`rebooted`) as each one goes and `All domains terminated` at the end. The
domains are named by name, as xend named them.
"""

from __future__ import annotations

import sys

from pyxl.cli.xm.common import arg_check, find_domain, session
from pyxl.errors import ERROR_NOPARAVIRT, PyxlError

# shutdown.py's own usage text, which xm printed after the command's help
# when an option was wrong.
SHUTDOWN_USE = "[options] [DOM]\n\nShutdown one or more domains gracefully.\n"
RECREATING_TIMEOUT_NS = 30 * 1_000_000_000  # xend's 30 polls of a second


def xm_shutdown(host, args):
    arg_check(args, "shutdown", 1, 4)
    return _main(host, args, "shutdown", reboot=False)


def xm_reboot(host, args):
    arg_check(args, "reboot", 1, 3)
    return _main(host, args, "reboot", reboot=True)


def _main(host, args, name: str, reboot: bool) -> int:
    flags, params = _options(args, name)
    if reboot:
        flags.add("-R")
    if {"-H", "-R"} <= flags:
        raise PyxlError("Can't specify halt and reboot")
    reboot = "-R" in flags
    with session(host, write=True) as libxl:
        if "-a" in flags:
            domids = libxl.shutdown_targets()
        else:
            if not params:
                raise PyxlError("No domain parameter given")
            if len(params) > 1:
                raise PyxlError("No multiple domain parameters allowed")
            domids = [find_domain(libxl, params[0])]
        targets = {domid: libxl.domid_to_name(domid) or str(domid) for domid in domids}
        for domid in domids:
            _request(libxl, domid, params[0] if params else str(domid), name, reboot)
    if "-w" in flags:
        _wait(host, targets, reboot)
    return 0


def _options(args: list[str], name: str) -> tuple[set[str], list[str]]:
    """shutdown.py's options, each as its short form."""
    import getopt

    from pyxl.cli.xm.main import XmUsage

    try:
        options, params = getopt.gnu_getopt(args, "haRHw", ["help", "all", "reboot", "halt",
                                                           "wait"])
    except getopt.GetoptError as e:
        raise XmUsage(str(e), name, SHUTDOWN_USE + "\n") from None
    longs = {"--all": "-a", "--reboot": "-R", "--halt": "-H", "--wait": "-w"}
    return {longs.get(k, k) for k, _ in options}, params


def _request(libxl, domid: int, qualifier: str, name: str, reboot: bool) -> None:
    """XendDomainInfo.shutdown: its refusals, then the request to the guest
    (a guest without PV drivers gets the hypervisor's shutdown, here the
    ACPI button, as xend called xc.domain_shutdown for it)."""
    from pyxl.cli.xm.main import XmUsage

    if domid == 0:
        raise XmUsage("Domain 0 cannot be shutdown", name)
    info = libxl.domain_info(domid)
    if info is None or info.shutdown or info.dying:
        raise XmUsage("Domain cannot be shutdown", name)
    rc = libxl.domain_reboot(domid) if reboot else libxl.domain_shutdown(domid)
    if rc == ERROR_NOPARAVIRT:
        rc = libxl.send_trigger(domid, "reset" if reboot else "power", 0)
    if rc:
        raise XmUsage(f"Failed to {'reboot' if reboot else 'shut down'} domain {qualifier}",
                      name)


def _wait(host, targets: dict[int, str], reboot: bool) -> None:
    """wait_shutdown / wait_reboot: one line per domain as it goes, then
    the last; moving a manual clock along as libxl's waits do."""
    from pyxl.toolstack import wait_for

    left = dict(targets)
    gone_since: dict[int, int] = {}
    word = "rebooted" if reboot else "terminated"

    def check(libxl):
        done = []
        for domid, name in left.items():
            if not reboot:
                if libxl.domain_death_event(domid) is not None:
                    done.append((domid, f"Domain {name} {word}"))
                continue
            now = libxl.name_to_domid(name)
            if now is not None and now != domid:
                done.append((domid, f"Domain {name} {word}"))
            elif now is None:
                start = gone_since.setdefault(domid, libxl.clock().now_ns)
                if libxl.clock().now_ns - start > RECREATING_TIMEOUT_NS:
                    done.append((domid, f"Domain {name} destroyed for failing to reboot"))
        return done or None

    while left:
        done = wait_for(lambda: session(host, write=True), list(left), check)
        if done is None:
            raise PyxlError("pyxl: gave up waiting: 600 s of simulated time passed "
                            "(manual clock)")
        for domid, line in done:
            sys.stdout.write(line + "\n")
            del left[domid]
    sys.stdout.write(f"All domains {word}\n")
