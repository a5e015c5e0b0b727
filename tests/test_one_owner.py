"""One owner per fact: durations, memory, scheduler parameters and numbers,
each read, kept and checked in one place, the way Xen and libxl do."""

import json

import pytest

HVM_CFG = 'name = "h"\ntype = "hvm"\nmemory = 256\nvcpus = 1\n'


def run(pyxl, *args):
    r = pyxl(*args)
    assert r.code == 0, (args, r.err)
    return r


def now_ns(pyxl) -> int:
    """The host's simulated time, from `clock show` ("now:      1.5s")."""
    text = run(pyxl, "clock", "show").out.splitlines()[1].split()[1]
    return round(float(text.rstrip("s")) * 1e9)


# --- durations ----------------------------------------------------------------------


@pytest.mark.parametrize("duration,ns", [("1.5s", 1_500_000_000), ("1m30s", 90_000_000_000),
                                         ("250ms", 250_000_000), ("2500us", 2_500_000)])
def test_clock_advance_and_sched_trace_read_durations_alike(pyxl, duration, ns):
    t0 = now_ns(pyxl)
    run(pyxl, "clock", "advance", duration)
    assert now_ns(pyxl) - t0 == ns
    trace = json.loads(run(pyxl, "sched-trace", duration, "--json").out)
    assert trace["t1_ns"] - trace["t0_ns"] == ns


def test_workload_periods_take_the_same_syntax(pyxl, guest_cfg):
    run(pyxl, "create", "-q", guest_cfg("vm1", vcpus=1))
    run(pyxl, "workload", "vm1", "periodic:1.5ms/1m")
    assert run(pyxl, "workload", "vm1").out.strip().endswith("periodic:1500us/60s")


# --- memory: KiB inside, the stored config kept true ---------------------------------


def b_info(pyxl, name):
    data = json.loads(run(pyxl, "list", "-l", name).out)
    return data[0]["config"]["b_info"]


def test_list_long_shows_an_hvm_guest_target_as_configured(pyxl, write_cfg):
    # XenStore's target leaves out the video RAM (libxl's fudge); libxl adds it back
    run(pyxl, "create", "-q", write_cfg(HVM_CFG, "h.cfg"))
    assert run(pyxl, "xenstore-read", "/local/domain/1/memory/target").out == "253952\n"
    assert (b_info(pyxl, "h")["target_memkb"], b_info(pyxl, "h")["max_memkb"]) == \
        (262144, 262144)
    run(pyxl, "mem-set", "h", "200")
    assert run(pyxl, "xenstore-read", "/local/domain/1/memory/target").out == "196608\n"
    assert b_info(pyxl, "h")["target_memkb"] == 200 * 1024


def test_mem_set_and_mem_max_keep_the_stored_config(pyxl, guest_cfg):
    run(pyxl, "create", "-q", guest_cfg("vm1", memory=256))
    run(pyxl, "mem-max", "vm1", "512")
    run(pyxl, "mem-set", "vm1", "300")
    assert (b_info(pyxl, "vm1")["target_memkb"], b_info(pyxl, "vm1")["max_memkb"]) == \
        (300 * 1024, 512 * 1024)
    # what a guest or a user writes in XenStore is not the config
    run(pyxl, "xenstore-write", "/local/domain/1/memory/target", "not a number")
    assert b_info(pyxl, "vm1")["target_memkb"] == 300 * 1024


def test_memory_nodes_that_are_not_numbers_are_refused(pyxl, guest_cfg):
    run(pyxl, "create", "-q", guest_cfg("vm1", memory=256))
    run(pyxl, "xenstore-write", "/local/domain/1/memory/target", "\u00b2")
    r = pyxl("mem-set", "vm1", "128")
    assert (r.code, r.err.splitlines()[-1]) == (1, "cannot set domid 1 dynamic max memory "
                                                   "to : 128")


def test_uptime_reads_a_start_time_as_strtoul_does(pyxl, guest_cfg):
    run(pyxl, "create", "-q", guest_cfg("vm1"))
    uuid = json.loads(run(pyxl, "list", "-l", "vm1").out)[0]["config"]["c_info"]["uuid"]
    run(pyxl, "xenstore-write", f"/vm/{uuid}/start_time", "soon")
    assert pyxl("uptime", "vm1").code == 0


# --- scheduler parameters ------------------------------------------------------------


def boot(pyxl, sched):
    run(pyxl, "host", "boot", "lab", "--cpus", "1", "--sched", sched, "--clock", "manual")


def busy_cfg(name):
    return f'name = "{name}"\ntype = "pvh"\nkernel = "/k"\nmemory = 128\nvcpus = 1\n'


