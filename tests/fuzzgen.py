"""Case generators for the seeded fuzz test (tests/test_fuzz.py).

Every case is a pure function of a `random.Random`, so a seed and an episode
number name the same command lines and config bytes on every run. An episode
is a short script run on a fresh state directory: a few setup commands that
build a host with guests of each type, then fuzz cases that mutate xl.cfg
files and combine each command's options with odd values.

A few option values are left out on purpose because they make a command wait
for something no later command can bring on a manual clock; they are listed
next to the generator that avoids them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

SEED = 0x7E57_F022

CASES_PER_EPISODE = 10

# --- odd values ---------------------------------------------------------------

HUGE = ["2147483647", "2147483648", "4294967295", "4294967296", "9223372036854775807",
        "9223372036854775808", "18446744073709551616", "99999999999999999999999999",
        "1" * 400]
NEGATIVE = ["-1", "-0", "-2", "-2147483648", "-9223372036854775809", "-99999999999"]
ODD_NUMBERS = ["²", "٣", "½", "０", "0x10", "010", "1e3", "1.5", "+1", " 1", "1 ", "nan",
               "inf", "1_000", "0b1", "--1", "1-", "0.0"]
ODD_STRINGS = ["", " ", "-", "--", "=", "all", "a" * 5000, "a/b", "/", "..", "../..",
               "../../etc/passwd", "./x", "ü", "名前", "😀", "%s%n%x", "'", '"', "\\", "*",
               "$(id)", ";", "a=b", "{}", "[]", "Pool-0", "Domain-0", "localhost", "node:",
               "node:99", "node:-1", "0-", "3-1", "0,,1", "^0", "all,^all"]
# Control characters (argv cannot hold NUL) and non-UTF-8 bytes as Python
# hands them to a program: surrogate-escaped.
CONTROL = ["x\x01y", "\x1b[31mred", "tab\there", "new\nline", "\x7f", "\r", "a\x08b"]
NON_UTF8 = ["\udcff", "\udcff\udcfe", "caf\udce9", "\udcc3(", "a\udc80b", "1\udcff"]
UNKNOWN_DOMAINS = ["nosuch", "99", "32751", "32752", "65535", "4294967296", "web ", " web",
                   "WEB", "Domain-1"]
ODD_KINDS = (HUGE, NEGATIVE, ODD_NUMBERS, ODD_STRINGS, CONTROL, NON_UTF8, UNKNOWN_DOMAINS)


def odd(rng: random.Random) -> str:
    return rng.choice(rng.choice(ODD_KINDS))


# --- seed configs -------------------------------------------------------------

BUILTIN_CONFIGS = {
    "fz-pv.cfg": '''# PV with every device kind pyxl parses
name = "fz-pv"
type = "pv"
kernel = "/boot/vmlinuz-fz"
ramdisk = "/boot/initrd-fz"
extra = "console=hvc0 root=/dev/xvda1"
memory = 256
maxmem = 512
vcpus = 2
maxvcpus = 4
cpus = "0-3"
cpus_soft = "all"
disk = [ "phy:/dev/vg0/fz,xvda,w", "file:/srv/fz.iso,xvdb:cdrom,r" ]
vif = [ "mac=00:16:3e:00:00:10,bridge=xenbr0", "" ]
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "coredump-restart"
on_watchdog = "preserve"
cpu_weight = 128
cap = 50
workload = "periodic:2ms/10ms"
''',
    "fz-hvm.cfg": '''name = "fz-hvm"
type = "hvm"
memory = 1024
vcpus = 2
cpus = [ "0", "1-2" ]
disk = [ "format=raw,vdev=hda,access=rw,target=/srv/fz.img", ",hdc:cdrom,r" ]
vif = [ "type=ioemu,model=e1000,bridge=xenbr0,rate=10Mb/s" ]
boot = "dc"
vnc = 1
serial = "pty"
viridian = [ "defaults", "!hcall_ipi" ]
on_crash = "rename-restart"
on_reboot = "destroy"
pool = "Pool-0"
uuid = "5bb5a44a-0bf1-4a0b-8f6c-0123456789ab"
''',
    "fz-pvh.cfg": '''name = "fz-pvh"
type = "pvh"
kernel = "/boot/vmlinuz-fz"
cmdline = "root=/dev/xvda1 ro"
memory = 512
vcpus = 1
maxvcpus = 2
cpus = "all,^1"
disk = [ "vdev=xvda,target=/srv/pvh.img" ]
vif = [ "bridge=xenbr0,ip=10.0.0.2" ]
on_crash = "destroy"
on_soft_reset = "soft-reset"
workload = "bursty"
''',
    "fz-xm.cfg": '''# xm-era syntax: builder, positional disks, a vnuma nest
builder = 'hvm'
name = 'fz-xm'
memory = 512
vcpus = 2
disk = [ 'phy:hda1,hda1,w', 'file:/x.img,ioemu:hdb,w' ]
vif = [ 'type=ioemu, bridge=xenbr0' ]
vnuma = [ [ "pnode=0", "size=256", "vcpus=0", "vdistances=10,20" ],
          [ "pnode=0", "size=256", "vcpus=1", "vdistances=20,10" ] ]
sched_period = 100
on_crash = 'preserve'
''',
}

BUILTIN_POOLS = {
    "fz-pool.cfg": 'name = "fzpool"\nsched = "credit2"\ncpus = [ "1" ]\n',
    "fz-pool-node.cfg": 'name = "fznode"\nsched = "credit"\ncpus = "nodes:0"\n',
}

# Setup guests: each episode creates these from pristine copies, so domain
# commands reach past "invalid domain identifier".
SETUP_GUESTS = ("fz-pv.cfg", "fz-hvm.cfg", "fz-pvh.cfg")
GUEST_NAMES = ("fz-pv", "fz-hvm", "fz-pvh")


def seed_configs(repo: Path, corpus: Path | None) -> tuple[list[bytes], list[bytes]]:
    """(domain configs, cpupool configs) to mutate: the repo's, ours, the corpus's."""
    domains = [text.encode() for text in BUILTIN_CONFIGS.values()]
    pools = [text.encode() for text in BUILTIN_POOLS.values()]
    for path in sorted((repo / "configs").glob("*.cfg")) + \
            sorted((repo / "configs" / "sched").glob("*.cfg")):
        domains.append(path.read_bytes())
    if corpus is not None and corpus.is_dir():
        for path in sorted(corpus.glob("*.cfg")):
            (pools if "cpupool" in path.name else domains).append(path.read_bytes())
    return domains, pools


# --- config mutations -----------------------------------------------------------

ODD_LINES = [
    'vcpus = 0', 'vcpus = 99999999', 'maxvcpus = 0', 'maxvcpus = 9999', 'memory = 0',
    'memory = 99999999999999', 'maxmem = 1', 'memory = "lots"', 'memory = [ 1 ]',
    'name = ""', 'name = "Domain-0"', 'name = "a/b"', 'name = "../x"', 'name = "x\\ny"',
    'name = 42', 'type = "weird"', 'type = ""', 'builder = "hvm"', 'on_crash = "explode"',
    'on_poweroff = ""', 'on_reboot = [ "restart" ]', 'cpus = "0-999"', 'cpus = "^0"',
    'cpus = "node:9"', 'cpus = [ "0-3", 99999 ]', 'cpus = "3-1"', 'cpus_soft = "nodes:x"',
    'disk = "notalist"', 'disk = [ 1, 2 ]', 'disk = [ "" ]', 'disk = [ ",,,,,,," ]',
    'disk = [ "vdev=,target=" ]', 'vif = [ "mac=zz:zz" ]', 'vif = [ "rate=-1Gb/s" ]',
    'vif = [ "bridge=' + "b" * 300 + '" ]', 'pool = "nosuch"', 'pool = ""',
    'uuid = "not-a-uuid"', 'uuid = ""', 'cpu_weight = 0', 'cpu_weight = 70000', 'cap = -1',
    'cap = 99999', 'workload = "periodic:0ms/0ms"', 'workload = "periodic:5ms/1ms"',
    'workload = [ "busy", 7 ]', 'workload = ""', 'vnuma = [ [ "pnode=99" ] ]',
    'vnuma = [ [ ] ]', 'vnuma = [ "size=1" ]', 'pci = [ "zz:zz.z" ]', 'viridian = 1',
    'sched_period = -5', 'rtds_budget = 0', 'max_grant_frames = -1', 'seclabel = "x"',
    'kernel = ""', 'bootloader = "pygrub"', 'extra = "' + "e" * 5000 + '"',
    'x.y.z = 1', '0abc = 1', 'name.. = "x"', 'a-b = 2', '_ = 3', 'ü = 1', 'memory = 0x200',
    'memory = 0777', 'memory = 08', 'memory = -512', 'vcpus = 1.5', 'vcpus = "2"',
    'name = "\\x41\\101\\u0041"', "name = 'single'", 'name = "unterminated', '= 5',
    'memory =', 'memory', '[', ']', '"', '# only a comment', ';', 'a = 1; b = 2',
    'a = [ 1, ]', 'a = [ , ]', 'a = [ 1 2 ]', 'memory += 5', 'memory = 1 # c',
]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _numbers(data: bytes) -> list[re.Match]:
    return list(re.finditer(rb"(?<![\w.])\d+(?![\w.])", data))


def _replace_number(rng, data: bytes, values: list[str]) -> bytes:
    found = _numbers(data)
    if not found:
        return data + b"\nmemory = " + rng.choice(values).encode("utf-8", "surrogateescape")
    m = rng.choice(found)
    return data[:m.start()] + rng.choice(values).encode("utf-8", "surrogateescape") + \
        data[m.end():]


def flip_byte(rng, data: bytes) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    i = rng.randrange(len(data))
    new = data[i] ^ (1 << rng.randrange(8)) if rng.random() < 0.7 else rng.randrange(256)
    return data[:i] + bytes([new]) + data[i + 1:]


def truncate(rng, data: bytes) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def duplicate_line(rng, data: bytes) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return b"\n".join(lines)


def drop_line(rng, data: bytes) -> bytes:
    lines = _lines(data)
    del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def swap_lines(rng, data: bytes) -> bytes:
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def huge_number(rng, data: bytes) -> bytes:
    return _replace_number(rng, data, HUGE)


def negative_number(rng, data: bytes) -> bytes:
    return _replace_number(rng, data, NEGATIVE + ODD_NUMBERS)


def empty_string(rng, data: bytes) -> bytes:
    found = list(re.finditer(rb'"[^"\n]*"|\'[^\'\n]*\'', data))
    if not found:
        return data + b'\nname = ""'
    m = rng.choice(found)
    empty = rng.choice([b'""', b"''", b'" "', b'","', b'"="'])
    return data[:m.start()] + empty + data[m.end():]


def non_utf8(rng, data: bytes) -> bytes:
    junk = rng.choice([b"\xff", b"\xfe\xff", b"\xc3(", b"\xe2\x82", b"\x80\x80", b"\xed\xa0\x80",
                       b"\xf4\x90\x80\x80", b"\x00", b"\r", b"\x1b[2J"])
    i = rng.randrange(len(data) + 1)
    if rng.random() < 0.5:  # inside a quoted value, where it survives the lexer
        found = list(re.finditer(rb'"[^"\n]*"', data))
        if found:
            i = rng.choice(found).start() + 1
    return data[:i] + junk + data[i:]


def deep_nesting(rng, data: bytes) -> bytes:
    depth = rng.choice([2, 10, 64, 200, 1000, 5000, 20000])
    key = rng.choice([b"disk", b"vif", b"vnuma", b"cpus", b"pci", b"oddkey", b"name"])
    inner = rng.choice([b"", b'"x"', b"1", b'"pnode=0"'])
    value = b"[ " * depth + inner + b" ]" * rng.choice([depth, depth - 1, depth + 1, 0])
    return data + b"\n" + key + b" = " + value + b"\n"


def odd_line(rng, data: bytes) -> bytes:
    lines = _lines(data)
    line = rng.choice(ODD_LINES).encode()
    lines.insert(rng.randrange(len(lines) + 1), line)
    return b"\n".join(lines)


def odd_value(rng, data: bytes) -> bytes:
    """Put an odd string where a known key's value was."""
    lines = _lines(data)
    keyed = [i for i, line in enumerate(lines) if re.match(rb"\s*\w+\s*=", line)]
    if not keyed:
        return data
    i = rng.choice(keyed)
    key = lines[i].split(b"=", 1)[0]
    val = odd(rng).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    quoted = rng.random() < 0.7
    text = f'"{val}"' if quoted else val
    lines[i] = key + b"= " + text.encode("utf-8", "surrogateescape")
    return b"\n".join(lines)


