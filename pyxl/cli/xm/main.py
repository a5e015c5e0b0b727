"""pyxm's entry point: xm's command table, aliases, help and exit codes.

As xm's main.py did: `xm` alone prints the common commands and exits 1,
`xm help`/`xm -h` the full list (exit 0), `xm CMD -h` the command's usage
(exit 1); a command name may be any unambiguous prefix; every error is one
`Error: ...` line on stderr and exit 1. Only the chosen command's module is
imported. pyxl's `--host NAME` may come before the subcommand.
"""

from __future__ import annotations

import importlib
import os
import sys

from pyxl.errors import PyxlError

USAGE_HELP = ("Usage: xm <subcommand> [args]\n\n"
              "Control, list, and manipulate Xen guest instances.\n")
USAGE_FOOTER = ("<Domain> can either be the Domain Name or Id.\n"
                "For more help on 'xm' see the xm(1) man page.\n"
                "For more help on 'xm create' see the xmdomain.cfg(5)  man page.\n")

# `xm create` and `xm new` read a config the same way.
CREATE_OPTIONS = (("-c", "--console_autoconnect", "Connect to the console after the domain "
                   "is created"),
                  ("-p", "--paused", "Leave the domain paused after it is created"),
                  ("-n", "--dryrun", "Dry run - prints the resulting configuration"),
                  ("-q", "--quiet", "Quiet"),
                  ("-f FILE", "--defconfig=FILE", "Use the given Python configuration script"))
# migrate.py's options as its help showed them (an imported command: its
# own Opts text, not xm's option table).
MIGRATE_HELP = ("\nOptions:\n\n"
                "-h, --help           Print this help.\n"
                "-l, --live           Use live migration.\n"
                "-p=portnum, --port=portnum\n"
                "                     Use specified port for migration.\n"
                "-n=nodenum, --node=nodenum\n"
                "                     Use specified NUMA node on target.\n"
                "-s, --ssl            Use ssl connection for migration.\n"
                "-c, --change_home_server\n"
                "                     Change home server for managed domains.\n\n")
