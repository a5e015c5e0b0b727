"""xl migrate / migrate-receive through the CLI: between two hosts of one
state directory, through `-s ""` into another state directory, and the
failures that must leave the sender's domain running."""

from __future__ import annotations

import json
import shlex
import struct
import subprocess
import sys

SENDER_LINES = (
    "migration target: Ready to receive domain.",
    "Loading new save file <incoming migration stream> (new xl fmt info 0x3/0x0/{n})",
    " Savefile contains xl domain config in JSON format",
    "Parsing config from <saved>",
    "Saving to migration stream new xl format (info 0x3/0x0/{n})",
    "xc: info: Saving domain 1, type x86 PV",
    "xc: info: Found x86 PV domain from Xen 4.23",
    "xc: info: Restoring domain",
    "xc: info: Restore successful",
    "migration target: Transfer complete, requesting permission to start domain.",
    "migration sender: Target has acknowledged transfer.",
    "migration sender: Giving target permission to start.",
    "migration target: Got permission, starting domain.",
    "migration target: Domain started successsfully.",
    "migration sender: Target reports successful startup.",
    "Migration successful.",
)


def _up(pyxl, guest_cfg) -> None:
    assert pyxl("create", "-q", guest_cfg(extra='vif = ["bridge=xenbr0"]\n')).code == 0
    assert pyxl("clock", "advance", "3s").code == 0


def _config(out: str, name: str) -> dict:
    return next(e["config"] for e in json.loads(out) if e["config"]["c_info"]["name"] == name)


def _names(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[1:]]