def line_endings(rng, data: bytes) -> bytes:
    return rng.choice([data.replace(b"\n", b"\r\n"), data.replace(b"\n", b"\r"),
                       data.rstrip(b"\n"), data + b"\n\n\n", b"\xef\xbb\xbf" + data])


def splice(rng, data: bytes, others: list[bytes]) -> bytes:
    other = _lines(rng.choice(others))
    lines = _lines(data)
    start = rng.randrange(len(other))
    lines[rng.randrange(len(lines) + 1):0] = other[start:start + rng.randint(1, 6)]
    return b"\n".join(lines)


MUTATIONS = (flip_byte, truncate, duplicate_line, drop_line, swap_lines, huge_number,
             negative_number, empty_string, non_utf8, deep_nesting, odd_line, odd_line,
             odd_value, odd_value, line_endings)


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = rng.choice(seeds)
    for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3, 4])):
        if rng.random() < 0.08:
            data = splice(rng, data, seeds)
        else:
            data = rng.choice(MUTATIONS)(rng, data)
    return data


# --- values for command-line slots ------------------------------------------------

PLAUSIBLE = {
    "dom": ["0", "1", "2", "3", "Domain-0", *GUEST_NAMES, "nosuch", "99"],
    "domid": ["0", "1", "2", "3", "99", "32767"],
    "name": ["Domain-0", *GUEST_NAMES, "nosuch"],
    "newname": ["renamed", "fz-pv", "Domain-0", "x" * 64, "a b"],
    "int": ["0", "1", "2", "4", "8", "64", "128", "256", "512", "1000", "65535", "65536"],
    "small": ["0", "1", "2", "3"],
    "mem": ["128", "256", "512m", "1g", "2048k", "1048576b", "0", "1t", "64", "16g", "5x",
            "b", "m", "1.5g", "-5", "99999999t"],
    "vcpu": ["0", "1", "3", "all", "4", "-1", "1-2"],
    "cpus": ["0", "1", "0-3", "all", "-", "^1", "0,2", "node:0", "nodes:0", "7", "512", "3-1",
             "1-", "all,^all", "0-1,^0-1"],
    "button": ["power", "sleep", "reset", "POWER"],
    "trigger": ["nmi", "reset", "init", "power", "sleep", "s3resume", "unknown", "NMI"],
    "letter": ["c", "b", "s", "h", "cc", "", "é"],
    "pool": ["Pool-0", "fzpool", "nosuch", "0", "1", "Pool-1"],
    "cpuspec": ["0", "1", "7", "8", "all", "node:0", "node:1", "node:9", "nodes:0", "-1", "1-3"],
    "duration": ["1s", "250ms", "500us", "10ms", "0s", "2s", "1", "1m", "0"],
    "clockstep": ["1s", "3s", "250ms", "2m", "1h30m", "1.5s", "0", "10", "1000h", "100000000h",
                  "1e9s", "292y"],
    "workload": ["idle", "busy", "bursty", "periodic:2ms/10ms", "periodic:10ms/2ms",
                 "periodic:0ms/1ms", "idle,busy", "busy,,busy", "periodic:", "periodic:1s/1s",
                 "Busy", "spin"],
    "xspath": ["/local/domain/0", "/local/domain/1", "/local/domain/1/name", "/local", "/",
               "/tool", "/libxl", "/vm", "name", "domid", "/local/domain/1/control/shutdown",
               "/local/domain/1/memory/target", "/local/domain/2/cpu/0/availability",
               "/local/domain/1/../0", "//local", "/local/", "/a b", "@introduceDomain",
               "@releaseDomain", "/" + "a" * 3000, "/a" * 600, "/local/domain/1/data/x"],
    "xsvalue": ["1", "", "hello", "poweroff", "reboot", "crash", "x" * 5000, "\\x41\\000",
                "\\", "offline", "online", "524288"],
    "xsproto": [f"/local/domain/{d}/{node}" for d in (0, 1, 2, 3) for node in (
        "control/shutdown", "control/sysrq", "memory/target", "memory/static-max",
        "memory/videoram", "cpu/0/availability", "cpu/1/availability", "cpu/3/availability",
        "name", "domid", "vm", "device/vif/0/state", "device/vbd/51712/state",
        "control/feature-poweroff", "console/ring-ref", "memory", "cpu", "control")]
    + [f"/libxl/{d}/{node}" for d in (1, 2, 3) for node in ("type", "dm-version", "")]
    + ["/local/domain/0/backend/vif/1/0/state", "/local/domain/0/backend", "/vm"],
    "xsjunk": ["poweroff", "reboot", "suspend", "crash", "halt", "s3", "c", "", "abc", "-1",
               "0", "1", "4", "524288", "99999999999999999999", "online", "offline", "pv",
               "hvm", "\\xff\\xfe", "x" * 4096, "4\\x00", " 8", "1e9", "Domain-0"],
    "perm": ["n0", "r1", "w2", "b0", "n1", "x5", "r", "n99999999999", "w-1", "n"],
    "infokey": ["nr_cpus", "xen_version", "free_memory", "total_memory", "bogus"],
    "txverb": ["start", "commit", "abort", "begin"],
    "txid": ["1", "2", "0", "99"],
    "hostname": ["h2", "lab", "localhost", "a.b-c_d", "x" * 64, "x" * 65, "-x", ".x", "a b",
                 "a/b", "..", "."],
    "ctype": ["pv", "serial", "vuart", "PV", ""],
    "escape": ["^]", "^a", "x", "", "^"],
    "sched": ["credit", "credit2", "rtds", "sedf", "arinc653", "null", "Credit"],
    "clockchoice": ["manual", "Manual", "", "wall"],  # never realtime: its commands sleep
    "file": ["/dev/null", "missing.cfg", "/nonexistent/x.cfg", ".", "/", "sub", "sub/",
             "/proc/self/status"],
    "svg": ["out.svg", "sub/out.svg", "sub", "missing-dir/out.svg", "."],
    "kv": ['memory=2048', 'vcpus=4', 'name="kv"', 'name=', '=', 'a==b', 'memory="x"',
           'cpus="0-3"; pool="Pool-0"', 'vcpus=99999999', 'x=[[[', 'disk=["phy:/a,xvda,w"]',
           'on_crash="preserve"', "type='hvm'", 'maxmem=1', 'workload="busy"', 'memory=1;;',
           'name="a";name="b"', 'uuid="00000000-0000-0000-0000-000000000000"'],
    "poolkv": ['name="p2"', 'cpus=["2"]', 'cpus="node:0"', 'sched="credit2"', 'sched="rtds"',
               'cpus=["0-999"]', 'name=""', 'cpus=[]', 'sched="nosuch"', 'name="Pool-0"'],
    "word": ["x", "help", "all", "-"],
}


