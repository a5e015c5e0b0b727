"""pyxm, xm's front end: its formats, its Python-syntax configs and the
scripts of the xm era that parse its output, on the same hosts as pyxl."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

XM_DATA = Path(__file__).parent / "data" / "xm"
XM_HEADER = "Name                                        ID   Mem VCPUs      State   Time(s)"


def _munin_rows(text: str) -> list[list[str]]:
    """What munin's xen plugin did: `xm list | grep -v '^Name .* Time(s)$'`, then awk."""
    return [line.split() for line in text.splitlines()
            if line and not re.match(r"^Name .* Time\(s\)$", line)]


def test_list_header_has_spaces_and_munin_parses_it(pyxm, pyxl, guest_cfg):
    assert pyxl("create", guest_cfg("web", memory=256, vcpus=2)).code == 0
    r = pyxm("list")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == XM_HEADER and "\t" not in r.out
    rows = {f[0]: f for f in _munin_rows(r.out)}
    # awk '{print $2, $3, $4, $5}': ID, Mem, VCPUs, State
    assert rows["web"][1:5] == ["1", "256", "2", rows["web"][4]]
    assert re.fullmatch(r"[r-][b-][p-][s-][c-][d-]", rows["web"][4])
    assert float(rows["Domain-0"][5]) >= 0.0


def test_pandora_column_positions(pyxm, pyxl, guest_cfg):
    """Pandora's agent cuts fixed columns: the name in 0-40, the state right-aligned."""
    pyxl("create", guest_cfg("db", memory=128, vcpus=1))
    line = [l for l in pyxm("list", "db").out.splitlines() if l.startswith("db")][0]
    assert line[:40].rstrip() == "db"
    assert line[41:46].strip() == "1" and line[47:52].strip() == "128"
    assert line[59:69].strip() == "------" or line[59:69].strip()[0] in "r-"


def test_list_long_is_sxp_with_devices(pyxm, pyxl, write_cfg):
    cfg = write_cfg('name = "net1"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 128\n'
                    'vif = [ "mac=00:16:3e:00:00:11, bridge=xenbr1" ]\n'
                    'disk = [ "phy:/dev/vg/net1,xvda,w" ]\n')
    assert pyxl("create", cfg).code == 0
    r = pyxm("list", "--long", "net1")
    assert r.code == 0, r.err
    assert r.out.startswith("(domain\n") and "(domid 1)" in r.out
    assert "(name net1)" in r.out and "(vifname vif1.0)" in r.out
    assert "(mac 00:16:3e:00:00:11)" in r.out and "(bridge xenbr1)" in r.out
    assert "(device" in r.out and "(vbd" in r.out
    assert r.out.count("(") == r.out.count(")")
    assert pyxm("list", "-l").out.count("(domain") == 2


def test_created_by_either_is_seen_by_the_other(pyxm, pyxl, guest_cfg):
    assert pyxl("create", guest_cfg("fromxl")).code == 0
    r = pyxm("create", str(XM_DATA / "xmexample2"), "vmid=3")
    assert r.code == 0, r.err
    assert 'Started domain VM3 (id=2)' in r.out
    assert "VM3" in pyxl("list").out and "fromxl" in pyxm("list").out
    assert pyxm("destroy", "fromxl").code == 0
    assert "fromxl" not in pyxl("list").out


@pytest.mark.parametrize("name,args,domain,memory", [
    ("xmexample2", ["vmid=1"], "VM1", "64"),
    ("xmexample3", ["vmid=2"], "VM2", "64"),
    ("xmexample.hvm", [], "ExampleHVMDomain", "128"),
])
def test_xens_own_xm_examples_create_under_pyxm_not_pyxl(pyxm, pyxl, name, args, domain,
                                                          memory):
    path = str(XM_DATA / name)
    r = pyxm("create", path, *args)
    assert r.code == 0, r.err
    row = [f for f in _munin_rows(pyxm("list").out) if f[0] == domain]
    assert row and row[0][2] == memory
    refused = pyxl("create", path, *args)
    assert refused.code != 0 and "config parsing error" in refused.err
    assert "Traceback" not in refused.err + r.err


def test_xmexample2_vif_disk_and_cmdline(pyxm):
    r = pyxm("create", "-n", str(XM_DATA / "xmexample3"), "vmid=4")
    assert r.code == 0, r.err
    assert '"name": "VM4"' in r.out
    assert "phy:hda4" in r.out or '"pdev_path": "hda4"' in r.out
    assert "ip=192.168.4.2:" in r.out and "root=/dev/hda1 ro" in r.out


