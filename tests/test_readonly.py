"""Read-only commands: answered from the stored state when nothing needs to be
simulated first, and writing back only what changed (issue 9)."""

from __future__ import annotations

import subprocess
import sys

from pyxl.sim.host import open_host
from pyxl.sim.peek import peek_host

GUEST = 'name = "web"\ntype = "pv"\nkernel = "/k"\nmemory = 64\n'


def _guest(pyxl, write_cfg):
    assert pyxl("create", "-q", write_cfg(GUEST)).code == 0
    assert pyxl("clock", "advance", "5s").code == 0


def test_domid_and_domname_answer_from_the_stored_state(pyxl, write_cfg):
    _guest(pyxl, write_cfg)
    assert pyxl("domid", "web").out == "1\n"
    assert pyxl("domname", "1").out == "web\n"
    r = pyxl("domid", "nope")
    assert r.code == 1 and "Can't get domid of domain name 'nope'" in r.err
    r = pyxl("domname", "7")
    assert r.code == 1 and "Can't get domain name of domain id '7'" in r.err


def test_domid_loads_neither_the_hypervisor_nor_the_guests(pyxl, write_cfg, state_dir):
    _guest(pyxl, write_cfg)
    code = ("import sys\nfrom pyxl.cli.main import main\n"
            "try:\n    main(['domid', 'web'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('pyxl.hv.hypervisor', 'pyxl.sim.boot', "
            "'pyxl.toolstack.session') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout == "1\n[]\n"


def test_domid_on_a_new_host_boots_it(pyxl):
    assert pyxl("domid", "Domain-0").out == "0\n"
    assert "localhost" in pyxl("host", "list").out.split()


def test_domid_in_a_domu_is_refused_as_before(pyxl, write_cfg):
    _guest(pyxl, write_cfg)
    r = pyxl("--as-domid", "1", "domid", "web")
    assert r.code == 1 and "cannot init xl context" in r.err


def test_a_realtime_host_is_not_peeked_at(pyxl):
    assert pyxl("host", "boot", "rt", "--clock", "realtime").code == 0
    with peek_host("rt") as conn:
        assert conn is None
    with peek_host("localhost") as conn:  # not booted: open_host boots it
        assert conn is None
    assert pyxl("list").code == 0
    with peek_host("localhost") as conn:
        assert conn is not None


def test_writing_back_skips_unchanged_rows(pyxl, write_cfg):
    _guest(pyxl, write_cfg)
    statements = []
    with open_host(write=True) as h:
        h.hv.domctl_pausedomain(1)
        h.conn.set_trace_callback(statements.append)
    written = [s for s in statements if not s.startswith(("SELECT", "BEGIN", "COMMIT"))]
    assert any(s.startswith("UPDATE domains") and "WHERE domid = 1" in s for s in written)
    # the paused domain's vCPU rows may be settled, and the room its steady
    # pool gave it returns (pyxl/hv/steady.py); no other domain's row is touched
    assert not [s for s in written if ("vcpus" in s and "WHERE domid = 1 " not in s)
                or ("UPDATE domains" in s and "WHERE domid = 0" in s)]
    assert pyxl("list", "web").out.split()[-2] == "--p---"