def value(rng: random.Random, kind: str) -> str:
    """A plausible value of this kind most of the time, an odd one otherwise."""
    if rng.random() < 0.2:
        return odd(rng)
    return rng.choice(PLAUSIBLE[kind])


# --- command shapes ----------------------------------------------------------------

# Positional slots per command; "?" marks an optional one, "*" zero or more.
POSITIONALS = {
    "list": ["dom*"], "destroy": ["dom"], "shutdown": ["dom?"], "reboot": ["dom?"],
    "pause": ["dom"], "unpause": ["dom"], "console": ["dom"], "mem-max": ["dom", "mem"],
    "mem-set": ["dom", "mem"], "button-press": ["dom", "button"], "vcpu-list": ["dom*"],
    "vcpu-pin": ["dom", "vcpu", "cpus", "cpus?"], "vcpu-set": ["dom", "int"], "vm-list": [],
    "info": ["infokey?"], "sched-credit": [], "sched-credit2": [], "sched-rtds": [],
    "domid": ["name"], "domname": ["domid"], "rename": ["dom", "newname"],
    "trigger": ["dom", "trigger", "vcpu?"], "sysrq": ["dom", "letter"], "dmesg": [],
    "top": [], "uptime": ["dom*"], "cpupool-list": ["pool?"], "cpupool-destroy": ["pool"],
    "cpupool-rename": ["pool", "newname"], "cpupool-cpu-add": ["pool", "cpuspec"],
    "cpupool-cpu-remove": ["pool", "cpuspec"], "cpupool-migrate": ["dom", "pool"],
    "cpupool-numa-split": [], "sched-sedf": ["dom?", "int?", "int?", "int?", "small?", "int?"],
    "workload": ["dom", "workload*"], "sched-trace": ["duration"],
    "xenstore-ls": ["xspath?"], "xenstore-read": ["xspath*"],
    "xenstore-write": ["xspath", "xsvalue", "xspath?", "xsvalue?"],
    "xenstore-rm": ["xspath*"], "xenstore-list": ["xspath*"], "xenstore-exists": ["xspath"],
    "xenstore-chmod": ["xspath", "perm*"], "xenstore-watch": ["xspath", "xspath?"],
    "xenstore-transaction": ["txverb", "txid?"],
}