def test_create_without_its_variable_is_one_line(pyxm):
    r = pyxm("create", str(XM_DATA / "xmexample2"))
    assert r.code == 1
    assert r.err == "Error: vmid - no value: give vmid=VALUE on the command line\n"
    assert pyxm("list").out.count("\n") == 2
    r = pyxm("create", str(XM_DATA / "xmexample2"), "vmid=0")
    assert (r.code, r.err) == (1, "Error: Invalid argument.\n")


@pytest.mark.parametrize("text,construct", [
    ("import subprocess\n", "import subprocess"),
    ("name = open('/etc/passwd').read()\n", "name 'open' is not defined"),
    ("name = __import__('os')\n", "name '__import__' is not defined"),
    ("name = os.uname.__class__\n", "__class__ is not supported"),
    ("for i in [1]:\n    name = 'x'\n", "For"),
    ("name = (lambda: 'x')()\n", "Lambda"),
    ("name = os.system('true')\n", "os.system"),
    ("name = 'x'.join(['a'])\n", "str.join"),
    ("name = '%99999999d' % 1\n", "this format width"),
    ("name = 'a' * 100000000\n", "this repetition"),
])
def test_evaluator_refuses_what_configs_do_not_use(pyxm, write_cfg, text, construct):
    r = pyxm("create", write_cfg(text, "bad.py"))
    assert r.code == 1
    assert r.err.count("\n") == 1 and construct in r.err and r.err.startswith("Error: ")


def test_cpu_cap_and_weight_reach_the_credit_scheduler(pyxm, write_cfg):
    cfg = write_cfg('name = "capped"\nkernel = "/boot/vmlinuz"\nmemory = 128\n'
                    'cpu_cap = 25\ncpu_weight = 512\n', "capped.py")
    assert pyxm("create", cfg).code == 0
    r = pyxm("sched-credit", "-d", "capped")
    assert r.out.splitlines() == [f"{'Name':<33} {'ID':>4} {'Weight':>6} {'Cap':>4}",
                                  f"{'capped':<32} {'1':>5} {512:6d} {25:4d}"]


def test_sched_credit_set_and_errors(pyxm, pyxl, guest_cfg):
    pyxl("create", guest_cfg("s1"))
    assert pyxm("sched-credit", "-d", "s1", "-w", "512", "-c", "100").code == 0
    last = pyxm("sched-credit", "-d", "s1").out.splitlines()[-1]
    assert re.search(r"s1\s+1\s+512\s+100$", last)
    r = pyxm("sched-credit", "-w", "5")
    assert (r.code, r.err) == (1, "Error: No domain given.\n")
    assert r.out.startswith("Usage: xm sched-credit ")
    r = pyxm("sched-sedf")
    assert (r.code, r.err) == (1, "Error: Xen is running with the credit scheduler\n")


def test_sched_sedf_both_forms(pyxm, pyxl, guest_cfg):
    assert pyxl("host", "boot", "--sched", "sedf", "edf").code == 0
    assert pyxl("--host", "edf", "create", guest_cfg("rt")).code == 0
    r = pyxm("--host", "edf", "sched-sedf", "rt", "20000000", "5000000", "0", "0", "0")
    assert r.code == 0, r.err
    lines = pyxm("--host", "edf", "sched-sedf", "rt").out.splitlines()
    assert lines[0].split() == ["Name", "ID", "Period(ms)", "Slice(ms)", "Lat(ms)", "Extra",
                                "Weight"]
    assert lines[1].split()[:4] == ["rt", "1", "20.0", "5.0"]
    assert pyxm("--host", "edf", "sched-sedf", "rt", "-s", "10").code == 0
    assert pyxm("--host", "edf", "sched-sedf", "rt").out.splitlines()[1].split()[3] == "10.0"


def test_vcpu_list_uptime_info(pyxm, pyxl, guest_cfg):
    pyxl("create", guest_cfg("v", vcpus=2))
    lines = pyxm("vcpu-list", "v").out.splitlines()
    assert lines[0].split() == ["Name", "ID", "VCPU", "CPU", "State", "Time(s)", "CPU",
                                "Affinity"]
    assert len(lines) == 3 and lines[1].endswith("any cpu")
    assert pyxm("uptime").out.splitlines()[0] == f"{'Name':<33} {'ID':>4} Uptime "
    info = {k.strip(): v for k, v in (l.split(":", 1) for l in pyxm("info").out.splitlines())}
    assert info["xen_scheduler"] == " credit" and info["xend_config_format"] == " 4"
    assert info["host"] and "max_cpu_id" not in info