def test_migrate_between_two_local_hosts(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    pyxl("--host", "lab2", "list")  # boots lab2
    before = _config(pyxl("list", "-l").out, "vm1")
    r = pyxl("migrate", "vm1", "lab2")
    assert r.code == 0, r.err
    n = len(json.dumps(before))  # only its presence matters below
    lines = r.err.splitlines()
    for expected in SENDER_LINES:
        if "{n}" in expected:
            assert any(line.startswith(expected.split("{n}")[0]) for line in lines)
        else:
            assert expected in lines
    assert lines[-1] == "Migration successful." and n
    assert _names(pyxl("list").out) == ["Domain-0"]
    assert _names(pyxl("--host", "lab2", "list").out) == ["Domain-0", "vm1"]
    after = _config(pyxl("--host", "lab2", "list", "-l").out, "vm1")
    assert after == before  # same uuid, same config
    pyxl("--host", "lab2", "clock", "advance", "1s")
    row = pyxl("--host", "lab2", "list", "vm1").out.splitlines()[1].split()
    assert row[4] == "-b----" and row[5] == "1.8"
    assert pyxl("--host", "lab2", "network-list", "vm1").out.split()[13] == "4"  # connected


def test_migrate_paused_leaves_it_paused(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    pyxl("--host", "lab2", "list")
    assert pyxl("migrate", "-p", "vm1", "lab2").code == 0
    assert pyxl("--host", "lab2", "list", "vm1").out.splitlines()[1].split()[4] == "--p---"


def test_migrate_through_a_shell_command_into_another_state_dir(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    before = _config(pyxl("list", "-l").out, "vm1")
    other = tmp_path / "other"
    receiver = (f"PYXL_STATE_DIR={shlex.quote(str(other))} PYXL_CLOCK=manual "
                f"exec {shlex.quote(sys.executable)} -m pyxl migrate-receive")
    r = pyxl("migrate", "-s", "", "vm1", receiver)
    assert r.code == 0, r.err
    assert r.err.splitlines()[-1] == "Migration successful."
    assert "vm1" not in pyxl("list").out
    from conftest import spawn

    env = {"PYXL_STATE_DIR": str(other)}
    assert "vm1" in spawn("list", env=env).stdout
    assert _config(spawn("list", "-l", env=env).stdout, "vm1") == before


def test_migrate_sends_the_config_of_C(pyxl, guest_cfg, write_cfg):
    _up(pyxl, guest_cfg)
    pyxl("--host", "lab2", "list")
    other = write_cfg('name = "vm1"\ntype = "pv"\nkernel = "/boot/vmlinuz"\nmemory = 512\n'
                      'vcpus = 2\non_crash = "preserve"\n', "other.cfg")
    assert pyxl("migrate", "-C", other, "vm1", "lab2").code == 0
    assert _config(pyxl("--host", "lab2", "list", "-l").out, "vm1")["on_crash"] == "preserve"


def test_migrate_of_a_domain_without_config(pyxl, guest_cfg):
    r = pyxl("migrate", "0", "lab2")
    assert r.code == 1
    assert r.err == ("No config file stored for running domain and none supplied - cannot "
                     "migrate.\n")


def test_receiver_refusing_leaves_the_source_running(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    pyxl("--host", "lab2", "create", "-q", guest_cfg())  # lab2 has a vm1 already
    lab2_before = pyxl("--host", "lab2", "list", "-l").out
    r = pyxl("migrate", "vm1", "lab2")
    assert r.code == 1
    lines = r.err.splitlines()
    assert any(line.startswith("libxl: error: ") and
               line.endswith('Domain with name "vm1" already exists.') for line in lines)
    for expected in ("migration target: Failure, destroying our copy.",
                     "migration target: Cleanup OK, granting sender permission to resume.",
                     "migration sender: Target reports startup failure (status code 6).",
                     "migration sender: Trying to resume at our end.",
                     "migration sender: Resumed OK."):
        assert expected in lines
    assert lines[-1] == "Migration failed due to problems at target."
    pyxl("clock", "advance", "10ms")  # the thawed guest settles
    row = pyxl("list", "vm1").out.splitlines()[1].split()
    assert row[1] == "1" and row[4] == "-b----"  # its own name, running again
    assert pyxl("--host", "lab2", "list", "-l").out == lab2_before  # no half-built copy


def test_receiver_killed_mid_stream(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    receiver = ("printf 'xl migration receiver ready, send binary domain data.\\n'; "
                "head -c 4096 >/dev/null")
    r = pyxl("migrate", "-s", "", "vm1", receiver)
    assert r.code == 1
    lines = r.err.splitlines()
    # it dies during the pre-copy rounds, before the guest was asked to suspend
    assert lines[-5:] == [
        "xc: error: Failed to write page data to stream (32 = Broken pipe): Internal error",
        "xc: error: Save failed (32 = Broken pipe): Internal error",
        "libxl: error: libxl_stream_write.c:343:libxl__xc_domain_save_done: Domain 1:"
        "saving domain: domain did not respond to suspend request: Broken pipe",
        "migration sender: libxl_domain_suspend failed (rc=-8)",
        "Migration failed, failed to suspend at sender."]
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "-b----"  # never suspended


def test_no_receiver_banner(pyxl, guest_cfg):
    _up(pyxl, guest_cfg)
    talker = "echo 'a program that prints something else than the banner, at length' #"
    r = pyxl("migrate", "-s", talker, "vm1", "lab9")
    assert r.code == 1
    assert r.err.splitlines() == [
        "migration receiver stream contained unexpected data instead of banner",
        f"(command run was: exec {talker} lab9 xl migrate-receive )"]
    assert pyxl("list", "vm1").out.splitlines()[1].split()[4] == "-b----"  # never suspended


def test_migrate_receive_of_a_truncated_stream_keeps_nothing(pyxl, guest_cfg, tmp_path):
    _up(pyxl, guest_cfg)
    path = tmp_path / "vm1.sav"
    pyxl("save", "vm1", str(path))
    data = path.read_bytes()
    r = subprocess.run([sys.executable, "-m", "pyxl", "--host", "lab3", "migrate-receive"],
                       input=data[:len(data) // 2], capture_output=True)
    assert r.returncode == 1
    assert r.stdout == b"xl migration receiver ready, send binary domain data.\n"
    lines = r.stderr.decode().splitlines()
    assert lines[-2].startswith("xc: error: xg_sr_common.c:108:read_record_header: Failed to read")
    assert lines[-1] == "migration target: Domain creation failed (code -3)."
    assert _names(pyxl("--host", "lab3", "list").out) == ["Domain-0"]


def test_migrate_receive_usage(pyxl):
    r = pyxl("migrate-receive", "extra")
    assert r.code == 1 and r.out.startswith("Usage: xl [-vtTf] migrate-receive - for internal")
    assert pyxl("migrate", "vm1").code == 2


def test_wire_messages_are_xls():
    from pyxl.toolstack import migrate as mig

    assert (len(mig.RECEIVER_BANNER), len(mig.RECEIVER_READY), len(mig.PERMISSION_TO_GO),
            len(mig.REPORT)) == (54, 34, 44, 39)
    flags = mig.ReceiverFlags(tty=True, verbose=1, no_monitor=True, debug=True, paused=True)
    assert mig.rune("ssh", "host2", flags) == \
        "exec ssh host2 xl -t -v migrate-receive -e -d -p"
    assert mig.rune("", "my command", flags) == "my command"
    assert struct.calcsize("=I") == 4