def test_credit_cap_refusal_is_logged_where_libxl_logs_it(pyxl, write_cfg):
    boot(pyxl, "credit")
    run(pyxl, "--host", "lab", "create", "-q", write_cfg(busy_cfg("c"), "c.cfg"))
    r = pyxl("--host", "lab", "sched-credit", "-d", "c", "-c", "101")
    assert (r.code, r.err) == (1, (
        "libxl: error: libxl_sched.c:246:sched_credit_domain_set: Domain 1:Cpu cap out of "
        "range, valid range is from 0 to 100 for specified number of vcpus\n"
        "libxl_domain_sched_params_set failed.\n"))


def test_rtds_refusals_from_libxl_and_from_xen(pyxl, write_cfg):
    boot(pyxl, "rtds")
    run(pyxl, "--host", "lab", "create", "-q", write_cfg(busy_cfg("rt"), "rt.cfg"))
    # libxl's own check logs without naming the domain
    r = pyxl("--host", "lab", "sched-rtds", "-d", "rt", "-v", "0", "-p", "100", "-b", "200",
             "-e", "1")
    assert r.code == 1 and r.err.splitlines()[0] == (
        "libxl: error: libxl_sched.c:485:sched_rtds_validate_params: VCPU budget must be "
        "smaller than or equal to period, but 200 > 100")
    # Xen refuses a budget under 10 us; libxl logs the failed hypercall
    r = pyxl("--host", "lab", "sched-rtds", "-d", "rt", "-v", "0", "-p", "100", "-b", "5",
             "-e", "1")
    assert r.code == 1 and r.err.splitlines()[0] == (
        "libxl: error: libxl_sched.c:649:sched_rtds_vcpu_set: Domain 1:Setting vcpu sched "
        "rtds: Invalid argument")
    out = run(pyxl, "--host", "lab", "sched-rtds", "-d", "rt", "-v", "0").out
    assert out.splitlines()[1].split()[3:5] == ["10000", "4000"]     # unchanged


def test_sedf_refusal_is_logged_as_libxl_4_5_logs_it(pyxl, write_cfg):
    boot(pyxl, "sedf")
    run(pyxl, "--host", "lab", "create", "-q", write_cfg(busy_cfg("s"), "s.cfg"))
    r = pyxl("--host", "lab", "sched-sedf", "-d", "s", "-p", "10", "-s", "20")
    assert r.code == 1 and r.err.splitlines()[0] == (
        "libxl: error: libxl.c:5788:sched_sedf_domain_set: setting domain sched sedf: "
        "Invalid argument")


def test_xen_keeps_a_weight_when_given_zero(pyxl, guest_cfg):
    from pyxl.toolstack.session import open_ctx

    run(pyxl, "create", "-q", guest_cfg("vm1"))
    run(pyxl, "sched-credit", "-d", "vm1", "-w", "512")
    with open_ctx(write=True) as ctx:
        # XEN_DOMCTL_SCHEDOP_putinfo: a weight of 0 means "keep it"
        ctx.hv.domctl_scheduler_op_putinfo(1, "credit", {"weight": 0, "cap": 0})
    assert run(pyxl, "sched-credit", "-d", "vm1").out.splitlines()[1].split()[2] == "512"


# --- numbers as xl reads them --------------------------------------------------------


@pytest.mark.parametrize("pci", ["00:02.0,vslot=zz", "00:02.0,vslot=20", "00:02.0@ff"])
def test_a_bad_pci_slot_is_one_line(pyxl, write_cfg, pci):
    path = write_cfg(f'name = "p"\npci = ["{pci}"]\n')
    r = pyxl("create", "-n", path)
    assert (r.code, r.out) == (6, "")  # exit(-e): ERROR_INVAL from libxlu
    assert r.err.splitlines() == [f"Parsing config from {path}",
                                  f"unable to parse PCI_SPEC_STRING `{pci}' for passthrough"]


def test_a_pci_slot_becomes_a_devfn(pyxl, write_cfg):
    r = run(pyxl, "create", "-n", write_cfg('name = "p"\npci = ["00:02.0,vslot=0x1f"]\n'
                                            'kernel = "/k"\n'))
    assert json.loads(r.out)["pcidevs"][0]["vdevfn"] == 0x1F << 3


def test_a_vif_mtu_past_int_wraps_as_in_c(pyxl, write_cfg):
    r = run(pyxl, "create", "-n", write_cfg('name = "n"\nvif = ["mtu=6442450944"]\n'
                                            'kernel = "/k"\n'))
    assert json.loads(r.out)["nics"][0]["mtu"] == -(1 << 31)