def test_mem_vcpu_pause_and_lookup_errors(pyxm, pyxl, guest_cfg):
    pyxl("create", guest_cfg("m", memory=512, vcpus=2))
    assert pyxm("mem-set", "m", "256").code == 0
    assert pyxm("vcpu-set", "m", "1").code == 0
    assert pyxm("pause", "m").code == 0
    row = [f for f in _munin_rows(pyxl("list").out) if f[0] == "m"][0]
    assert row[4][2] == "p"
    assert pyxm("unpause", "m").code == 0
    r = pyxm("pause", "nosuch")
    assert (r.code, r.err) == (3, "Error: Domain 'nosuch' does not exist.\n")
    r = pyxm("pause")
    assert r.code == 1 and r.err == "Error: 'xm pause' requires 1 argument.\n\n"
    assert r.out.startswith("Usage: xm pause <Domain>")


def test_help_aliases_and_unknown(pyxm):
    r = pyxm()
    assert r.code == 1 and "Common 'xm' commands:" in r.out
    r = pyxm("help")
    assert r.code == 0 and "xm full list of subcommands:" in r.out
    assert pyxm("balloon").err == "Error: 'xm mem-set' requires 2 arguments.\n\n"
    r = pyxm("frobnicate")
    assert (r.code, r.err) == (1, "Error: Subcommand frobnicate not found!\n")


def test_network_and_block_list_columns(pyxm, pyxl, write_cfg):
    cfg = write_cfg('name = "d"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 128\n'
                    'vif = [ "bridge=xenbr0" ]\ndisk = [ "phy:/dev/vg/d,xvda,w" ]\n')
    pyxl("create", cfg)
    net = pyxm("network-list", "d").out.splitlines()
    assert net[0] == "Idx BE     MAC Addr.     handle state evt-ch tx-/rx-ring-ref BE-path"
    assert net[1].split()[0] == "0" and net[1].split()[-1] == "/local/domain/0/backend/vif/1/0"
    blk = pyxm("vbd-list", "d").out.splitlines()
    assert blk[0] == "Vdev  BE handle state evt-ch ring-ref BE-path"
    assert blk[1].split()[0] == "51712"


# --- shutdown/reboot, save/restore, migrate, top: xm's words over the toolstack ---

def _ids(_pyxl, host: str | None = None) -> dict[str, str]:
    """name -> ID, read as munin read `xm list`."""
    from conftest import run_pyxm

    args = ("--host", host, "list") if host else ("list",)
    return {f[0]: f[1] for f in _munin_rows(run_pyxm(*args).out)}


def test_shutdown_wait_says_terminated_as_xm_did(pyxm, pyxl, guest_cfg):
    pyxl("create", guest_cfg("web"))
    r = pyxm("shutdown", "-w", "web")
    assert (r.code, r.out, r.err) == (0, "Domain web terminated\nAll domains terminated\n", "")
    assert "web" not in _ids(pyxl)


def test_shutdown_returns_once_asked_as_xend_did(pyxm, pyxl, guest_cfg):
    pyxl("create", guest_cfg("web"))
    r = pyxm("shutdown", "web")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert "web" in _ids(pyxl)  # the guest has not run since it was asked
    pyxl("clock", "advance", "5s")
    assert "web" not in _ids(pyxl)


def test_shutdown_all_and_reboot_wait(pyxm, pyxl, guest_cfg):
    pyxl("create", guest_cfg("a"))
    pyxl("create", guest_cfg("b"))
    r = pyxm("reboot", "-w", "a")
    assert (r.code, r.out, r.err) == (0, "Domain a rebooted\nAll domains rebooted\n", "")
    assert _ids(pyxl)["a"] not in ("1", "2")  # xl's monitor made it again
    r = pyxm("shutdown", "-a", "-w")
    assert r.code == 0 and r.err == ""
    assert sorted(r.out.splitlines()) == ["All domains terminated", "Domain a terminated",
                                          "Domain b terminated"]
    assert r.out.splitlines()[-1] == "All domains terminated"
    assert list(_ids(pyxl)) == ["Domain-0"]


SHUTDOWN_USAGE = "Usage: xm shutdown <Domain> [-waRH]\n\nShutdown a domain.\n"


