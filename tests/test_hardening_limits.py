"""Xen's limits and hostile input: what xl and Xen do with absurd numbers,
bytes that are not text and configs a real host would refuse, through the CLI.

Each expected line is the one xl, libxl, libxc or Xen prints (read from their
code), or pyxl's own one line where pyxl stops earlier than xl would.
"""

from __future__ import annotations

import json

import pytest

LONG_MAX = (1 << 63) - 1
HUGE = "99999999999999999999999"        # beyond 2^64: strtol/strtoul saturate


def only_domain0(pyxl) -> bool:
    """A failed command left nothing: no domain, no XenStore home."""
    names = [line.split()[0] for line in pyxl("list").out.splitlines()[1:]]
    return names == ["Domain-0"] and pyxl("xenstore-list", "/local/domain").out == "0\n"


def dry_run(pyxl, write_cfg, text: str):
    path = write_cfg(text)
    return path, pyxl("create", "-q", "-n", path)


# --- the config language -----------------------------------------------------------


def test_string_that_is_not_utf8_is_one_line_with_file_and_line(pyxl, tmp_path):
    path = tmp_path / "bad.cfg"
    path.write_bytes(b'memory = 64\nname = "g\xff\xfe"\n')
    r = pyxl("create", "-q", "-n", str(path))
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"{path}:2: config parsing error near `\"g\\xff\\xfe\"': "
                     "quoted string is not valid UTF-8\n")
    # the same bytes in a key=value argument (as the shell passes them)
    r = pyxl("create", "-q", "/dev/null", 'name="x\udcff"')
    assert (r.code, r.err) == (
        1, "/dev/null:2: config parsing error near `\"x\\xff\"': quoted string is not "
           "valid UTF-8\n")
    assert only_domain0(pyxl)


def test_nul_in_a_string_is_refused(pyxl, tmp_path):
    path = tmp_path / "nul.cfg"
    path.write_bytes(b'name = "a\x00b"\n')
    r = pyxl("create", "-q", str(path))
    assert (r.code, r.err) == (
        1, f"{path}:1: config parsing error near `\"a\\x00b\"': NUL in quoted string\n")
    assert only_domain0(pyxl)


def test_a_list_nested_5000_deep_is_one_line(pyxl, write_cfg):
    path, r = dry_run(pyxl, write_cfg, 'name = "d"\nx = ' + "[" * 5000 + "]" * 5000 + "\n")
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"{path}:2: config parsing error near `[': memory exhausted "
                     "(pyxl nests lists at most 100 deep)\n")


def test_nested_lists_are_legal_up_to_the_limit(pyxl, write_cfg):
    deep = ('name = "d"\nmemory = 64\nx = ' + "[" * 100 + "]" * 100 + "\n"
            'kernel = "/boot/vmlinuz"\n')
    assert pyxl("create", "-q", write_cfg(deep)).code == 0
    assert pyxl("list", "-l", "d").code == 0
    r = pyxl("create", "-q", "-n", write_cfg(deep.replace("[", "[[", 1).replace("]", "]]", 1)))
    assert r.code == 1 and "memory exhausted" in r.err


def test_config_without_a_name(pyxl, write_cfg):
    # like /etc/xen/xl.conf: valid syntax, but not a domain
    path = write_cfg('#autoballoon="auto"\nlockfile = "/var/lock/xl"\n', "xl.conf")
    r = pyxl("create", "-n", path)
    assert (r.code, r.out) == (1, "")
    assert r.err == f"Parsing config from {path}\nDomain name must be specified.\n"


# --- xm-era configs xl still reads ---------------------------------------------------


