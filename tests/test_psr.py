"""xl's psr-* commands: a host without PSR answers as Xen without it does;
one booted with --psr has a Skylake-SP Xeon's CMT, CAT and MBA."""

ALLOC = "libxl: error: libxl_psr.c:123:libxl__psr_alloc_log_err_msg: "


def _boot(pyxl, psr="cmt,cat,mba", nodes="1"):
    r = pyxl("host", "boot", "--psr", psr, "--nodes", nodes)
    assert r.code == 0, r.err


def _create(pyxl, cfg):
    r = pyxl("create", "-q", cfg)
    assert r.code == 0, r.err


def test_no_psr_host_answers_as_xen_without_it(pyxl, guest_cfg):
    _create(pyxl, guest_cfg())
    r = pyxl("psr-hwinfo")
    assert (r.code, r.out, r.err) == (
        253, "Cache Monitoring Technology (CMT):\nEnabled         : 0\n", "")
    assert pyxl("psr-hwinfo", "-m").code == 0
    r = pyxl("psr-cmt-attach", "vm1")
    assert (r.code, r.err) == (253, "libxl: error: libxl_psr.c:71:libxl__psr_cmt_log_err_msg: "
                                    "CMT is not supported in this system: No such device\n")
    r = pyxl("psr-cmt-show", "cache-occupancy")
    assert (r.code, r.out, r.err) == (255, "", "CMT is disabled in the system\n")
    r = pyxl("psr-cat-set", "vm1", "0xf")
    assert (r.code, r.err) == (253, ALLOC + "L3 CAT: is not supported in this system\n")
    r = pyxl("psr-mba-set", "vm1", "10")
    assert (r.code, r.err) == (253, ALLOC + "MBA: is not supported in this system\n")
    for cmd in ("psr-cat-show", "psr-mba-show"):
        r = pyxl(cmd)
        assert (r.code, r.out, r.err) == (253, "", "Failed to get info\n")


def test_hwinfo_reports_a_xeons_cmt_cat_and_mba(pyxl):
    _boot(pyxl)
    r = pyxl("psr-hwinfo", "--cmt")
    assert (r.code, r.out) == (0, "Cache Monitoring Technology (CMT):\nEnabled         : 1\n"
                                  "Total RMID      : 175\nSupported monitor types:\n"
                                  "cache-occupancy\ntotal-mem-bandwidth\nlocal-mem-bandwidth\n")
    r = pyxl("psr-hwinfo", "-a")
    # xl goes on to L2 CAT, which a Xeon server lacks: rc ERROR_FAIL, silently
    assert (r.code, r.err) == (253, "")
    assert r.out == ("Cache Allocation Technology (CAT):\nSocket ID       : 0\n"
                     "L3 Cache        : 28160KB\nCDP Status      : Disabled\n"
                     "Maximum COS     : 15\nCBM length      : 11\nDefault CBM     : 0x7ff\n")
    r = pyxl("psr-hwinfo", "-b")
    assert (r.code, r.out) == (0, "Memory Bandwidth Allocation (MBA):\n"
                                  "Socket ID               : 0\n"
                                  "Linear Mode             : Enabled\n"
                                  "Maximum COS             : 7\n"
                                  "Maximum Throttling Value: 90\n"
                                  "Default Throttling Value: 0\n")


def test_cmt_attach_show_detach(pyxl, guest_cfg):
    _boot(pyxl)
    _create(pyxl, guest_cfg())
    assert pyxl("workload", "vm1", "busy").code == 0
    assert pyxl("clock", "advance", "10s").code == 0
    r = pyxl("psr-cmt-show", "cache-occupancy")
    assert (r.code, r.out.splitlines()[-1]) == (0, f"{'Total L3 Cache Size':<46}{28160:>13} KB")
    assert pyxl("psr-cmt-attach", "vm1").code == 0
    r = pyxl("psr-cmt-attach", "vm1")
    assert r.code == 253 and "CMT is already attached to this domain: File exists" in r.err
    r = pyxl("psr-cmt-show", "cache-occupancy", "vm1")
    lines = r.out.splitlines()
    assert lines[:2] == ["Total RMID: 175", f"{'Name':<40} {'ID':>5}{'Socket':>14} 0"]
    name, domid, kb, unit = lines[3].split()
    assert (name, domid, unit) == ("vm1", "1", "KB")
    assert 0 < int(kb) <= 28160 and int(kb) % 64 == 0
    # a narrower CBM leaves the domain less of the L3
    assert pyxl("psr-cat-set", "vm1", "0x3").code == 0
    narrower = int(pyxl("psr-cmt-show", "cache-occupancy", "vm1").out.split()[-2])
    assert narrower < int(kb)
    r = pyxl("psr-cmt-show", "total-mem-bandwidth", "vm1")
    assert r.code == 0 and r.out.splitlines()[-1].endswith(" KB/s")
    assert pyxl("psr-cmt-detach", "vm1").code == 0
    r = pyxl("psr-cmt-detach", "vm1")
    assert r.code == 253 and "CMT is not attached to this domain" in r.err
    assert len(pyxl("psr-cmt-show", "cache-occupancy").out.splitlines()) == 3


def test_cat_set_and_show_share_cos(pyxl, guest_cfg):
    _boot(pyxl, nodes="2")
    _create(pyxl, guest_cfg())
    assert (pyxl("psr-cat-set", "-s", "1", "vm1", "0xf0").code) == 0
    r = pyxl("psr-cat-show", "vm1")
    assert r.out == ("Socket ID       : 0\nL3 Cache        : 28160KB\nDefault CBM     : 0x7ff\n"
                     "   ID                     NAME             CBM\n"
                     "    1                      vm1           0x7ff\n"
                     "Socket ID       : 1\nL3 Cache        : 28160KB\nDefault CBM     : 0x7ff\n"
                     "   ID                     NAME             CBM\n"
                     "    1                      vm1            0xf0\n")
    r = pyxl("psr-cat-set", "vm1", "0x5")  # not contiguous: refused on each socket
    assert (r.code, r.err) == (253, 2 * (ALLOC + "L3 CAT: Invalid input or some internal "
                                         "values are not expected\n"))
    assert "0xf0" in pyxl("psr-cat-show", "vm1").out
    r = pyxl("psr-cat-set", "-c", "-d", "vm1", "0xf")
    assert (r.code, r.err) == (1, "Cannot handle -c and -d at the same time\n")
    r = pyxl("psr-cat-set", "-l", "2", "vm1", "0xf")
    assert r.code == 253 and "L2 CAT: is not enabled on the socket" in r.err
    assert pyxl("psr-cat-set", "vm1").code == 2


def test_mba_throttling_is_rounded_linearly(pyxl, guest_cfg):
    _boot(pyxl, psr="mba")
    _create(pyxl, guest_cfg())
    assert pyxl("psr-mba-set", "vm1", "25").code == 0
    r = pyxl("psr-mba-show", "vm1")
    assert r.out == ("Socket ID       : 0\nDefault THRTL   : 0\n"
                     "   ID                     NAME           THRTL\n"
                     "    1                      vm1              20\n")
    r = pyxl("psr-mba-set", "vm1", "150")
    assert r.code == 253 and "MBA: Invalid input" in r.err
    assert pyxl("psr-mba-set", "vm1").code == 1


def test_psr_commands_in_help(pyxl):
    r = pyxl("help", "psr-cat-set")
    assert r.out.startswith("Usage: xl [-vtTf] psr-cat-set [options] <Domain> <CBM>\n\n"
                            "Set cache capacity bitmasks(CBM) for a domain.\n")