# What an option's value means, by the option's destination name.
OPTION_KINDS = {
    "dom": "dom", "domain": "dom", "cpupool": "pool", "config_file": "file",
    "defconfig": "file", "svg": "svg", "ctype": "ctype", "escape": "escape", "num": "small",
    "vcpus": "vcpu", "sched": "sched", "iterations": "small", "delay": "int",
}

# xenstore-* share one getopt string "hfspturn:Rd:" plus pyxl's -T TXID.
XS_FLAGS = ["-h", "-f", "-s", "-p", "-t", "-u", "-r", "-R", "--flat", "--prefix", "--tidy",
            "--upto", "--recurse", "--raw", "--help", "--bogus", "-x"]
XS_WITH_VALUE = {"-n": "small", "-d": "small", "-T": "txid", "--depth": "small",
                 "--number": "small", "--transaction": "txid"}


@dataclass(frozen=True)
class Option:
    flag: str
    kind: str | None  # None: a flag without a value

    def render(self, rng: random.Random) -> list[str]:
        if self.kind is None:
            return [self.flag]
        val = value(rng, self.kind)
        if self.flag.startswith("--") and rng.random() < 0.3:
            return [f"{self.flag}={val}"]
        if len(self.flag) == 2 and rng.random() < 0.2 and val and not val.startswith("-"):
            return [self.flag + val]  # getopt's attached form, -w512
        return [self.flag, val]


