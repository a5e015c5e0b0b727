"""The command table, as xl keeps it in tools/xl/xl_cmdtable.c.

Each entry names the module that implements the command (imported only when
the command runs, so start-up stays lean), whether it accepts the global -N
dry-run flag, whether it modifies anything (both show in the help line), and
the help texts that `xl help` and `-h` print byte for byte.

xl's own commands come first, in xl's order; pyxl's extensions follow.
"""

from __future__ import annotations


# A plain class, not a dataclass: every command defines it at start-up, and
# a dataclass costs ~30 times more to define.
class CmdSpec:
    """One xl_cmdtable.c entry, plus the pyxl module that implements it."""

    def __init__(self, name: str, module: str, can_dryrun: bool, modifies: bool,
                 description: str, usage: str, options: str | None = None,
                 extension: bool = False):
        self.name = name
        self.module = module  # pyxl.cli.<module> defines a click command named `cmd_<name>`
        self.can_dryrun = can_dryrun
        self.modifies = modifies
        self.description = description
        self.usage = usage
        self.options = options
        self.extension = extension  # pyxl-only: not in xl

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
    _x("config-update", "cfgupdate", True, True,
       "Update a running domain's saved configuration, used when rebuilding "
       "the domain after reboot.\n"
       "WARNING: xl now has better capability to manage domain configuration, "
       "avoid using this command when possible",
       "<Domain> <ConfigFile> [options] [vars]",
       "-h                      Print this help.\n"
       "-f FILE, --defconfig=FILE\n                     Use the given configuration file.\n"
       "-d                      Enable debug messages.\n"),
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
    _x("shutdown", "lifecycle", False, True,
       "Issue a shutdown signal to a domain",
       "[options] <-a|Domain>",
       "-a, --all               Shutdown all guest domains.\n"
       "-h                      Print this help.\n"
       "-F                      Fallback to ACPI power event for HVM guests with\n"
       "                        no PV drivers.\n"
       "-w, --wait              Wait for guest(s) to shutdown.\n"),
    _x("reboot", "lifecycle", False, True,
       "Issue a reboot signal to a domain",
       "[options] <-a|Domain>",
       "-a, --all               Shutdown all guest domains.\n"
       "-h                      Print this help.\n"
       "-F                      Fallback to ACPI reset event for HVM guests with\n"
       "                        no PV drivers.\n"
       "-w, --wait              Wait for guest(s) to reboot.\n"),
    _x("pci-attach", "pci", False, True,
       "Insert a new pass-through pci device", "<Domain> <PCI_SPEC_STRING>"),
    _x("pci-detach", "pci", False, True,
       "Remove a domain's pass-through pci device", "<Domain> <PCI_SPEC_STRING>"),
    _x("pci-list", "pci", False, False,
       "List pass-through pci devices for a domain", "<Domain>"),
    _x("pci-assignable-add", "pci", False, True,
       "Make a device assignable for pci-passthru", "[options] <BDF>",
       "-n NAME, --name=NAME    Name the assignable device.\n"
       "-h                      Print this help.\n"),
    _x("pci-assignable-remove", "pci", False, True,
       "Remove a device from being assignable", "[options] <BDF>|NAME",
       "-h                      Print this help.\n"
       "-r                      Attempt to re-assign the device to the\n"
       "                        original driver."),
    _x("pci-assignable-list", "pci", False, False,
       "List all the assignable pci devices", "[options]",
       "-h                      Print this help.\n"
       "-n, --show-names        Display assignable device names where\n"
       "                        supplied.\n"),
    _x("pause", "vmcontrol", False, True, "Pause execution of a domain", "<Domain>"),
    _x("unpause", "vmcontrol", False, True, "Unpause a paused domain", "<Domain>"),
    _x("console", "console", False, False,
       "Attach to domain's console",
       "[options] <Domain>\n"
       "-t <type>       console type, pv , serial or vuart\n"
       "-n <number>     console number\n"
       "-e <escape>     escape character"),
    _x("vncviewer", "vnc", False, False,
       "Attach to domain's VNC server.",
       "[options] <Domain>\n"
       "--autopass               Pass VNC password to viewer via stdin and\n"
       "                         -autopass\n"
       "--vncviewer-autopass     (consistency alias for --autopass)"),
    _x("save", "saverestore", False, True,
       "Save a domain state to restore later",
       "[options] <Domain> <CheckpointFile> [<ConfigFile>]",
       "-h  Print this help.\n"
       "-c  Leave domain running after creating the snapshot.\n"
       "-p  Leave domain paused after creating the snapshot.\n"
       "-D  Store the domain id in the configuration."),
    _x("migrate", "migrate", False, True,
       "Migrate a domain to another host",
       "[options] <Domain> <host>",
       "-h              Print this help.\n"
       "-C <config>     Send <config> instead of config file from creation.\n"
       "-s <sshcommand> Use <sshcommand> instead of ssh.  String will be passed\n"
       "                to sh. If empty, run <host> instead of ssh <host> xl\n"
       "                migrate-receive [-d -e]\n"
       "-e              Do not wait in the background (on <host>) for the death\n"
       "                of the domain.\n"
       "--debug         Print huge (!) amount of debug during the migration process.\n"
       "-p              Do not unpause domain after migrating it.\n"
       "-D              Preserve the domain id"),
    _x("restore", "saverestore", False, True,
       "Restore a domain from a saved state",
       "[options] [<ConfigFile>] <CheckpointFile>",
       "-h                       Print this help.\n"
       "-p                       Do not unpause domain after restoring it.\n"
       "-e                       Do not wait in the background for the death of the domain.\n"
       "-d                       Enable debug messages.\n"
       "-V, --vncviewer          Connect to the VNC display after the domain is created.\n"
       "-A, --vncviewer-autopass Pass VNC password to viewer via stdin."),
    _x("migrate-receive", "migrate", False, True,
       "Restore a domain from a saved state", "- for internal use only"),
    _x("suspend", "saverestore", False, True, "Suspend a domain to RAM", "<Domain>"),
    _x("resume", "saverestore", False, True, "Resume a domain from RAM", "<Domain>"),
    _x("dump-core", "misc", False, True, "Core dump a domain", "<Domain> <filename>"),
    _x("cd-insert", "netblk", True, True,
       "Insert a cdrom into a guest's cd drive", "<Domain> <VirtualDevice> <path>"),
    _x("cd-eject", "netblk", True, True,
       "Eject a cdrom from a guest's cd drive", "<Domain> <VirtualDevice>"),
    _x("mem-max", "mem", False, True,
       "Set the maximum amount reservation for a domain",
       "<Domain> <MemMB['b'[bytes]|'k'[KB]|'m'[MB]|'g'[GB]|'t'[TB]]>"),
    _x("mem-set", "mem", False, True,
       "Set the current memory usage for a domain",
       "<Domain> <MemMB['b'[bytes]|'k'[KB]|'m'[MB]|'g'[GB]|'t'[TB]]>"),
    _x("button-press", "misc", False, True,
       "Indicate an ACPI button press to the domain",
       "<Domain> <Button>",
       "<Button> may be 'power' or 'sleep'."),
    _x("vcpu-list", "vcpu", False, False,
       "List the VCPUs for all/some domains", "[Domain, ...]"),
    _x("vcpu-pin", "vcpu", True, True,
       "Set which CPUs a VCPU can use",
       "[option] <Domain> <VCPU|all> <Hard affinity|-|all> <Soft affinity|-|all>",
       "-f, --force        undo an override pinning done by the kernel\n"
       "--ignore-global-affinity-masks Ignore global masks in xl.conf"),
    _x("vcpu-set", "vcpu", False, True,
       "Set the number of active VCPUs allowed for the domain",
       "[option] <Domain> <vCPUs>",
       "-i, --ignore-host  Don't limit the vCPU based on the host CPU count"),
    _x("vm-list", "info", False, False,
       "List guest domains, excluding dom0, stubdoms, etc.", ""),
    _x("info", "info", False, False,
       "Get information about Xen host",
       "-n, --numa         List host NUMA topology information"),
    _x("sharing", "info", False, False, "Get information about page sharing", "[Domain]"),
    _x("sched-credit", "sched", False, True,
       "Get/set credit scheduler parameters",
       "[-d <Domain> [-w[=WEIGHT]|-c[=CAP]]] [-s [-t TSLICE] [-r RATELIMIT]] [-p CPUPOOL]",
       "-d DOMAIN, --domain=DOMAIN        Domain to modify\n"
       "-w WEIGHT, --weight=WEIGHT        Weight (int)\n"
       "-c CAP, --cap=CAP                 Cap (int)\n"
       "-s         --schedparam           Query / modify scheduler parameters\n"
       "-t TSLICE, --tslice_ms=TSLICE     Set the timeslice, in milliseconds\n"
       "-r RLIMIT, --ratelimit_us=RLIMIT  Set the scheduling rate limit, in microseconds\n"
       "-m DLY, --migration_delay_us=DLY  Set the migration delay, in microseconds\n"
       "-p CPUPOOL, --cpupool=CPUPOOL     Restrict output to CPUPOOL"),
    _x("sched-credit2", "sched", False, True,
       "Get/set credit2 scheduler parameters",
       "[-d <Domain> [-w[=WEIGHT]]] [-p CPUPOOL]",
       "-d DOMAIN, --domain=DOMAIN     Domain to modify\n"
       "-w WEIGHT, --weight=WEIGHT     Weight (int)\n"
       "-c CAP,    --cap=CAP           Cap (int)\n"
       "-s         --schedparam        Query / modify scheduler parameters\n"
       "-r RLIMIT, --ratelimit_us=RLIMIT Set the scheduling rate limit, in microseconds\n"
       "-p CPUPOOL, --cpupool=CPUPOOL  Restrict output to CPUPOOL"),
    _x("sched-rtds", "sched", False, True,
       "Get/set rtds scheduler parameters",
       "[-d <Domain> [-v[=VCPUID/all]] [-p[=PERIOD]] [-b[=BUDGET]] [-e[=Extratime]]]",
       "-d DOMAIN, --domain=DOMAIN     Domain to modify\n"
       "-v VCPUID/all, --vcpuid=VCPUID/all    VCPU to modify or output;\n"
       "               Using '-v all' to modify/output all vcpus\n"
       "-p PERIOD, --period=PERIOD     Period (us)\n"
       "-b BUDGET, --budget=BUDGET     Budget (us)\n"
       "-e Extratime, --extratime=Extratime Extratime (1=yes, 0=no)\n"),
    _x("domid", "vmcontrol", False, False,
       "Convert a domain name to domain id", "<DomainName>"),
    _x("domname", "vmcontrol", False, False,
       "Convert a domain id to domain name", "<DomainId>"),
    _x("rename", "vmcontrol", False, True, "Rename a domain", "<Domain> <NewDomainName>"),
    _x("trigger", "misc", False, True,
       "Send a trigger to a domain",
       "<Domain> <nmi|reset|init|power|sleep|s3resume> [<VCPU>]"),
    _x("sysrq", "misc", False, True, "Send a sysrq to a domain", "<Domain> <letter>"),
    _x("debug-keys", "channels", False, True,
       "Send debug keys to Xen", "<Keys>"),
    _x("set-parameters", "params", False, True, "Set hypervisor parameters", "<Params>"),
    _x("dmesg", "info", False, False,
       "Read and/or clear dmesg buffer", "[-c]",
       "  -c                        Clear dmesg buffer as well as printing it"),
    _x("top", "top", False, False, "Monitor a host and the domains in real time", ""),
    _x("network-attach", "netblk", True, True,
       "Create a new virtual network device",
       "<Domain> [type=<type>] [mac=<mac>] [bridge=<bridge>] "
       "[ip=<ip>] [script=<script>] [backend=<BackDomain>] [vifname=<name>] "
       "[rate=<rate>] [model=<model>] [accel=<accel>] [mtu=<mtu>]"),
    _x("network-list", "netblk", False, False,
       "List virtual network interfaces for a domain", "<Domain(s)>"),
    _x("network-detach", "netblk", False, True,
       "Destroy a domain's virtual network device", "<Domain> <DevId|mac>"),
    _x("channel-list", "netblk", False, False,
       "List virtual channel devices for a domain", "<Domain(s)>"),
    _x("block-attach", "netblk", True, True,
       "Create a new virtual block device", "<Domain> <disk-spec-component(s)>..."),
    _x("block-list", "netblk", False, False,
       "List virtual block devices for a domain", "<Domain(s)>"),
    _x("block-detach", "netblk", False, True,
       "Destroy a domain's virtual block device", "[option] <Domain> <DevId>",
       "-f, --force        do not wait for the domain to release the device"),
    _x("vtpm-attach", "vdev", True, True,
       "Create a new virtual TPM device", "<Domain> [uuid=<uuid>] [backend=<BackDomain>]"),
    _x("vtpm-list", "vdev", False, False,
       "List virtual TPM devices for a domain", "<Domain(s)>"),
    _x("vtpm-detach", "vdev", False, True,
       "Destroy a domain's virtual TPM device", "<Domain> <DevId|uuid>"),
    _x("vkb-attach", "vdev", True, True,
       "Create a new virtual keyboard device", "<Domain> <vkb-spec-component(s)>..."),
    _x("vkb-list", "vdev", False, False,
       "List virtual keyboard devices for a domain", "<Domain(s)>"),
    _x("vkb-detach", "vdev", False, True,
       "Destroy a domain's virtual keyboard device", "<Domain> <DevId>"),
    _x("vdispl-attach", "vdev", True, True,
       "Create a new virtual display device",
       "<Domain> [backend=<BackDomain>] [be-alloc=<BackAlloc>] [connectors='<Connectors>']",
       "    BackAlloc  - set to 1 to if backend allocates display buffers\n"
       "    Connectors - list of connector's description in ID:WxH format,\n"
       "                 where: ID - unique connector ID, W - connector width,\n"
       "                 H - connector height: connectors='id0:800x600;id1:1024x768'\n"),
    _x("vdispl-list", "vdev", False, False,
       "List virtual display devices for a domain", "<Domain(s)>"),
    _x("vdispl-detach", "vdev", False, True,
       "Destroy a domain's virtual display device", "<Domain> <DevId>"),
    _x("vsnd-attach", "vdev", True, True,
       "Create a new virtual sound device", "<Domain> <vsnd-spec-component(s)>..."),
    _x("vsnd-list", "vdev", False, False,
       "List virtual sound devices for a domain", "<Domain(s)>"),
    _x("vsnd-detach", "vdev", False, True,
       "Destroy a domain's virtual sound device", "<Domain> <DevId>"),
    _x("uptime", "info", False, False,
       "Print uptime for all/some domains", "[-s] [Domain]"),
    _x("claims", "info", False, False,
       "List outstanding claim information about all domains", "", ""),
    _x("cpupool-create", "cpupool", True, True,
       "Create a new CPU pool",
       "[options] [<ConfigFile>] [Variable=value ...]",
       "-h, --help                   Print this help.\n"
       "-f FILE, --defconfig=FILE    Use the given configuration file.\n"
       "-n, --dryrun                 Dry run - prints the resulting configuration.\n"
       "                              (deprecated in favour of global -N option).\n"
       "\nSee the xlcpupool.cfg(5) manpage for more information."),
    _x("cpupool-list", "cpupool", False, False,
       "List CPU pools on host",
       "[-c|--cpus] [<CPU Pool>]",
       "-c, --cpus                     Output list of CPUs used by a pool"),
    _x("cpupool-destroy", "cpupool", False, True, "Deactivates a CPU pool", "<CPU Pool>"),
    _x("cpupool-rename", "cpupool", False, True,
       "Renames a CPU pool", "<CPU Pool> <new name>"),
    _x("cpupool-cpu-add", "cpupool", False, True,
       "Adds a CPU to a CPU pool", "<CPU Pool> <CPU nr>|node:<node nr>"),
    _x("cpupool-cpu-remove", "cpupool", False, True,
       "Removes a CPU from a CPU pool", "<CPU Pool> <CPU nr>|node:<node nr>"),
    _x("cpupool-migrate", "cpupool", False, True,
       "Moves a domain into a CPU pool", "<Domain> <CPU Pool>"),
    _x("cpupool-numa-split", "cpupool", False, True,
       "Splits up the machine into one CPU pool per NUMA node", ""),
    _x("getenforce", "flask", False, False,
       "Returns the current enforcing mode of the Flask Xen security module", ""),
    _x("setenforce", "flask", False, True,
       "Sets the current enforcing mode of the Flask Xen security module",
       "<1|0|Enforcing|Permissive>"),
    _x("loadpolicy", "flask", False, True,
       "Loads a new policy into the Flask Xen security module", "<policy file>"),
    _x("remus", "remus", False, True,
       "Enable Remus HA for domain", "[options] <Domain> [<host>]",
       "-i MS                   Checkpoint domain memory every MS milliseconds (def. 200ms).\n"
       "-u                      Disable memory checkpoint compression.\n"
       "-s <sshcommand>         Use <sshcommand> instead of ssh.  String will be passed\n"
       "                        to sh. If empty, run <host> instead of \n"
       "                        ssh <host> xl migrate-receive -r [-e]\n"
       "-e                      Do not wait in the background (on <host>) for the death\n"
       "                        of the domain.\n"
       "-N <netbufscript>       Use netbufscript to setup network buffering instead of the\n"
       "                        default script (/etc/xen/scripts/remus-netbuf-setup).\n"
       "-F                      Enable unsafe configurations [-b|-n|-d flags]. Use this option\n"
       "                        with caution as failover may not work as intended.\n"
       "-b                      Replicate memory checkpoints to /dev/null (blackhole).\n"
       "                        Works only in unsafe mode.\n"
       "-n                      Disable network output buffering. Works only in unsafe mode.\n"
       "-d                      Disable disk replication. Works only in unsafe mode.\n"
       "-c                      Enable COLO HA. It is conflict with -i and -b, and memory\n"
       "                        checkpoint must be disabled.\n"
       "-p                      Use COLO userspace proxy."),
    _x("devd", "devd", False, True,
       "Daemon that listens for devices and launches backends", "[options]",
       "-F                      Run in the foreground.\n"
       "-p, --pidfile [FILE]    Write PID to pidfile when daemonizing."),
    _x("psr-hwinfo", "psr", False, True,
       "Show hardware information for Platform Shared Resource", "[options]",
       "-m, --cmt       Show Cache Monitoring Technology (CMT) hardware info\n"
       "-a, --cat       Show Cache Allocation Technology (CAT) hardware info\n"
       "-b, --mba       Show Memory Bandwidth Allocation (MBA) hardware info\n"),
    _x("psr-cmt-attach", "psr", False, True,
       "Attach Cache Monitoring Technology service to a domain", "<Domain>"),
    _x("psr-cmt-detach", "psr", False, True,
       "Detach Cache Monitoring Technology service from a domain", "<Domain>"),
    _x("psr-cmt-show", "psr", False, True,
       "Show Cache Monitoring Technology information", "<PSR-CMT-Type> <Domain>",
       "Available monitor types:\n"
       "\"cache-occupancy\":         Show L3 cache occupancy(KB)\n"
       "\"total-mem-bandwidth\":     Show total memory bandwidth(KB/s)\n"
       "\"local-mem-bandwidth\":     Show local memory bandwidth(KB/s)\n"),
    _x("psr-cat-set", "psr", False, True,
       "Set cache capacity bitmasks(CBM) for a domain", "[options] <Domain> <CBM>",
       "-s <socket>       Specify the socket to process, otherwise all sockets are processed\n"
       "-l <level>        Specify the cache level to process, otherwise L3 cache is processed\n"
       "-c                Set code CBM if CDP is supported\n"
       "-d                Set data CBM if CDP is supported\n"),
    _x("psr-cat-show", "psr", False, True,
       "Show Cache Allocation Technology information", "[options] <Domain>",
       "-l <level>        Specify the cache level to process, otherwise L3 cache is processed\n"),
    _x("psr-mba-set", "psr", False, True,
       "Set throttling value (THRTL) for a domain", "[options] <Domain> <THRTL>",
       "-s <socket>       Specify the socket to process, otherwise all sockets are processed\n"),
    _x("psr-mba-show", "psr", False, True,
       "Show Memory Bandwidth Allocation information", "<Domain>"),
    _x("usbctrl-attach", "usb", False, True,
       "Create a virtual USB controller for a domain",
       "<Domain> [type=pv] [version=<version>] [ports=<number>]"),
    _x("usbctrl-detach", "usb", False, True,
       "Remove the virtual USB controller specified by <DevId> for a domain",
       "<Domain> <DevId>"),
    _x("usbdev-attach", "usb", False, True,
       "Attach a USB device to a domain",
       "<Domain> hostbus=<busnum> hostaddr=<devnum> [controller=<DevId> [port=<port>]]"),
    _x("usbdev-detach", "usb", False, True,
       "Detach a USB device from a domain", "<Domain> <controller> <port>"),
    _x("usb-list", "usb", False, False,
       "List information about all USB controllers and devices for a domain", "<Domain>"),
    _x("qemu-monitor-command", "qemu", False, True,
       "Issue a qemu monitor command to the device model of a domain", "<Domain> <Command>"),
    _x("xenstore-quota-get", "xsquota", False, False,
       "List global or domain specific Xenstore quotas",
       "<Domain>|-g"),
    _x("xenstore-quota-set", "xsquota", False, True,
       "Set global or domain specific Xenstore quotas",
       "<Domain>|-g <quota>=<val>..."),
    # pyxl extensions: the simulated host, its clock, and views into the simulation.
    _ext("host", "host", True,
         "Boot, list, reset or destroy simulated hosts (pyxl)",
         "<boot|list|reset|destroy> [options]"),
    _ext("clock", "host", True,
         "Show or advance the simulated clock (pyxl)",
         "<show|advance DURATION>"),
    _ext("workload", "workload", True,
         "Set what a simulated guest runs on its vCPUs, devices and memory (pyxl)",
         "<Domain> <idle|busy|periodic:Xms/Yms|bursty>[,...] "
         "['net:tx=Npps [size=B] [to=Domain|bridge]'] ['io:[read=Niops] [write=Niops] [size=B]'] "
         "['mem:dirty=RATE/s [wss=SIZE]']"),
    # xl 4.2-4.5 had sched-sedf; Xen removed SEDF in 4.6. pyxl keeps it for
    # lessons, among its own commands: it answers to its whole name only.
    _ext("sched-sedf", "sched", True,
         "Get/set sedf scheduler parameters",
         "[options]",
         "-d DOMAIN, --domain=DOMAIN     Domain to modify\n"
         "-p MS, --period=MS             Relative deadline(ms)\n"
         "-s MS, --slice=MS              Worst-case execution time(ms).\n"
         "                               (slice < period)\n"
         "-l MS, --latency=MS            Scaled period (ms) when domain\n"
         "                               performs heavy I/O\n"
         "-e FLAG, --extra=FLAG          Flag (0 or 1) controls if domain\n"
         "                               can run in extra time\n"
         "-w FLOAT, --weight=FLOAT       CPU Period/slice (do not set with\n"
         "                               --period/--slice)\n"
         "-c CPUPOOL, --cpupool=CPUPOOL  Restrict output to CPUPOOL"),
    _ext("sched-trace", "schedtrace", False,
         "Run the scheduler forward and show its decisions (pyxl)",
         "[options] <Duration>"),
    _ext("evtchn-list", "channels", False,
         "List a domain's event channels (pyxl)", "[--json] <Domain>"),
    _ext("grant-list", "channels", False,
         "List a domain's grant table (pyxl)", "[--json] <Domain>"),
    _ext("xenstore-ls", "xenstore", False,
         "List a XenStore subtree, like xenstore-ls (pyxl)", "[-f] [-p] [path]"),
    _ext("xenstore-read", "xenstore", False,
         "Read XenStore values, like xenstore-read (pyxl)", "[-p] [-R] key..."),
    _ext("xenstore-write", "xenstore", True,
         "Write XenStore values, like xenstore-write (pyxl)", "[-R] key value [key value]..."),
    _ext("xenstore-rm", "xenstore", True,
         "Remove XenStore nodes, like xenstore-rm (pyxl)", "[-t] key..."),
    _ext("xenstore-list", "xenstore", False,
         "List XenStore children, like xenstore-list (pyxl)", "[-p] key..."),
    _ext("xenstore-exists", "xenstore", False,
         "Test whether a XenStore node exists, like xenstore-exists (pyxl)", "key"),
    _ext("xenstore-chmod", "xenstore", True,
         "Set XenStore permissions, like xenstore-chmod (pyxl)", "[-r] [-u] key perm..."),
    _ext("xenstore-watch", "xenstore", False,
         "Watch XenStore paths, like xenstore-watch (pyxl)", "[-d depth] [-n NR] path..."),
    _ext("xenstore-transaction", "xenstore", True,
         "Start, commit or abort a XenStore transaction (pyxl)", "<start|commit|abort> [TXID]"),
    _ext("shared-info", "pages", False,
         "Dump a domain's shared_info page (pyxl)", "[options] <Domain>",
         "--vcpu N                 Show only vCPU N's vcpu_info.\n"
         "--hex                    Dump the page as hex, with the fields alongside.\n"
         "--raw                    Write the page's 4096 bytes to stdout.\n"
         "--json                   Print the fields as JSON, named as in xen.h."),
    _ext("start-info", "pages", False,
         "Dump a PV domain's start_info page (pyxl)", "[options] <Domain>",
         "--hex                    Dump the page as hex, with the fields alongside.\n"
         "--raw                    Write the page's 4096 bytes to stdout.\n"
         "--json                   Print the fields as JSON, named as in xen.h."),
    _ext("hypercall", "hypercall", True,
         "Issue one hypercall as a domain's kernel (pyxl)",
         "<Domain> <op> [<subop>] [name=value ...]",
         "mmu_update ptr=MA val=PTE         MMU_NORMAL_PT_UPDATE (ptr & 7 = 0),\n"
         "                                  MMU_MACHPHYS_UPDATE (ptr & 7 = 1, val = pfn)\n"
         "mmuext_op pin_l1_table..pin_l4_table|unpin_table|new_baseptr mfn=N\n"
         "mmuext_op tlb_flush_local|tlb_flush_all|invlpg_local|invlpg_all [linear_addr=VA]\n"
         "update_va_mapping va=VA val=PTE [flags=none|tlb_flush|invlpg[|all]]\n"
         "memory_op increase_reservation|populate_physmap nr_extents=N [extent_order=N]\n"
         "memory_op decrease_reservation gmfn=MFN [nr_extents=N]\n"
         "memory_op maximum_ram_page | current_reservation [domid=D]\n"
         "grant_table_op setup_table nr_frames=N [dom=D] | query_size [dom=D]\n"
         "grant_table_op map_grant_ref dom=D ref=R [flags=host_map|readonly|...]\n"
         "grant_table_op unmap_grant_ref handle=H\n"
         "grant_table_op copy source_ref=R|source_gmfn=F [source_dom=D] [source_offset=N]\n"
         "                    dest_ref=R|dest_gmfn=F [dest_dom=D] [dest_offset=N] len=N\n"
         "event_channel_op alloc_unbound remote_dom=D [dom=D]\n"
         "event_channel_op bind_interdomain remote_dom=D remote_port=P\n"
         "event_channel_op send|close|unmask port=P | status port=P [dom=D]\n"
         "sched_op yield | block | shutdown reason=poweroff|reboot|suspend|crash|...\n"
         "sched_op poll ports=P[,P...] [timeout=NS]\n"
         "vcpu_op is_up|up|down|get_runstate_info vcpu=N\n"
         "Numbers are decimal or 0x hex; D is a domid or self. Prints Xen's checks\n"
         "in order and the return value; exits 1 when it is an -errno."),
    _ext("shell-init", "shellinit", False,
         "Print shell functions for xl, xm, xentop and xenstore-* (pyxl)",
         "[bash|zsh|fish]"),
    _ext("lab", "lab", True,
         "List the lessons, or boot a fresh host for one (pyxl)",
         "<list|start NAME>"),
)