@pytest.mark.parametrize("args,code,err,out", [
    ((), 1, "Error: 'xm shutdown' requires between 1 and 4 arguments.\n\n", SHUTDOWN_USAGE),
    (("-w",), 1, "Error: No domain parameter given\n", ""),
    (("web", "db"), 1, "Error: No multiple domain parameters allowed\n", ""),
    (("-H", "-R", "web"), 1, "Error: Can't specify halt and reboot\n", ""),
    (("-x", "web"), 1, "Error: option -x not recognized\n",
     SHUTDOWN_USAGE + "[options] [DOM]\n\nShutdown one or more domains gracefully.\n\n"),
    (("nosuch",), 3, "Error: Domain 'nosuch' does not exist.\n", ""),
    (("0",), 1, "Error: Domain 0 cannot be shutdown\n", SHUTDOWN_USAGE),
])
def test_shutdown_errors_are_xms(pyxm, pyxl, guest_cfg, args, code, err, out):
    pyxl("create", guest_cfg("web"))
    r = pyxm("shutdown", *args)
    assert (r.code, r.err, r.out) == (code, err, out)
    assert _ids(pyxl)["web"] == "1"


def test_reboot_usage_and_halt(pyxm, pyxl, guest_cfg):
    pyxl("create", guest_cfg("web", extra='on_poweroff = "preserve"\n'))
    r = pyxm("reboot", "-H", "web")
    assert (r.code, r.err) == (1, "Error: Can't specify halt and reboot\n")
    r = pyxm("reboot", "a", "b", "c", "d")
    assert (r.code, r.err) == (1, "Error: 'xm reboot' requires between 1 and 3 arguments.\n\n")
    assert r.out.startswith("Usage: xm reboot <Domain> [-wa]\n")
    assert pyxl("shutdown", "-w", "web").code == 0  # kept, shut down
    r = pyxm("shutdown", "web")
    assert (r.code, r.err) == (1, "Error: Domain cannot be shutdown\n")


def test_save_then_restore_round_trip(pyxm, pyxl, guest_cfg, tmp_path):
    pyxl("create", guest_cfg("web", memory=256))
    pyxl("clock", "advance", "2s")
    image = tmp_path / "web.chk"
    r = pyxm("save", "web", str(image))
    assert (r.code, r.out, r.err) == (0, "", "")
    assert image.stat().st_size > 0 and "web" not in _ids(pyxl)
    r = pyxm("restore", "-p", str(image))
    assert (r.code, r.out, r.err) == (0, "", "")
    row = [f for f in _munin_rows(pyxm("list").out) if f[0] == "web"][0]
    assert row[2] == "256" and row[4][2] == "p"
    r = pyxm("restore", str(image))  # the name is taken now
    assert (r.code, r.err) == (1, f"Error: Domain 'web' already exists with ID '{row[1]}'\n")
    assert r.out.startswith("Usage: xm restore <CheckpointFile> [-p]\n")
    pyxm("unpause", "web")
    assert pyxm("save", "-c", "web", str(tmp_path / "ck")).code == 0
    assert _ids(pyxl)["web"] == row[1]  # -c: still running
    assert pyxl("destroy", "web").code == 0
    assert pyxl("restore", str(tmp_path / "ck")).code == 0  # an ordinary xl save file
    assert "web" in _ids(pyxl)


SAVE_USAGE = "Usage: xm save [-c] <Domain> <CheckpointFile>\n"


@pytest.mark.parametrize("args,code,err,usage", [
    (("web",), 1, "Error: 'xm save' requires between 2 and 3 arguments.\n\n", True),
    (("-c", "web"), 1, "Error: Wrong number of parameters\n", True),
    (("web", "/nonexistent/dir/f"), 1,
     "Error: xm save: Unable to create file /nonexistent/dir/f\n", False),
    (("nosuch", "{tmp}/f"), 3, "Error: Domain 'nosuch' does not exist.\n", False),
    (("0", "{tmp}/f"), 1, "Error: Cannot save privileged domain 0\n", True),
    (("-x", "web", "{tmp}/f"), 1, "Error: option -x not recognized\n", True),
])
def test_save_errors_are_xms(pyxm, pyxl, guest_cfg, tmp_path, args, code, err, usage):
    pyxl("create", guest_cfg("web"))
    r = pyxm("save", *(a.format(tmp=tmp_path) for a in args))
    assert (r.code, r.err) == (code, err)
    assert r.out.startswith(SAVE_USAGE) == usage
    assert _ids(pyxl)["web"] == "1" and not (tmp_path / "f").exists()


