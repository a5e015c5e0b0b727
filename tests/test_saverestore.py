"""xl save / restore / suspend / resume through the CLI: the save file's
layout, a round trip that keeps everything the simulation knows, and
hostile files refused with one line and nothing changed."""

from __future__ import annotations

import json
import re
import struct

import pytest

MAGIC = b"Xen saved domain, xl format\n \0 \r"
DEVICES = 'vif = ["bridge=xenbr0"]\ndisk = ["/tmp/pyxl-test.img,raw,xvda,w"]\n'


def _up(pyxl, guest_cfg, extra: str = DEVICES) -> None:
    assert pyxl("create", "-q", guest_cfg(extra=extra)).code == 0
    assert pyxl("clock", "advance", "3s").code == 0


def _state(pyxl, domid: int) -> dict:
    """What must survive a save and restore, with the domid taken out."""
    long = json.loads(pyxl("list", "-l").out)
    config = next(e["config"] for e in long if e["domid"] == domid)
    xs = pyxl("xenstore-ls", "-p", f"/local/domain/{domid}").out
    xs = re.sub(rf"/{domid}/", "/D/", xs).replace(f'domid = "{domid}"', 'domid = "D"')
    xs = re.sub(rf"\b([rwnb]){domid}\b", r"\1D", xs)
    row = [line.split() for line in pyxl("list").out.splitlines() if line.startswith("vm1")][0]
    sched = [line.split()[2:] for line in pyxl("sched-credit").out.splitlines()
             if line.startswith("vm1")][0]
    return {"config": config, "xenstore": xs, "mem": row[2], "vcpus": row[3],
            "time": row[5], "sched": sched,
            "vif": pyxl("network-list", "vm1").out.split()[11:16],  # mac .. ring-refs
            "vbd": pyxl("block-list", "vm1").out.split()[10:13]}  # state, evt-ch, ring-ref


def _records(data: bytes, offset: int):
    """(type, body) of each libxl record from `offset` to END, and the libxc
    records inside LIBXC_CONTEXT."""
    libxl, libxc = [], []
    while True:
        rtype, length = struct.unpack_from("<II", data, offset)
        offset += 8
        if rtype == 1:  # LIBXC_CONTEXT: libxc's stream follows at once
            marker, ident, version = struct.unpack_from(">QII", data, offset)
            assert (marker, ident, version) == (0xFFFFFFFFFFFFFFFF, 0x58454E46, 3)
            dtype, shift = struct.unpack_from("<IH", data, offset + 24)
            assert (dtype, shift) == (1, 12)
            offset += 40
            while True:
                xtype, xlen = struct.unpack_from("<II", data, offset)
                libxc.append((xtype, data[offset + 8:offset + 8 + xlen]))
                offset += 8 + (xlen + 7) // 8 * 8
                if xtype == 0:
                    break
        body = data[offset:offset + length]
        libxl.append((rtype, body))
        offset += (length + 7) // 8 * 8
        if rtype == 0:
            return libxl, libxc, offset