# xl's command names in an x86 build, in xl_cmdtable.c's order (96: no
# dt-overlay). xl resolves a prefix over these; one that xl would take for a
# command pyxl lacks, or finds ambiguous, is "command not implemented" here
# too, whatever pyxl's own commands are called.
XL_COMMANDS = (
    "create", "config-update", "list", "destroy", "shutdown", "reboot", "pci-attach",
    "pci-detach", "pci-list", "pci-assignable-add", "pci-assignable-remove",
    "pci-assignable-list", "pause", "unpause", "console", "vncviewer", "save", "migrate",
    "restore", "migrate-receive", "suspend", "resume", "dump-core", "cd-insert", "cd-eject",
    "mem-max", "mem-set", "button-press", "vcpu-list", "vcpu-pin", "vcpu-set", "vm-list",
    "info", "sharing", "sched-credit", "sched-credit2", "sched-rtds", "domid", "domname",
    "rename", "trigger", "sysrq", "debug-keys", "set-parameters", "dmesg", "top",
    "network-attach", "network-list", "network-detach", "channel-list", "block-attach",
    "block-list", "block-detach", "vtpm-attach", "vtpm-list", "vtpm-detach", "vkb-attach",
    "vkb-list", "vkb-detach", "vdispl-attach", "vdispl-list", "vdispl-detach", "vsnd-attach",
    "vsnd-list", "vsnd-detach", "uptime", "claims", "cpupool-create", "cpupool-list",
    "cpupool-destroy", "cpupool-rename", "cpupool-cpu-add", "cpupool-cpu-remove",
    "cpupool-migrate", "cpupool-numa-split", "getenforce", "setenforce", "loadpolicy",
    "remus", "devd", "psr-hwinfo", "psr-cmt-attach", "psr-cmt-detach", "psr-cmt-show",
    "psr-cat-set", "psr-cat-show", "psr-mba-set", "psr-mba-show", "usbctrl-attach",
    "usbctrl-detach", "usbdev-attach", "usbdev-detach", "usb-list", "qemu-monitor-command",
    "xenstore-quota-get", "xenstore-quota-set",
)


def cmdtable_lookup(word: str, names) -> str | None:
    """xl's cmdtable_lookup: an exact name (even one that prefixes others),
    else the one name the word is a prefix of."""
    match, count = None, 0
    for name in names:
        if name.startswith(word):
            if name == word:
                return name
            match, count = name, count + 1
    return match if count == 1 else None


def lookup(word: str) -> CmdSpec | None:
    """The command `word` runs: xl's lookup over xl's names; pyxl's own
    commands by their whole name only. None: "command not implemented"."""
    name = cmdtable_lookup(word, XL_COMMANDS)
    for spec in CMD_TABLE:
        if spec.name == (name or word) and (name is not None or spec.extension):
            return spec
    return None