def test_kernel_hvmloader_on_hvm_is_dropped_with_xl_warning(pyxl, write_cfg):
    path, r = dry_run(pyxl, write_cfg, 'builder = "hvm"\nname = "old"\nmemory = 128\n'
                                      'kernel = "/usr/lib/xen/boot/hvmloader"\n')
    assert r.code == 0, r.err
    assert r.err == ('WARNING: you seem to be using "kernel" directive to override HVM guest '
                     'firmware. Ignore that. Use "firmware_override" instead if you really '
                     "want a non-default firmware\n")
    assert "kernel" not in json.loads(r.out)["b_info"]


def test_nbd_prefix_becomes_script_block_nbd(pyxl, write_cfg):
    text = ('name = "nbd4"\nmemory = 128\ndisk = [ "nbd:192.0.2.7 20004,hda1,w" ]\n'
            'kernel = "/boot/vmlinuz"\n')
    path, r = dry_run(pyxl, write_cfg, text)
    assert (r.code, r.err) == (0, "")
    disk = json.loads(r.out)["disks"][0]
    assert (disk["pdev_path"], disk["vdev"], disk["script"]) == (
        "192.0.2.7 20004", "hda1", "block-nbd")
    assert pyxl("create", "-q", path).code == 0      # Xen installs block-nbd


def test_disk_script_no_xen_host_has_fails_create_not_dry_run(pyxl, write_cfg):
    path = write_cfg('name = "r"\nmemory = 64\ndisk = [ "drbd:res0,xvda,w" ]\n'
                     'kernel = "/boot/vmlinuz"\n')
    r = pyxl("create", "-q", "-n", path)
    assert r.code == 0 and json.loads(r.out)["disks"][0]["script"] == "block-drbd"
    r = pyxl("create", "-q", path)
    assert (r.code, r.err) == (3, f"{path}:3: disk 'drbd:res0,xvda,w': hotplug script "
                                  "/etc/xen/scripts/block-drbd not found\n")
    assert only_domain0(pyxl)


# --- vCPUs ------------------------------------------------------------------------------


@pytest.mark.parametrize("vcpus, err", [
    # libxl_cpu_bitmap_alloc takes an int: (int) LONG_MAX is -1
    (LONG_MAX, "libxl: error: libxl_utils.c:812:libxl_cpu_bitmap_alloc: invalid number of "
               "cpus provided\nUnable to allocate cpumap\n"),
    # (int) 2^32 is 0, a host-sized bitmap; max_vcpus, an int, is then below vcpus
    (1 << 32, "xl: maxvcpus < vcpus\n"),
])
def test_vcpu_counts_past_an_int_fail_as_in_xl(pyxl, write_cfg, vcpus, err):
    path, r = dry_run(pyxl, write_cfg, f'name = "v"\nvcpus = {vcpus}\n')
    assert (r.code, r.out, r.err) == (1, "", err)


def test_more_vcpus_than_any_xen_domain_is_refused_while_parsing(pyxl, write_cfg):
    path, r = dry_run(pyxl, write_cfg, 'name = "v"\nmaxvcpus = 2147483647\n')
    assert (r.code, r.out) == (1, "")
    assert r.err == f"{path}:2: maxvcpus: 2147483647 vCPUs is more than Xen gives any domain (8192)\n"


def test_maxvcpus_is_kept_in_an_int(pyxl, write_cfg):
    path, r = dry_run(pyxl, write_cfg, 'name = "v"\nvcpus = 2\nmaxvcpus = 4294967298\n'
                                      'kernel = "/boot/vmlinuz"\n')
    assert r.code == 0, r.err
    assert json.loads(r.out)["b_info"]["max_vcpus"] == 2


def test_more_than_1024_online_vcpus_fail_in_libxl(pyxl, write_cfg):
    path = write_cfg('name = "v"\nmemory = 64\nvcpus = 1025\nkernel = "/boot/vmlinuz"\n')
    assert pyxl("create", "-q", "-n", path).code == 0        # xl only parses
    r = pyxl("create", "-q", path)
    assert (r.code, r.out) == (3, "")
    assert r.err == (
        "libxl: error: libxl_create.c:183:libxl__domain_build_info_setdefault: avail_vcpus "
        "bitmap contains too many VCPUS\n"
        "libxl: error: libxl_create.c:1245:libxl__domain_config_setdefault: Unable to set "
        "domain build info defaults\n")
    assert only_domain0(pyxl)