def test_save_of_a_paused_domain_is_refused(pyxm, pyxl, guest_cfg, tmp_path):
    pyxl("create", "-p", guest_cfg("web"))
    r = pyxm("save", "web", str(tmp_path / "f"))
    assert (r.code, r.err) == (1, "Error: Domain is not running\n")
    assert not (tmp_path / "f").exists() and _ids(pyxl)["web"] == "1"


@pytest.mark.parametrize("content,err", [
    (b"short", "Error: not a valid guest state file: signature read\n"),
    (b"LinuxGuestRecord and more", "Error: not a valid guest state file: found "
     "'LinuxGuestRecord'\n"),
])
def test_restore_errors_are_xms(pyxm, pyxl, tmp_path, content, err):
    bad = tmp_path / "bad"
    bad.write_bytes(content)
    r = pyxm("restore", str(bad))
    assert (r.code, r.err) == (1, err)
    assert r.out.startswith("Usage: xm restore <CheckpointFile> [-p]\n")
    r = pyxm("restore", str(tmp_path / "missing"))
    assert (r.code, r.err, r.out) == (
        1, f"Error: xm restore: Unable to read file {tmp_path / 'missing'}\n", "")
    r = pyxm("restore", str(tmp_path))
    assert (r.code, r.err) == (1, f"Error: can't read guest state file {tmp_path}: "
                                  "Is a directory\n")
    assert list(_ids(pyxl)) == ["Domain-0"]


@pytest.mark.parametrize("live", [True, False])
def test_migrate_to_a_second_local_host(pyxm, pyxl, guest_cfg, live):
    pyxl("create", guest_cfg("web", memory=256))
    pyxl("clock", "advance", "2s")
    pyxl("--host", "h2", "list")  # boots h2
    r = pyxm("migrate", *(["--live"] if live else []), "web", "h2")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert "web" not in _ids(pyxl)
    row = [f for f in _munin_rows(pyxm("--host", "h2", "list").out) if f[0] == "web"][0]
    assert row[2] == "256"
    assert pyxm("--host", "h2", "migrate", "-l", "web", "localhost").code == 0
    assert "web" in _ids(pyxl) and "web" not in _ids(pyxl, "h2")


MIGRATE_USAGE = "Usage: xm migrate <Domain> <Host>\n\nMigrate a domain to another machine.\n"


@pytest.mark.parametrize("args,code,err", [
    (("web",), 1, "Error: Invalid number of arguments\n"),
    (("web", "nohost"), 1, "Error: can't connect: [Errno -2] Name or service not known\n"),
    (("-p", "x", "web", "h2"), 1, "Error: Invalid value: x\n"),
    (("--frob", "web", "h2"), 1, "Error: option --frob not recognized\n"),
    (("nosuch", "h2"), 3, "Error: Domain 'nosuch' does not exist.\n"),
    (("0", "h2"), 1, "Error: Cannot migrate privileged domain 0\n"),
    (("-c", "web", "h2"), 1, "Error: Domain is not a managed domain\n"),
])
def test_migrate_errors_are_xms(pyxm, pyxl, guest_cfg, args, code, err):
    pyxl("create", guest_cfg("web"))
    pyxl("--host", "h2", "list")
    r = pyxm("migrate", *args)
    assert (r.code, r.err) == (code, err)
    assert _ids(pyxl)["web"] == "1" and "web" not in _ids(pyxl, "h2")


def test_migrate_help_is_its_modules(pyxm):
    r = pyxm("migrate", "-h")
    assert r.code == 1 and r.out.startswith(MIGRATE_USAGE + "\nOptions:\n\n")
    assert "-p=portnum, --port=portnum\n                     Use specified port" in r.out
    assert "-l, --live           Use live migration.\n" in r.out
    r = pyxm("migrate", "--frob", "w", "h")
    assert r.out.endswith("\n[options] DOM HOST\n\nMigrate domain DOM to host HOST.\n"
                          "Xend must be running on the local host and on HOST.\n\n")


def test_top_takes_no_arguments_but_xentops_options(pyxm, pyxl, guest_cfg):
    pyxl("create", guest_cfg("web"))
    r = pyxm("top", "web")
    assert (r.code, r.err) == (1, "Error: 'xm top' requires 0 arguments.\n\n")
    assert r.out.startswith("Usage: xm top \n")
    r = pyxm("top", "-b", "-i", "1")
    assert r.code == 0 and "web" in r.out and "NAME" in r.out.splitlines()[0]
    r = pyxm("top", "-q")
    assert (r.code, r.err) == (1, "Error: option -q not recognized\n")