@dataclass
class Shape:
    """Everything the generator knows about one command's command line."""

    words: list[str]  # the command word(s): ["list"], ["host", "boot"]
    options: list[Option]
    positionals: list[str]
    tails: list[list[str]] = field(default_factory=list)  # one is appended: bounded waits


def help_options(text: str) -> set[str]:
    """Option names a command's help text mentions."""
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text)) - {"-", "--"}


def click_options(command) -> list[Option]:
    import click

    found = []
    for p in command.params:
        if not isinstance(p, click.Option):
            continue
        takes = not (p.is_flag or p.count)
        kind = OPTION_KINDS.get(p.name or "", "int") if takes else None
        if takes and isinstance(p.type, click.Choice):
            kind = "sched" if p.name == "sched" else "clockchoice"
        for flag in p.opts + p.secondary_opts:
            found.append(Option(flag, kind))
    return found


def shapes() -> list[Shape]:
    """One shape per command of the table, per host/clock subcommand, and `help`."""
    import importlib

    import click

    from pyxl.cli.cmdtable import CMD_TABLE

    result = []
    for spec in CMD_TABLE:
        module = importlib.import_module(f"pyxl.cli.{spec.module}")
        command = getattr(module, spec.func_name)
        if isinstance(command, click.Group):
            for sub_name, sub in sorted(command.commands.items()):
                opts = click_options(sub)
                pos = [("hostname?" if spec.name == "host" else "clockstep")
                       for p in sub.params if isinstance(p, click.Argument)]
                result.append(Shape([spec.name, sub_name], opts, pos))
            continue
        if spec.name.startswith("xenstore-"):
            opts = [Option(f, None) for f in XS_FLAGS] + \
                [Option(f, k) for f, k in XS_WITH_VALUE.items()]
        else:
            opts = click_options(command)
        known = {o.flag for o in opts}
        text = f"{spec.usage}\n{spec.options or ''}"
        opts += [Option(flag, None) for flag in sorted(help_options(text) - known)]
        result.append(_bounded(Shape([spec.name], opts, POSITIONALS.get(spec.name, []))))
    result.append(Shape(["help"], [], ["word?"]))
    return result


