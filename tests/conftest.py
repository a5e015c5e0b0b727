"""Shared fixtures: a fresh state directory and a manual clock for every test,
and two ways to run pyxl: in-process (fast) and as a real subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "configs"

# xl_cmdtable.c's 97 command names in its order (reference/xl-commands.md section 1;
# dt-overlay is Arm's only, so an x86 xl has 96).
XL_COMMAND_NAMES = """create config-update list destroy shutdown reboot pci-attach pci-detach pci-list
pci-assignable-add pci-assignable-remove pci-assignable-list pause unpause console
vncviewer save migrate restore migrate-receive suspend resume dump-core cd-insert cd-eject
mem-max mem-set button-press vcpu-list vcpu-pin vcpu-set vm-list info sharing sched-credit
sched-credit2 sched-rtds domid domname rename trigger sysrq debug-keys
set-parameters dmesg top network-attach network-list network-detach channel-list
block-attach block-list block-detach vtpm-attach vtpm-list vtpm-detach vkb-attach vkb-list
vkb-detach vdispl-attach vdispl-list vdispl-detach vsnd-attach vsnd-list vsnd-detach uptime
claims cpupool-create cpupool-list cpupool-destroy cpupool-rename cpupool-cpu-add
cpupool-cpu-remove cpupool-migrate cpupool-numa-split getenforce setenforce loadpolicy remus
devd psr-hwinfo psr-cmt-attach psr-cmt-detach psr-cmt-show psr-cat-set psr-cat-show
psr-mba-set psr-mba-show usbctrl-attach usbctrl-detach usbdev-attach usbdev-detach usb-list
qemu-monitor-command dt-overlay xenstore-quota-get xenstore-quota-set""".split()

# Warnings xl_parse.c prints for xm-era keys, as several tests expect them.
DEVICE_MODEL = (
    "WARNING: ignoring device_model directive.",
    'WARNING: Use "device_model_override" instead if you really want a non-default '
    "device_model",
)
TSC_MODE_INTEGER = ('WARNING: specifying "tsc_mode" as an integer is deprecated. Please use '
                    'the named parameter variant. e.g. tsc_mode="default"')
HVMLOADER_KERNEL = ('WARNING: you seem to be using "kernel" directive to override HVM guest '
                    'firmware. Ignore that. Use "firmware_override" instead if you really '
                    "want a non-default firmware")


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("PYXL_STATE_DIR", str(state))
    monkeypatch.setenv("PYXL_CLOCK", "manual")
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    for var in ("PYXL_HOST", "PYXL_AS_DOMID"):
        monkeypatch.delenv(var, raising=False)
    return state


def _in_process(main, args) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


def run_pyxl(*args: str) -> Result:
    """Run the real CLI entry point in this process."""
    from pyxl.cli.main import main

    return _in_process(main, args)


@pytest.fixture
def pyxl():
    return run_pyxl


def run_pyxm(*args: str) -> Result:
    """Run pyxm, xm's front end, in this process."""
    from pyxl.cli.xm.main import main

    return _in_process(main, args)


@pytest.fixture
def pyxm():
    return run_pyxm


def spawn(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """Run pyxl as a separate process (`python -m pyxl`), as a script would."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "pyxl", *args], capture_output=True,
                          text=True, env=full_env, **kw)


@pytest.fixture
def write_cfg(tmp_path):
    """Write an xl.cfg file and return its path."""
    def write(text: str, name: str = "guest.cfg") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


PV_CFG = """name = "{name}"
type = "pv"
kernel = "/boot/vmlinuz"
memory = {memory}
vcpus = {vcpus}
"""


@pytest.fixture
def guest_cfg(write_cfg):
    def make(name: str = "vm1", memory: int = 512, vcpus: int = 2, extra: str = "") -> str:
        return write_cfg(PV_CFG.format(name=name, memory=memory, vcpus=vcpus) + extra,
                         f"{name}.cfg")
    return make