def test_save_file_is_xls_format(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    path = tmp_path / "vm1.sav"
    r = pyxl("save", "vm1", str(path))
    data = path.read_bytes()
    magic, order, mandatory, optional, optlen = struct.unpack_from("<32sIIII", data)
    assert (magic, order, mandatory, optional) == (MAGIC, 0x01020304, 0x3, 0)
    (config_len,) = struct.unpack_from("<I", data, 48)
    assert optlen == 4 + config_len and data[52 + config_len - 1] == 0
    config = json.loads(data[52:52 + config_len - 1])
    assert config["c_info"]["name"] == "vm1" and config["b_info"]["target_memkb"] == 524288
    assert r.code == 0 and r.err == (f"Saving to {path} new xl format (info 0x3/0x0/{optlen})\n"
                                     "xc: info: Saving domain 1, type x86 PV\n")
    start = 48 + optlen
    assert struct.unpack_from(">QII", data, start) == (0x4C6962786C466D74, 2, 0)
    libxl, libxc, end = _records(data, start + 16)
    assert end == len(data)
    assert [t for t, _ in libxl] == [1, 2, 3, 0]  # libxc, xenstore data, emulator, END
    assert struct.unpack_from("<I", libxl[2][1])[0] == 0x7079786C  # "pyxl"
    types = [t for t, _ in libxc]
    assert types[:3] == [0x02, 0x10, 0x03] and types[-1] == 0  # PV info, static end, P2M
    assert {0x01, 0x07, 0x08, 0x04} <= set(types)  # pages, shared info, TSC, vCPU
    pfns = kept = 0
    for t, body in libxc:
        if t == 0x01:
            count = struct.unpack_from("<I", body)[0]
            entries = struct.unpack_from(f"<{count}Q", body, 8)
            pfns += count
            kept += sum(1 for e in entries if e >> 60 != 0xE)
    assert pfns == 512 * 256 and kept == 1  # every page, only start_info with data
    assert len(data) < 2 * 1024 * 1024


def test_round_trip_keeps_the_domain(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    pyxl("sched-credit", "-d", "vm1", "-w", "512")
    pyxl("xenstore-write", "/local/domain/1/data/greeting", "hello")
    before = _state(pyxl, 1)
    console = pyxl("console", "vm1").out
    uptime = pyxl("uptime", "vm1").out
    path = str(tmp_path / "vm1.sav")
    assert pyxl("save", "vm1", path).code == 0
    assert "vm1" not in pyxl("list").out
    r = pyxl("restore", path)
    optlen = struct.unpack_from("<I", open(path, "rb").read(), 44)[0]
    assert r.code == 0
    assert r.err.startswith(
        f"Loading new save file {path} (new xl fmt info 0x3/0x0/{optlen})\n"
        " Savefile contains xl domain config in JSON format\n"
        "Parsing config from <saved>\n"
        "xc: info: Found x86 PV domain from Xen 4.23\n"
        "xc: info: Restoring domain\n"
        "xc: info: Restore successful\n"
        "xc: info: XenStore: mfn 0x")
    assert pyxl("list", "vm1").out.split()[-2] == "------"  # built, not yet running
    pyxl("clock", "advance", "1s")
    assert _state(pyxl, 2) == before
    after = pyxl("console", "vm1").out
    assert after.startswith(console.rstrip("\n")) and "Restarting tasks ... done." in after
    # the uptime origin is the saved domain's: 3 s, then the suspend and 1 s more
    assert (uptime.split()[-1], pyxl("uptime", "vm1").out.split()[-1]) == ("0:00:03", "0:00:04")


def test_round_trip_keeps_ballooned_memory_and_workload(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg, extra='workload = "busy"\n')
    pyxl("mem-set", "vm1", "256m")
    pyxl("clock", "advance", "2s")
    path = str(tmp_path / "vm1.sav")
    pyxl("save", "vm1", path)
    pyxl("restore", path)
    pyxl("clock", "advance", "2s")
    row = pyxl("list", "vm1").out.splitlines()[1].split()
    assert row[2] == "256" and row[4] == "r-----"
    assert pyxl("workload", "vm1").out.split()[-1] == "busy"


def test_save_checkpoint_keeps_running(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    r = pyxl("save", "-c", "vm1", str(tmp_path / "c.sav"))
    assert r.code == 0
    row = pyxl("list", "vm1").out.splitlines()[1].split()
    assert row[1] == "1" and row[4] == "-b----"
    assert "Restarting tasks ... done." in pyxl("console", "vm1").out
    # the checkpoint restores beside it once the name is free
    pyxl("rename", "vm1", "vm1-old")
    assert pyxl("restore", str(tmp_path / "c.sav")).code == 0
    assert pyxl("domid", "vm1").out == "2\n"


def test_save_leave_paused(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    assert pyxl("save", "-p", "vm1", str(tmp_path / "p.sav")).code == 0
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "--p---"


def test_save_D_keeps_the_domid(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    pyxl("save", "-D", "vm1", str(tmp_path / "d.sav"))
    pyxl("create", "-q", guest_cfg(name="vm2"))  # takes domid 2
    pyxl("restore", str(tmp_path / "d.sav"))
    assert pyxl("domid", "vm1").out == "1\n"


def test_save_with_config_override(pyxl, guest_cfg, write_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    other = write_cfg('name = "vm1"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 256\n',
                      "other.cfg")
    path = str(tmp_path / "o.sav")
    assert pyxl("save", "vm1", path, other).code == 0
    data = open(path, "rb").read()
    (n,) = struct.unpack_from("<I", data, 48)
    assert json.loads(data[52:52 + n - 1])["b_info"]["max_memkb"] == 256 * 1024


def test_save_errors(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    r = pyxl("save", "vm1")
    assert r.code == 2 and r.err == "'xl save' requires at least 2 arguments.\n\n"
    r = pyxl("save", "vm1", "a", "b", "c")
    assert r.code == 1 and r.out.startswith("Usage: xl [-vtTf] save [options] <Domain>")
    r = pyxl("save", "nosuch", str(tmp_path / "x"))
    assert r.code == 1 and r.err == "nosuch is an invalid domain identifier (rc=-6)\n"
    r = pyxl("save", "vm1", str(tmp_path / "no" / "dir" / "x"))
    assert r.code == 1
    assert r.err == f"Failed to open temp file {tmp_path / 'no' / 'dir' / 'x'} for writing\n"
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "-b----"


def test_restore_with_a_config_file(pyxl, guest_cfg, tmp_path):
    cfg = guest_cfg()
    _up(pyxl, guest_cfg)
    path = str(tmp_path / "vm1.sav")
    pyxl("save", "vm1", path)
    r = pyxl("restore", str(tmp_path / "none.cfg"), path)
    assert r.code == 1 and r.err.splitlines()[-1] == \
        f"Failed to read config file: {tmp_path / 'none.cfg'}: No such file or directory"
    r = pyxl("restore", "-p", cfg, path)
    assert r.code == 0 and f"Parsing config from {cfg}\n" in r.err
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "--p---"


def test_restore_usage(pyxl, tmp_path):
    r = pyxl("restore")
    assert r.code == 2 and r.err == "'xl restore' requires at least 1 argument.\n\n"
    r = pyxl("restore", "a", "b", "c")
    assert r.code == 1 and r.out.startswith("Usage: xl [-vtTf] restore")
    r = pyxl("restore", str(tmp_path / "none.sav"))
    assert r.code == 1 and r.err == "Can't open restore file: No such file or directory\n"


def _rewrite(data: bytes, edit) -> bytes:
    """The save file with its JSON config edited (lengths fixed up)."""
    optlen = struct.unpack_from("<I", data, 44)[0]
    (n,) = struct.unpack_from("<I", data, 48)
    config = json.loads(data[52:52 + n - 1])
    edit(config)
    body = json.dumps(config).encode() + b"\0"
    return (data[:44] + struct.pack("<II", 4 + len(body), len(body)) + body
            + data[48 + optlen:])


def _set_memory(c):
    c["b_info"]["target_memkb"] = c["b_info"]["max_memkb"] = 64 * 1024 * 1024


def _set_script(c):
    c["disks"][0]["script"] = "no-such-script"


HOSTILE = [
    ("magic", lambda d: b"Y" + d[1:],
     "File has wrong magic number - corrupt or for a different tool?"),
    ("byteorder", lambda d: d[:32] + struct.pack(">I", 0x01020304) + d[36:],
     "File has wrong byte order"),
    ("mandatory", lambda d: d[:36] + struct.pack("<I", 0x7) + d[40:],
     "Savefile has mandatory flag(s) 0x4 which are not supported; need newer xl"),
    ("optional_data_len", lambda d: d[:44] + struct.pack("<I", len(d)) + d[48:],
     "libxl: error: libxl_utils.c:494:libxl_read_exactly: file/stream truncated reading "
     "optdata from {path}"),
    ("config_len", lambda d: d[:48] + struct.pack("<I", 1 << 20) + d[52:],
     "Savefile truncated."),
    ("short header", lambda d: d[:20],
     "libxl: error: libxl_utils.c:494:libxl_read_exactly: file/stream truncated reading "
     "header from {path}"),
    ("ident", lambda d: d.replace(b"LibxlFmt", b"LibxlFmX", 1),
     "libxl: error: libxl_stream_read.c:341:stream_header_done: Invalid ident: expected "
     "0x4c6962786c466d74, got 0x4c6962786c466d58"),
    ("truncated stream", lambda d: d[:len(d) // 2], "xc: error: xg_sr_common.c:108:"
     "read_record_header: Failed to read 8200 bytes of data for record (0x00000001, "
     "Page data): end of stream"),
    ("record length", lambda d: d[:-8] + struct.pack("<II", 0, 1 << 31),
     "libxl: error: libxl_stream_read.c:439:record_header_done: Record (0x00000000, End) "
     "length 0x80000000 exceeds max (0x40000000)"),
    ("memory", lambda d: _rewrite(d, _set_memory), "failed to free memory for the domain"),
    ("json", lambda d: d[:52] + b"[" + d[53:],
     "libxl: error: libxl_json.c:1084:libxl__json_parse: yajl error: the saved domain "
     "config is not a JSON object"),
    ("huge optional data", lambda d: d[:44] + struct.pack("<I", 0xFFFFFFFF) + d[48:],
     "libxl: error: libxl_utils.c:494:libxl_read_exactly: file/stream truncated reading "
     "optdata from {path}"),
]


@pytest.mark.parametrize("case,damage,line", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_save_file_is_refused(pyxl, guest_cfg, tmp_path, case, damage, line):
    _up(pyxl, guest_cfg)
    good = str(tmp_path / "good.sav")
    pyxl("save", "vm1", good)
    path = str(tmp_path / "bad.sav")
    with open(path, "wb") as f:
        f.write(damage(open(good, "rb").read()))
    before = (pyxl("list", "-l").out, pyxl("xenstore-ls", "/local/domain").out)
    r = pyxl("restore", path)
    assert r.code == 1
    assert r.err.rstrip("\n").splitlines()[-1] == line.format(path=path)
    assert not [x for x in r.err.splitlines() if x.startswith(("libxl", "xc", "Traceback"))
                and x != line.format(path=path)]
    assert (pyxl("list", "-l").out, pyxl("xenstore-ls", "/local/domain").out) == before


def test_restore_of_a_device_the_host_lacks(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    good = str(tmp_path / "good.sav")
    pyxl("save", "vm1", good)
    path = str(tmp_path / "bad.sav")
    with open(path, "wb") as f:
        f.write(_rewrite(open(good, "rb").read(), _set_script))
    r = pyxl("restore", path)
    assert r.code == 1 and r.err.splitlines()[-1].endswith(
        "hotplug script /etc/xen/scripts/no-such-script not found")
    assert "vm1" not in pyxl("list").out


def test_suspend_and_resume(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    r = pyxl("suspend", "vm1")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "---ss-"
    assert pyxl("xenstore-read", "/local/domain/1/control/shutdown").out == "\n"
    r = pyxl("resume", "vm1")
    assert (r.code, r.out, r.err) == (0, "", "")
    pyxl("clock", "advance", "10ms")
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "-b----"
    console = pyxl("console", "vm1").out
    assert "xen:manage: suspending xenstore..." in console
    assert console.rstrip("\n").endswith("Restarting tasks ... done.")


def test_suspend_resume_of_unknown_or_running_domains(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    r = pyxl("suspend", "nosuch")
    assert r.code == 1 and r.err == "nosuch is an invalid domain identifier (rc=-6)\n"
    r = pyxl("resume", "vm1")  # not suspended: libxl fails, xl exits 0 all the same
    assert r.code == 0 and r.err.splitlines() == [
        "xc: error: Dom 1 not suspended: (shutdown 0, reason 0): Internal error",
        "libxl: error: libxl_dom_suspend.c:596:domain_resume_done: Domain 1:"
        "xc_domain_resume failed: Invalid argument"]
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "-b----"
    assert pyxl("suspend").code == 2 and pyxl("resume").code == 2


def test_guest_that_never_acknowledges_is_resumed(pyxl, guest_cfg, tmp_path):
    assert pyxl("create", "-q", "-p", guest_cfg()).code == 0  # never boots: no xenbus
    r = pyxl("save", "vm1", str(tmp_path / "x.sav"))
    assert r.code == 1
    assert r.err.splitlines()[1:] == [
        "libxl: error: libxl_dom_suspend.c:262:domain_suspend_common_pvcontrol_suspending: "
        "Domain 1:guest didn't acknowledge suspend, cancelling request",
        "Failed to save domain, resuming domain",
        "xc: error: Dom 1 not suspended: (shutdown 0, reason 0): Internal error",
        "libxl: error: libxl_dom_suspend.c:596:domain_resume_done: Domain 1:"
        "xc_domain_resume failed: Invalid argument"]
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "--p---"
    assert pyxl("xenstore-read", "/local/domain/1/control/shutdown").out == "\n"


def test_hvm_guests_round_trip(pyxl, write_cfg, tmp_path):
    hvm = write_cfg('name = "h1"\ntype = "hvm"\nmemory = 256\nvcpus = 1\n', "h1.cfg")
    bare = write_cfg('name = "h2"\ntype = "hvm"\nmemory = 256\nxen_platform_pci = 0\n',
                     "h2.cfg")
    pyxl("create", "-q", hvm)
    pyxl("create", "-q", bare)  # no PV drivers: suspended through XEN_DOMCTL_shutdown
    pyxl("clock", "advance", "6s")
    for name in ("h1", "h2"):
        path = str(tmp_path / f"{name}.sav")
        r = pyxl("save", name, path)
        assert r.code == 0 and r.err.endswith(", type x86 HVM\n")
        assert name not in pyxl("list").out
        r = pyxl("restore", path)
        assert r.code == 0 and "xc: info: Found x86 HVM domain from Xen 4.23\n" in r.err
    pyxl("clock", "advance", "1s")
    rows = {line.split()[0]: line.split() for line in pyxl("list").out.splitlines()[1:]}
    assert rows["h1"][4] == rows["h2"][4] == "-b----"