def _bounded(shape: Shape) -> Shape:
    """Leave out what would wait forever on a manual clock.

    create -F monitors until the domain dies, which only a later command can
    bring about; top loops until -i iterations are done, and xentop reads -i 0
    or a negative -i as about 2^32 (so top always ends with a small -i);
    xenstore-watch waits for -n events, of which one always comes (the watch
    firing once when set), so it always ends with -n 0 or -n 1.
    """
    name = shape.words[0]
    if name == "create":
        shape.options = [o for o in shape.options if o.flag != "-F"]
    if name == "top":
        shape.tails = [["-i", n] for n in ("1", "2", " 2", "+1", "2x", "02", "3")]
    if name == "xenstore-watch":
        shape.options = [o for o in shape.options if o.flag not in ("-n", "--number")]
        shape.tails = [["-n", n] for n in ("0", "1", "1", "01", "1x", " 1")]
    return shape


# --- whole cases -----------------------------------------------------------------

GLOBAL_FLAGS = ["-v", "-vv", "-N", "-f", "-t", "-T", "--trace", "-vN", "-x", "--bogus"]


@dataclass
class Case:
    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # written to cwd first
    setup: bool = False  # part of the episode's fixed preamble: must succeed


def global_options(rng: random.Random) -> list[str]:
    if rng.random() < 0.75:
        return []
    argv: list[str] = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        r = rng.random()
        if r < 0.5:
            argv.append(rng.choice(GLOBAL_FLAGS))
        elif r < 0.75:
            host = value(rng, "hostname") if rng.random() < 0.4 else "localhost"
            argv += [f"--host={host}"] if rng.random() < 0.3 else ["--host", host]
        else:
            domid = value(rng, "domid")
            argv += [f"--as-domid={domid}"] if rng.random() < 0.3 else ["--as-domid", domid]
    if rng.random() < 0.05:
        argv.append(rng.choice(["--host", "--as-domid"]))  # missing its value
    return argv


