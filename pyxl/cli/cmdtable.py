"""The command table, as xl keeps it in tools/xl/xl_cmdtable.c.

Each entry names the module that implements the command (imported only when
the command runs, so start-up stays lean), whether it accepts the global -N
dry-run flag, whether it modifies anything (both show in the help line), and
the help texts that `xl help` and `-h` print byte for byte.

xl's own commands come first, in xl's order; pyxl's extensions follow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CmdSpec:
    name: str
    module: str  # pyxl.cli.<module> defines a click command named `cmd_<name>`
    can_dryrun: bool
    modifies: bool
    description: str
    usage: str
    options: str | None = None
    extension: bool = False  # pyxl-only: not in xl

    @property
    def func_name(self) -> str:
        return "cmd_" + self.name.replace("-", "_")


def _x(name, module, can_dryrun, modifies, description, usage, options=None):
    return CmdSpec(name, module, can_dryrun, modifies, description, usage, options)


def _ext(name, module, modifies, description, usage, options=None):
    return CmdSpec(name, module, False, modifies, description, usage, options, extension=True)


CMD_TABLE: tuple[CmdSpec, ...] = (
    _x("create", "vmcontrol", True, True,
       "Create a domain from config file <filename>",
       "<ConfigFile> [options] [vars]",
       "-c                      Connect to the console after the domain is created.\n"
       "-d                      Enable debug messages.\n"
       "-e                      Do not wait in the background for the death of the domain.\n"
       "-F                      Run in foreground until death of the domain.\n"
       "-f FILE, --defconfig=FILE\n                     Use the given configuration file.\n"
       "-h                      Print this help.\n"
       "-n, --dryrun            Dry run - prints the resulting configuration\n"
       "                         (deprecated in favour of global -N option).\n"
       "-p                      Leave the domain paused after it is created.\n"
       "-q, --quiet             Quiet.\n"
       "-V, --vncviewer         Connect to the VNC display after the domain is created.\n"
       "-A, --vncviewer-autopass\n"
       "                        Pass VNC password to viewer via stdin.\n"
       "--ignore-global-affinity-masks Ignore global masks in xl.conf."),
    _x("list", "info", False, False,
       "List information about all/some domains",
       "[options] [Domain]\n",
       "-l, --long              Output all VM details\n"
       "-v, --verbose           Prints out UUIDs and security context\n"
       "-Z, --context           Prints out security context\n"
       "-c, --cpupool           Prints the cpupool the domain is in\n"
       "-n, --numa              Prints out NUMA node affinity"),
    _x("destroy", "vmcontrol", False, True,
       "Terminate a domain immediately",
       "[options] <Domain>\n",
       "-f                      Permit destroying domain 0, which will only succeed\n"
       "                        when run from disaggregated toolstack domain with a\n"
       "                        hardware domain distinct from domain 0."),
    _x("pause", "vmcontrol", False, True, "Pause execution of a domain", "<Domain>"),
    _x("unpause", "vmcontrol", False, True, "Unpause a paused domain", "<Domain>"),
    _x("console", "console", False, False,
       "Attach to domain's console",
       "[options] <Domain>\n"
       "-t <type>       console type, pv , serial or vuart\n"
       "-n <number>     console number\n"
       "-e <escape>     escape character"),
    _x("vcpu-list", "vcpu", False, False,
       "List the VCPUs for all/some domains", "[Domain, ...]"),
    _x("vm-list", "info", False, False,
       "List guest domains, excluding dom0, stubdoms, etc.", ""),
    _x("info", "info", False, False,
       "Get information about Xen host",
       "-n, --numa         List host NUMA topology information"),
    _x("domid", "vmcontrol", False, False,
       "Convert a domain name to domain id", "<DomainName>"),
    _x("domname", "vmcontrol", False, False,
       "Convert a domain id to domain name", "<DomainId>"),
    _x("rename", "vmcontrol", False, True, "Rename a domain", "<Domain> <NewDomainName>"),
    _x("dmesg", "info", False, False,
       "Read and/or clear dmesg buffer", "[-c]",
       "  -c                        Clear dmesg buffer as well as printing it"),
    _x("uptime", "info", False, False,
       "Print uptime for all/some domains", "[-s] [Domain]"),
    # pyxl extensions: the simulated host and its clock.
    _ext("host", "host", True,
         "Boot, list, reset or destroy simulated hosts (pyxl)",
         "<boot|list|reset|destroy> [options]"),
    _ext("clock", "host", True,
         "Show or advance the simulated clock (pyxl)",
         "<show|advance DURATION>"),
)


def order_key(spec: CmdSpec) -> int:
    return CMD_TABLE.index(spec)


def lookup(word: str) -> CmdSpec | None:
    """xl's cmdtable_lookup: an exact name, else an unambiguous prefix."""
    match = None
    for spec in CMD_TABLE:
        if spec.name == word:
            return spec
        if spec.name.startswith(word):
            if match is not None:
                return None
            match = spec
    return match
