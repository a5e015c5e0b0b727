"""`pyxl create` loads only what its config needs: scripts start one process
per guest, so the device parser (for a config with no disk or vif) and
OpenSSL (for the UUID's hash) are left unloaded."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid

from conftest import spawn

# What the entry point runs (pyxl.launch, which leaves with os._exit), then
# the modules it loaded on stdout's last line.
RUN_AND_LIST = (
    "import sys\n"
    "from pyxl.cli.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    assert not e.code, e.code\n"
    "print(' '.join(sorted(sys.modules)))\n")


def loaded_by(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", RUN_AND_LIST, *args], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.splitlines()[-1].split())


def booted() -> None:
    assert spawn("list").returncode == 0


def test_a_create_without_devices_leaves_the_device_parser_unloaded(write_cfg):
    booted()
    cfg = write_cfg('name = "a"\ntype = "pv"\nkernel = "/k"\nmemory = 16\n')
    assert "pyxl.toolstack.devices" not in loaded_by("create", "-q", cfg)
    assert spawn("domid", "a").stdout == "1\n"


def test_a_create_with_devices_parses_them(write_cfg):
    booted()
    cfg = write_cfg('name = "a"\nkernel = "/k"\nmemory = 16\ndisk = ["/x,raw,xvda,w"]\n'
                    'vif = ["mac=00:16:3e:01:02:03"]\n')
    assert "pyxl.toolstack.devices" in loaded_by("create", "-q", cfg)
    stored = spawn("list", "-l", "a").stdout
    assert '"pdev_path": "/x"' in stored and '"mac": "00:16:3e:01:02:03"' in stored


def test_a_disk_whose_script_the_host_lacks_still_fails_the_create(write_cfg):
    booted()
    cfg = write_cfg('name = "a"\nkernel = "/k"\nmemory = 16\n'
                    'disk = ["/x,raw,xvda,w,script=nosuch"]\n')
    done = spawn("create", "-q", cfg)
    assert (done.returncode, done.stderr.splitlines()[-1]) == (
        3, f"{cfg}:4: disk '/x,raw,xvda,w,script=nosuch': hotplug script "
           "/etc/xen/scripts/nosuch not found")


def test_the_uuid_is_the_hosts_sha256_without_openssl(write_cfg):
    booted()
    cfg = write_cfg('name = "a"\ntype = "pv"\nkernel = "/k"\nmemory = 16\n')
    assert "_hashlib" not in loaded_by("create", "-q", cfg)
    # seed 0, first UUID drawn on the host
    expected = uuid.UUID(bytes=hashlib.sha256(b"pyxl:0:1").digest()[:16], version=4)
    assert spawn("xenstore-read", "/local/domain/1/vm").stdout == f"/vm/{expected}\n"