ODD_WORDS = ["", "-", "sh", "sched", "xenstore", "cpupool", "LIST", "list ", "hel", "vcpu",
             "mem", "x" * 300, "\udcff"]


def command_word(rng: random.Random, word: str) -> str:
    """Sometimes a prefix of the command (xl takes an unambiguous one), or no command."""
    r = rng.random()
    if r < 0.1 and len(word) > 3:
        return word[:rng.randint(2, len(word) - 1)]
    if r < 0.13:
        return rng.choice(ODD_WORDS)
    return word


def _positionals(rng: random.Random, slots: list[str]) -> list[str]:
    args = []
    for slot in slots:
        kind, mark = (slot[:-1], slot[-1]) if slot[-1] in "?*" else (slot, "")
        count = {"": 1, "?": rng.randint(0, 1), "*": rng.choice([0, 1, 1, 2, 3])}[mark]
        args += [value(rng, kind) for _ in range(count)]
    r = rng.random()
    if r < 0.1 and args:
        del args[rng.randrange(len(args))]
    elif r < 0.2:
        args.append(odd(rng))
    return args


HELP = ("-h", "--help")


def _options(rng: random.Random, shape: Shape) -> list[list[str]]:
    """A few of the command's options; its help and unknown ones now and then."""
    usable = [o for o in shape.options if o.flag not in HELP]
    chosen = [rng.choice(usable).render(rng)
              for _ in range(rng.choice([0, 0, 1, 1, 2, 3]) if usable else 0)]
    if rng.random() < 0.03:
        chosen.append([rng.choice(HELP)])
    if rng.random() < 0.05:
        chosen.append([rng.choice(["-Q", "--no-such-option", "-", "---"])])
    return chosen


def _interleave(rng: random.Random, opts: list[list[str]], args: list[str]) -> list[str]:
    """GNU getopt permutes: options may come before, between or after operands."""
    out = list(args)
    for opt in opts:
        out[rng.randint(0, len(out)):0] = opt
    if rng.random() < 0.05:
        out.insert(rng.randint(0, len(out)), "--")
    return out


def command_case(rng: random.Random, shape: Shape) -> Case:
    words = list(shape.words)
    words[0] = command_word(rng, words[0])
    body = _interleave(rng, _options(rng, shape), _positionals(rng, shape.positionals))
    tail = rng.choice(shape.tails) if shape.tails else []
    if tail and "--" in body:
        body.remove("--")
    return Case(global_options(rng) + words + body + tail)