# name: (module, usage, description, options as (short, long, text), or the
# help text of a command xm imported)
COMMANDS: dict[str, tuple[str, str, str, tuple]] = {
    "create": ("domains", "<ConfigFile> [options] [vars]",
               "Create a domain based on <ConfigFile>.", CREATE_OPTIONS),
    "destroy": ("domains", "<Domain>", "Terminate a domain immediately.", ()),
    "domid": ("domains", "<DomainName>", "Convert a domain name to domain id.", ()),
    "domname": ("domains", "<DomId>", "Convert a domain id to domain name.", ()),
    "help": ("", "", "Display this message.", ()),
    "info": ("domains", "[-c|--config] [-n|--numa]", "Get information about Xen host.",
             (("-c", "--config", "List Xend configuration parameters"),
              ("-n", "--numa", "List host NUMA topology information"))),
    "list": ("domains", "[options] [Domain, ...]", "List information about all/some domains.",
             (("-l", "--long", "Output all VM details in SXP"),
              ("", "--state=<state>", "Select only VMs with the specified state"))),
    "mem-set": ("domains", "<Domain> <Mem>", "Set the current memory usage for a domain.", ()),
    "migrate": ("saverestore", "<Domain> <Host>", "Migrate a domain to another machine.",
                MIGRATE_HELP),
    "pause": ("domains", "<Domain>", "Pause execution of a domain.", ()),
    "reboot": ("shutdown", "<Domain> [-wa]", "Reboot a domain.", ()),
    "restore": ("saverestore", "<CheckpointFile> [-p]", "Restore a domain from a saved state.",
                (("-p", "--paused", "Do not unpause domain after restoring it"),)),
    "save": ("saverestore", "[-c] <Domain> <CheckpointFile>",
             "Save a domain state to restore later.",
             (("-c", "--checkpoint", "Leave domain running after creating snapshot"),)),
    "sched-credit": ("sched", "[-d <Domain> [-w[=WEIGHT]|-c[=CAP]]]",
                     "Get/set credit scheduler parameters.",
                     (("-d DOMAIN", "--domain=DOMAIN", "Domain to modify"),
                      ("-w WEIGHT", "--weight=WEIGHT", "Weight (int)"),
                      ("-c CAP", "--cap=CAP", "Cap (int)"))),
    "sched-sedf": ("sched", "<Domain> [options]", "Get/set EDF parameters.",
                   (("-p [MS]", "--period[=MS]", "Relative deadline(ms)"),
                    ("-s [MS]", "--slice[=MS]", "Worst-case execution time(ms). "
                     "(slice < period)"),
                    ("-l [MS]", "--latency[=MS]", "Scaled period (ms) when domain performs "
                     "heavy I/O"),
                    ("-e [FLAG]", "--extra[=FLAG]", "Flag (0 or 1) controls if domain can "
                     "run in extra time."),
                    ("-w [FLOAT]", "--weight[=FLOAT]", "CPU Period/slice (do not set with "
                     "--period/--slice)"))),
    "shutdown": ("shutdown", "<Domain> [-waRH]", "Shutdown a domain.", ()),
    "top": ("domains", "", "Monitor a host and the domains in real time.", ()),
    "unpause": ("domains", "<Domain>", "Unpause a paused domain.", ()),
    "uptime": ("domains", "[-s] [Domain, ...]", "Print uptime for all/some domains.", ()),
    "vcpu-list": ("domains", "[Domain, ...]", "List the VCPUs for all/some domains.", ()),
    "vcpu-set": ("domains", "<Domain> <vCPUs>",
                 "Set the number of active VCPUs allowed for the domain.", ()),
    "new": ("managed", "<ConfigFile> [options] [vars]",
            "Adds a domain to Xend domain management", CREATE_OPTIONS[2:]),
    "delete": ("managed", "<DomainName>", "Remove a domain from Xend domain management.", ()),
    "start": ("managed", "<DomainName>", "Start a Xend managed domain",
              (("-p", "--paused", "Do not unpause domain after starting it"),
               ("-c", "--console_autoconnect", "Connect to the console after the domain "
                "is created"),
               ("", "--vncviewer", "Connect to display via VNC after the domain is created"),
               ("", "--vncviewer-autopass", "Pass VNC password to viewer via stdin and "
                "-autopass"))),
    "resume": ("managed", "<DomainName>", "Resume a Xend managed domain",
               (("-p", "--paused", "Do not unpause domain after resuming it"),)),
    "suspend": ("managed", "<DomainName>", "Suspend a Xend managed domain", ()),
    "block-list": ("devices", "<Domain> [--long]", "List virtual block devices for a domain.",
                   ()),
    "network-list": ("devices", "<Domain> [--long]",
                     "List virtual network interfaces for a domain.",
                     (("-l", "--long", "List resources as SXP"),)),
}
ALIASES = {"balloon": "mem-set", "set-vcpus": "vcpu-set", "vif-list": "network-list",
           "vbd-list": "block-list"}
COMMON = ("create", "new", "delete", "destroy", "help", "list", "mem-set", "migrate", "pause",
          "reboot", "restore", "resume", "save", "shutdown", "start", "suspend", "top",
          "unpause", "uptime", "vcpu-set")
ORDER = ("create", "new", "delete", "destroy", "domid", "domname", "list", "mem-set", "migrate",
         "pause", "reboot", "restore", "resume", "save", "shutdown", "start", "suspend", "top",
         "unpause", "uptime", "vcpu-list", "vcpu-set", "info",
         "sched-credit", "sched-sedf", "block-list", "network-list")


class XmUsage(PyxlError):
    """Bad arguments: xm's `Error: ...` line, then the command's usage, exit 1."""

    def __init__(self, message: str, command: str, extra: str = ""):
        super().__init__(message, 1)
        self.command = command
        self.extra = extra  # an imported command's own usage text, after the help