def test_vcpu_limit_depends_on_the_domain_type(pyxl, write_cfg):
    hvm = 'name = "h"\ntype = "hvm"\nmemory = 64\nvcpus = 2\nmaxvcpus = {}\n'
    r = pyxl("create", "-q", write_cfg(hvm.format(129)))
    assert (r.code, r.err) == (
        3, "libxl: error: libxl_create.c:700:libxl__domain_make: domain creation fail: "
           "Invalid argument\n"
           "libxl: error: libxl_create.c:1309:initiate_domain_create: cannot make domain: -3\n")
    assert only_domain0(pyxl)
    assert pyxl("create", "-q", write_cfg(hvm.format(128))).code == 0
    pv = 'name = "p"\nmemory = 64\nvcpus = 2\nmaxvcpus = 200\nkernel = "/boot/vmlinuz"\n'
    assert pyxl("create", "-q", write_cfg(pv, "pv.cfg")).code == 0   # PV: up to 8192
    assert pyxl("vcpu-list", "p").out.count("\np ") == 200


# --- memory -----------------------------------------------------------------------------


def test_memory_0_fails_in_the_domain_builder(pyxl, write_cfg):
    r = pyxl("create", "-q", write_cfg('name = "z"\nmemory = 0\nkernel = "/boot/vmlinuz"\n'))
    assert (r.code, r.err) == (
        3, "xc: error: panic: xg_dom_core.c:537: xc_dom_chk_alloc_pages: segment kernel too "
           "large (0x400 > 0x0 - 0x0 pages): Out of memory\n"
           "libxl: error: libxl_create.c:1653:domcreate_rebuild_done: Domain 1:cannot "
           "(re-)build domain: -3\n")
    assert only_domain0(pyxl)
    r = pyxl("create", "-q",                                  # memory defaults to maxmem
             write_cfg('name = "z"\nmaxmem = 0\nkernel = "/boot/vmlinuz"\n'))
    assert r.code == 3 and "segment kernel too large" in r.err
    r = pyxl("create", "-q", write_cfg('name = "z"\ntype = "hvm"\nmemory = 0\n'))
    assert r.code == 3 and "can't allocate low memory for domain" in r.err
    assert only_domain0(pyxl)


@pytest.mark.parametrize("option, value, message", [
    ("--memory", "100000000000000000000",
     "invalid --memory 100000000000000000000: from 64 to 16777216 MiB (16 TiB, what Xen "
     "on x86 can manage)\n"),
    ("--nodes", "128", "invalid --nodes 128: the 128 CPUs must split evenly over 1 to 64 "
                       "NUMA nodes\n"),
])
def test_host_boot_refuses_a_machine_xen_could_not_run(pyxl, option, value, message):
    r = pyxl("host", "boot", "big", "--cpus", "128", option, value)
    assert (r.code, r.out, r.err) == (1, "", message)
    assert "big" not in pyxl("host", "list").out


# --- the clock ----------------------------------------------------------------------------