def config_case(rng: random.Random, index: int, seeds: list[bytes], pool: bool,
                shape: Shape) -> Case:
    """create / cpupool-create with a mutated config file and odd extras."""
    files = {}
    if rng.random() < 0.85:
        path = f"c{index}.cfg"
        files[path] = mutate(rng, seeds)
    else:
        path = value(rng, "file")
    extras = [value(rng, "poolkv" if pool else "kv") for _ in range(rng.choice([0, 0, 1, 2]))]
    if not pool and rng.random() < 0.5:
        extras.append(f'name="fz{index}"')  # most creates get past "already exists"
    opts = _options(rng, shape)
    r = rng.random()
    args = [path] if r < 0.8 else ["-f", path] if r < 0.88 else \
        [f"--defconfig={path}"] if r < 0.93 else []
    argv = global_options(rng) + [command_word(rng, shape.words[0])] + \
        _interleave(rng, opts, args + extras)
    return Case(argv, files)


# Commands that read what the guests and the toolstack keep in XenStore.
CONSUMERS = [["list"], ["list", "-l"], ["vcpu-list"], ["uptime"], ["top", "-b", "-i", "2"],
             ["clock", "advance", "2s"], ["clock", "advance", "250ms"], ["shutdown", "-a"],
             ["reboot", "fz-pv"], ["mem-set", "fz-pv", "200"], ["mem-max", "fz-hvm", "900"],
             ["vcpu-set", "fz-pv", "3"], ["sysrq", "fz-pvh", "c"], ["console", "fz-pv"],
             ["sched-trace", "100ms"], ["destroy", "fz-hvm"], ["list", "-v"], ["info"],
             ["rename", "fz-pv", "fz-new"], ["cpupool-migrate", "fz-pvh", "Pool-0"]]


def poke_cases(rng: random.Random) -> list[Case]:
    """Change or remove a node the PV protocols or libxl rely on, then use it."""
    path = value(rng, "xsproto")
    who = ["--as-domid", rng.choice(["1", "2", "3"])] if rng.random() < 0.2 else []
    if rng.random() < 0.75:
        poke = Case(who + ["xenstore-write", path, value(rng, "xsjunk")])
    else:
        poke = Case(who + ["xenstore-rm", path])
    return [poke, Case(rng.choice(CONSUMERS))]


def setup_cases(rng: random.Random) -> list[Case]:
    """A fresh host (scheduler and size vary) with a PV, an HVM and a PVH guest,
    and half the time a second cpupool holding CPU 1."""
    sched = rng.choice(["credit", "credit", "credit2", "rtds", "sedf"])
    cpus, nodes = rng.choice([(4, 1), (8, 1), (8, 2), (2, 1)])
    cases = [Case(["host", "boot", "--cpus", str(cpus), "--nodes", str(nodes),
                   "--sched", sched], setup=True)]
    if cpus > 2 and rng.random() < 0.5:  # fz-hvm's vCPU 1 needs CPU 1 or 2 in Pool-0
        pool_sched = rng.choice(["credit", "credit2", "rtds"])
        pool = f'name = "fzpool"\nsched = "{pool_sched}"\ncpus = [ "1" ]\n'.encode()
        cases += [Case(["cpupool-cpu-remove", "Pool-0", "1"], setup=True),
                  Case(["cpupool-create", "fz-pool.cfg"], {"fz-pool.cfg": pool}, setup=True)]
    for name in SETUP_GUESTS:
        cases.append(Case(["create", "-q", name], {name: BUILTIN_CONFIGS[name].encode()},
                          setup=True))
    cases.append(Case(["clock", "advance", "3s"], setup=True))
    return cases


def episode(number: int, shapes_: list[Shape], seeds: tuple[list[bytes], list[bytes]]
            ) -> list[Case]:
    """Episode `number`: the setup, then CASES_PER_EPISODE fuzz cases."""
    rng = random.Random(f"{SEED}:{number}")
    cases = setup_cases(rng)
    by_name = {" ".join(s.words): s for s in shapes_}
    fuzzed: list[Case] = []
    while len(fuzzed) < CASES_PER_EPISODE:
        index = number * CASES_PER_EPISODE + len(fuzzed)
        r = rng.random()
        if r < 0.25:
            fuzzed.append(config_case(rng, index, seeds[0], False, by_name["create"]))
        elif r < 0.3:
            fuzzed.append(config_case(rng, index, seeds[1], True, by_name["cpupool-create"]))
        elif r < 0.36:
            fuzzed.append(Case(["clock", "advance", rng.choice(["1s", "3s", "250ms", "1m"])]))
        elif r < 0.44:
            fuzzed += poke_cases(rng)
        else:
            fuzzed.append(command_case(rng, rng.choice(shapes_)))
    return cases + fuzzed[:CASES_PER_EPISODE]