def lookup(word: str) -> str | None:
    """xm_lookup_cmd: a name, an alias, or the one command a prefix names."""
    if word in COMMANDS:
        return word
    if word in ALIASES:
        return ALIASES[word]
    found = [name for name in COMMANDS if name.startswith(word)]
    return found[0] if len(found) == 1 else None


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def _listing(names) -> str:
    lines = []
    for name in names:
        _module, _usage, desc, _opts = COMMANDS[name]
        wrapped = _wrap(desc, 50)
        lines.append(f" {name:<20} {wrapped[0]:<50}\n")
        lines.extend(" " * 22 + w + "\n" for w in wrapped[1:])
    return "".join(lines)


def short_help() -> str:
    """`xm` with no subcommand."""
    return (USAGE_HELP + "\nCommon 'xm' commands:\n\n" + _listing(COMMON) + "\n"
            + USAGE_FOOTER + "For a complete list of subcommands run 'xm help'.\n")


def long_help() -> str:
    """`xm help`, `xm -h`."""
    return USAGE_HELP + "\nxm full list of subcommands:\n\n" + _listing(ORDER) + "\n" \
        + USAGE_FOOTER


def command_help(name: str) -> str:
    """`xm help CMD`, `xm CMD -h`: its usage line, description and options."""
    _module, usage, desc, opts = COMMANDS[name]
    text = f"Usage: xm {name} {usage}\n\n{desc}\n"
    if isinstance(opts, str):
        return text + opts
    if opts:
        for short, long, what in opts:
            optdesc = ", ".join(o for o in (short, long) if o)
            wrapped = _wrap(what, 43)
            text += f"  {optdesc:<30} {wrapped[0]:<43}\n"
            text += "".join(" " * 33 + w + "\n" for w in wrapped[1:])
        text += "\n"
    return text


def run(argv: list[str]) -> int:
    host = os.environ.get("PYXL_HOST") or None
    while argv and argv[0].startswith("--host"):
        name, eq, value = argv[0].partition("=")
        if name != "--host" or (not eq and len(argv) < 2):
            break
        host, argv = (value, argv[1:]) if eq else (argv[1], argv[2:])
    if not argv:
        sys.stdout.write(short_help())
        return 1
    if argv[0] in ("-h", "--help"):
        sys.stdout.write(long_help())
        return 0
    word, rest = argv[0], argv[1:]
    name = lookup(word)
    if name is None:
        _err(f"Subcommand {word} not found!")
        sys.stdout.write(short_help())
        return 1
    if name == "help":
        if rest and lookup(rest[0]) not in (None, "help"):
            sys.stdout.write(command_help(lookup(rest[0])))
        else:
            sys.stdout.write(long_help())
        return 0
    if "-h" in rest or "--help" in rest:
        sys.stdout.write(command_help(name))
        return 1
    module = importlib.import_module(f"pyxl.cli.xm.{COMMANDS[name][0]}")
    command = getattr(module, "xm_" + name.replace("-", "_"))
    try:
        return command(host, rest) or 0
    except XmUsage as e:
        _err(e.message)
        sys.stdout.write(command_help(e.command) + e.extra)
        return 1


def _err(message: str) -> None:
    """xm's err(): `Error: ` and the message (a message that already starts
    with it is not doubled)."""
    if not message.startswith("Error: "):
        message = "Error: " + message
    sys.stderr.write(message + "\n")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = run(argv)
    except PyxlError as e:
        if e.message:
            _err(e.message)
        code = getattr(e, "xm_code", 1)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except KeyboardInterrupt:
        sys.stdout.write("Interrupted.\n")
        code = 0
    except Exception as e:  # a bug: one line, never a traceback
        if os.environ.get("PYXM_TRACEBACK"):
            raise
        _err(f"pyxm: internal error: {type(e).__name__}: {e} (this is a bug in pyxl)")
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(code)