def test_clock_refuses_to_pass_the_end_of_s_time_t(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    assert pyxl("clock", "advance", f"{LONG_MAX - 1_000_000}ns").code == 0
    r = pyxl("clock", "advance", "2ms")
    assert (r.code, r.err) == (
        1, f"the clock cannot pass {LONG_MAX} ns (about 292 years, the range of Xen's "
           f"s_time_t): it is at {LONG_MAX - 1_000_000} ns and would move to "
           f"{LONG_MAX + 1_000_000} ns\n")
    assert pyxl("clock", "show").out.splitlines()[1].split()[1] == (
        f"{(LONG_MAX - 1_000_000) / 1e9:.9f}".rstrip("0").rstrip(".") + "s")
    assert pyxl("list").code == 0                  # every command still works
    assert pyxl("clock", "advance", "1ms").code == 0


def test_top_delay_past_the_end_of_the_clock(pyxl):
    pyxl("clock", "advance", f"{LONG_MAX - 1_500_000_000}ns")
    r = pyxl("top", "-b", "-i", "3", "-d", "1")
    assert r.code == 1
    assert r.out.count("NAME") == 3 - 1     # two samples, then the refused advance
    assert r.err.startswith("the clock cannot pass ")
    r = pyxl("top", "-b", "-i", "2", "-d", HUGE)   # atoi: -1, an unsigned 2^32-1 s
    assert r.code == 1 and r.out.count("NAME") == 1


@pytest.mark.parametrize("duration", [HUGE + "h", "9" * 5000 + "s", f"{LONG_MAX + 1}ns"])
def test_absurd_durations_are_one_line(pyxl, duration):
    r = pyxl("clock", "advance", duration)
    assert r.code == 1 and r.err.count("\n") == 1
    assert r.err.startswith(f"invalid duration '{duration}': at most {LONG_MAX} ns")


def test_workload_period_past_the_clock(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    r = pyxl("workload", "vm1", "periodic:5ms/" + "9" * 5000 + "s")
    assert r.code == 1 and r.err.count("\n") == 1 and "longer than 2^63-1 ns" in r.err


# --- numbers in arguments ---------------------------------------------------------------


def test_vcpu_list_of_a_domid_past_2_to_the_64(pyxl):
    r = pyxl("vcpu-list", HUGE)
    assert (r.code, r.out.count("\n")) == (0, 1)       # the header only
    assert r.err == ("libxl: error: libxl_domain.c:1671:libxl_list_vcpu: Getting dominfo: "
                     "No such process\n")


def test_domname_keeps_strtol_in_a_uint32(pyxl):
    r = pyxl("domname", HUGE)
    assert (r.code, r.err) == (1, "Can't get domain name of domain id '4294967295', maybe "
                                  "this domain does not exist.\n")


def test_sched_values_are_ints_as_in_xl(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    r = pyxl("sched-credit", "-d", "vm1", "-w", HUGE)     # (int) LONG_MAX: -1
    assert (r.code, r.err) == (
        1, "libxl: error: libxl_sched.c:236:sched_credit_domain_set: Domain 1:Cpu weight out "
           "of range, valid values are within range from 1 to 65535\n"
           "libxl_domain_sched_params_set failed.\n")
    assert pyxl("sched-credit", "-d", "vm1", "-w", str((1 << 32) + 300)).code == 0
    assert pyxl("sched-credit", "-d", "vm1").out.splitlines()[1].split()[2] == "300"


def test_rtds_period_is_an_int(pyxl, guest_cfg):
    pyxl("host", "boot", "rt", "--sched", "rtds", "--clock", "manual")
    pyxl("--host", "rt", "create", "-q", guest_cfg("vm1"))
    r = pyxl("--host", "rt", "sched-rtds", "-d", "vm1", "-v", "0", "-p", HUGE, "-b", "100",
             "-e", "1")
    assert (r.code, r.err) == (
        1, "libxl: error: libxl_sched.c:473:sched_rtds_validate_params: Invalid VCPU "
           "period of -1 (it should be >= 1)\nlibxl_vcpu_sched_params_set failed.\n")


def test_vcpu_pin_vcpu_number_is_a_long_then_a_uint32(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1", vcpus=2))
    r = pyxl("vcpu-pin", "vm1", HUGE, "1")
    assert (r.code, r.err.splitlines()[-1]) == (
        1, f"Could not set affinity for vcpu `{LONG_MAX}'.")
    assert pyxl("vcpu-pin", "vm1", str(1 << 32), "1").code == 0    # vCPU 0
    assert pyxl("vcpu-list", "vm1").out.splitlines()[1].endswith(" 1 / all")


def test_vcpu_set_of_a_huge_count(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    r = pyxl("vcpu-set", "vm1", "9" * 5000)
    assert (r.code, r.err) == (1, "Error: Invalid argument.\n")


def test_pause_0_is_refused_by_xen_and_xl_still_exits_0(pyxl):
    r = pyxl("pause", "0")
    assert (r.code, r.err) == (0, "libxl: error: libxl_domain.c:585:libxl_domain_pause: "
                                  "Pausing domain: Invalid argument\n")
    assert "r-----" in pyxl("list", "0").out


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize("name, shown", [("a\0b", "a\\x00b"), ("x\udcff", "x\\xff")])
def test_rename_to_a_name_that_is_not_text(pyxl, guest_cfg, name, shown):
    pyxl("create", "-q", guest_cfg("vm1"))
    r = pyxl("rename", "vm1", name)
    assert (r.code, r.err) == (
        1, "libxl: error: libxl_domain.c:449:libxl__domain_rename: Domain 1:invalid domain "
           f"name \"{shown}\"\nCan't rename domain 'vm1'.\n")
    assert pyxl("domid", "vm1").out == "1\n"


def test_domid_of_a_name_that_is_not_text(pyxl):
    r = pyxl("domid", "\udcff")
    assert r.code == 1 and r.err.endswith("maybe this domain does not exist.\n")


# --- vCPU affinity ------------------------------------------------------------------------


@pytest.mark.parametrize("cpus", ['["99", "0"]', '"99"'])
def test_hard_affinity_outside_the_host_fails_create(pyxl, write_cfg, cpus):
    r = pyxl("create", "-q", write_cfg(f'name = "c"\nmemory = 64\nvcpus = 2\ncpus = {cpus}\n'
                                       'kernel = "/boot/vmlinuz"\n'))
    assert (r.code, r.err) == (
        3, "libxl: error: libxl_sched.c:62:libxl__set_vcpuaffinity: Domain 1:Setting vcpu "
           "affinity: Invalid argument\n"
           "libxl: error: libxl_dom.c:345:libxl__build_pre: setting affinity failed on vcpu "
           "`0'\n"
           "libxl: error: libxl_create.c:1653:domcreate_rebuild_done: Domain 1:cannot "
           "(re-)build domain: -3\n")
    assert only_domain0(pyxl)


def _vcpus(pyxl, host):
    """(domain, vcpu, cpu, state, hard affinity) from vcpu-list."""
    from pyxl.toolstack.cpumap import parse_cpurange

    out = []
    for line in pyxl("--host", host, "vcpu-list").out.splitlines()[1:]:
        f = line.split()
        if f[0] == "Domain-0" or f[3] == "-":
            continue
        hard = set(range(8)) if f[6] == "all" else parse_cpurange(f[6], 8)
        out.append((f[0], f[2], int(f[3]), f[4], hard))
    return out


def _check_trace(pyxl, host, duration):
    """Every scheduling decision puts a vCPU on a pCPU of its hard affinity."""
    affinity = {}
    for dom, vcpu, _cpu, _state, hard in _vcpus(pyxl, host):
        domid = pyxl("--host", host, "domid", dom).out.strip()
        affinity[f"d{domid}v{vcpu}"] = hard
    r = pyxl("--host", host, "sched-trace", "--json", duration)
    assert r.code == 0, r.err
    decisions = [d for d in json.loads(r.out)["decisions"]
                 if d["pcpu"] is not None and d["vcpu"] in affinity]
    assert decisions
    assert [d for d in decisions if d["pcpu"] not in affinity[d["vcpu"]]] == []
    _check_placement(pyxl, host)


def _check_placement(pyxl, host):
    """Each vCPU's pCPU (where it runs or last ran) is in its hard affinity."""
    for dom, vcpu, cpu, _state, hard in _vcpus(pyxl, host):
        assert cpu in hard, (dom, vcpu, cpu, hard)


@pytest.mark.parametrize("sched", ["credit", "credit2", "rtds", "sedf"])
def test_no_vcpu_ever_runs_outside_its_hard_affinity(pyxl, write_cfg, sched):
    host = f"aff-{sched}"
    pyxl("host", "boot", host, "--cpus", "8", "--sched", sched, "--clock", "manual")
    busy = 'memory = 64\nworkload = "busy"\nkernel = "/boot/vmlinuz"\n'
    for name, extra in (("a", 'vcpus = 3\ncpus = "1-2"\n'),
                        ("b", 'vcpus = 2\ncpus = ["3", "0,3"]\n'),
                        ("c", 'vcpus = 4\ncpus = "5"\ncpus_soft = "6"\n')):
        r = pyxl("--host", host, "create", "-q", write_cfg(f'name = "{name}"\n{busy}{extra}',
                                                            f"{name}.cfg"))
        assert r.code == 0, r.err
    _check_placement(pyxl, host)           # placed inside before they first run
    pyxl("--host", host, "clock", "advance", "1s")
    _check_trace(pyxl, host, "200ms")
    # re-pinned while running: each moves into its new affinity at once
    assert pyxl("--host", host, "vcpu-pin", "a", "all", "6-7").code == 0
    assert pyxl("--host", host, "vcpu-pin", "c", "0", "4", "-").code == 0
    _check_placement(pyxl, host)
    _check_trace(pyxl, host, "200ms")


def test_cpupool_changes_keep_vcpus_inside_their_affinity(pyxl, write_cfg):
    host = "pools"
    pyxl("host", "boot", host, "--cpus", "8", "--clock", "manual")
    cfg = write_cfg('name = "a"\nmemory = 64\nworkload = "busy"\nvcpus = 2\ncpus = "6-7"\n'
                    'kernel = "/boot/vmlinuz"\n')
    assert pyxl("--host", host, "create", "-q", cfg).code == 0
    pyxl("--host", host, "clock", "advance", "500ms")
    # taking away every pCPU of a hard affinity breaks it (cpu_disable_scheduler)
    assert pyxl("--host", host, "cpupool-cpu-remove", "Pool-0", "6,7").code == 0
    assert {hard == set(range(8)) for *_, hard in _vcpus(pyxl, host)} == {True}
    _check_trace(pyxl, host, "100ms")
    assert {cpu for _, _, cpu, _, _ in _vcpus(pyxl, host)} <= set(range(6))


# --- domain and pool qualifiers, memory sizes ---------------------------------------------


@pytest.mark.parametrize("command", ["pause", "list", "vcpu-list", "unpause"])
def test_a_qualifier_that_is_not_text_is_no_such_domain(pyxl, command):
    r = pyxl(command, "\udcff")
    assert r.code == 1 and r.err.count("\n") == 1
    assert r.err.endswith(" is an invalid domain identifier (rc=-6)\n")


def test_an_all_digit_qualifier_is_kept_in_a_uint32(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    r = pyxl("list", str((1 << 32) + 1))              # strtoul, then a uint32: domid 1
    assert r.code == 0 and r.out.splitlines()[1].startswith("vm1 ")


def test_mem_set_with_thousands_of_digits(pyxl, guest_cfg):
    pyxl("create", "-q", guest_cfg("vm1"))
    r = pyxl("mem-set", "vm1", "9" * 5000)            # strtoll saturates, << 10 wraps
    assert "internal error" not in r.err and r.code == 1 and r.err.count("\n") >= 1


def test_cpupool_qualifier_of_thousands_of_digits(pyxl):
    r = pyxl("cpupool-list", "9" * 5000)
    assert (r.code, "internal error" in r.err) == (1, False)
