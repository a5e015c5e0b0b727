"""The scheduler commands through the CLI, and the lessons built on them."""

from pathlib import Path

import pytest

SCHED_CFGS = Path(__file__).resolve().parent.parent / "configs" / "sched"


def busy_cfg(name, extra=""):
    return (f'name = "{name}"\ntype = "pvh"\nkernel = "/boot/vmlinuz"\nmemory = 256\n'
            f'vcpus = 1\nworkload = "busy"\n{extra}')


def boot(pyxl, sched="credit", cpus=1):
    r = pyxl("host", "boot", "lab", "--cpus", str(cpus), "--sched", sched, "--clock", "manual")
    assert r.code == 0, r.err


def times(pyxl, *names):
    r = pyxl("--host", "lab", "list")
    assert r.code == 0, r.err
    rows = {line.split()[0]: float(line.split()[-1]) for line in r.out.splitlines()[1:]}
    return [rows[n] for n in names]


def run(pyxl, *args):
    r = pyxl("--host", "lab", *args)
    assert r.code == 0, (args, r.err)
    return r


def test_classic_credit_scenario_from_the_shipped_configs(pyxl):
    boot(pyxl)
    for d in "abc":
        run(pyxl, "create", str(SCHED_CFGS / f"dom-{d}.cfg"))
    run(pyxl, "clock", "advance", "10s")
    got = times(pyxl, "dom-a", "dom-b", "dom-c")
    for g, want in zip(got, (2.5, 2.5, 5.0)):
        assert abs(g - want) <= 0.2, got   # within 2 points of 10 s
    run(pyxl, "workload", "dom-c", "idle")
    before = got
    run(pyxl, "clock", "advance", "10s")
    after = times(pyxl, "dom-a", "dom-b", "dom-c")
    delta = [a - b for a, b in zip(after, before)]
    assert abs(delta[0] - 2.5) <= 0.2, delta   # the cap holds at 25%
    assert abs(delta[1] - 7.5) <= 0.2, delta   # the other takes the rest
    assert delta[2] < 0.1


@pytest.mark.parametrize("sched", ["credit", "credit2"])
def test_weights_set_with_the_sched_command(pyxl, write_cfg, sched):
    boot(pyxl, sched)
    for n in ("a", "b", "c"):
        run(pyxl, "create", write_cfg(busy_cfg(n), f"{n}.cfg"))
    for n, w in (("a", 64), ("b", 64), ("c", 128)):
        run(pyxl, f"sched-{sched}", "-d", n, "-w", str(w))
    run(pyxl, f"sched-{sched}", "-d", "a", "-c", "25")
    r = run(pyxl, f"sched-{sched}", "-d", "a")
    assert r.out.splitlines()[1].split() == ["a", "1", "64", "25"]
    run(pyxl, "clock", "advance", "2s")   # past the boot
    t0 = times(pyxl, "a", "b", "c")
    run(pyxl, "clock", "advance", "10s")
    d = [x - y for x, y in zip(times(pyxl, "a", "b", "c"), t0)]
    for g, want in zip(d, (2.5, 2.5, 5.0)):
        assert abs(g - want) <= 0.2, d


def test_sched_credit_listing_and_messages(pyxl):
    boot(pyxl, cpus=2)
    r = run(pyxl, "sched-credit")
    assert r.out == ("Cpupool Pool-0: tslice=30ms ratelimit=1000us migration-delay=0us\n"
                     "Name                                ID Weight  Cap\n"
                     "Domain-0                             0    256    0\n")
    r = pyxl("--host", "lab", "sched-credit", "-d", "0", "-w", "70000")
    assert r.code == 1
    assert r.err.splitlines()[-1] == "libxl_domain_sched_params_set failed."
    assert "Cpu weight out of range, valid values are within range from 1 to 65535" in r.err
    assert pyxl("--host", "lab", "sched-credit", "-w", "3").err == "Must specify a domain.\n"
    assert pyxl("--host", "lab", "sched-credit", "-s", "-d", "0").err == (
        "Specifying a cpupool or schedparam is not allowed with domain options.\n")
    assert pyxl("--host", "lab", "sched-credit", "-t", "5").err == (
        "Must specify schedparam to set schedule parameter values.\n")
    r = pyxl("--host", "lab", "sched-credit", "-s", "-t", "5", "-r", "6000")
    assert r.code == 1 and "Ratelimit cannot be greater than timeslice" in r.err
    run(pyxl, "sched-credit", "-s", "-t", "10", "-r", "500")
    assert run(pyxl, "sched-credit", "-s").out == (
        "Cpupool Pool-0: tslice=10ms ratelimit=500us migration-delay=0us\n")
    r = pyxl("--host", "lab", "sched-credit", "-p", "nope")
    assert (r.code, r.err) == (1, "unknown cpupool 'nope'\n")
    r = pyxl("--host", "lab", "sched-credit2", "-d", "0")
    assert r.code == 1 and r.err == "libxl_domain_sched_params_get returned credit not credit2.\n"
    assert run(pyxl, "sched-credit2").out == ""   # no credit2 pool: nothing


def test_rtds_per_vcpu_parameters_and_reservation(pyxl, write_cfg):
    boot(pyxl, "rtds")
    run(pyxl, "create", write_cfg(busy_cfg("rt"), "rt.cfg"))
    run(pyxl, "sched-rtds", "-d", "rt", "-v", "all", "-p", "10000", "-b", "2500", "-e", "0")
    r = run(pyxl, "sched-rtds", "-d", "rt", "-v", "0")
    assert r.out.splitlines() == [
        "Name                                ID VCPU    Period    Budget  Extratime",
        "rt                                   1    0     10000      2500         no"]
    assert pyxl("--host", "lab", "sched-rtds", "-d", "rt", "-p", "1").err == "Must specify VCPU.\n"
    assert pyxl("--host", "lab", "sched-rtds", "-d", "rt", "-v", "0", "-p", "1", "-b", "1"
                ).err == "Incorrect number of period, budget and extratime\n"
    assert pyxl("--host", "lab", "sched-rtds", "-d", "rt", "-v", "0", "-p", "10", "-b", "20",
                "-e", "1").code == 1
    run(pyxl, "clock", "advance", "2s")
    t0 = times(pyxl, "rt")[0]
    run(pyxl, "clock", "advance", "10s")
    assert abs(times(pyxl, "rt")[0] - t0 - 2.5) <= 0.2   # its 25% reservation, no more


def test_sedf_xl_and_xm_syntaxes(pyxl, write_cfg):
    boot(pyxl, "sedf")
    run(pyxl, "create", write_cfg(busy_cfg("a"), "a.cfg"))
    run(pyxl, "create", write_cfg(busy_cfg("b"), "b.cfg"))
    run(pyxl, "sched-sedf", "-d", "a", "-p", "10", "-s", "2", "-e", "0")
    # xm's positional form, in nanoseconds: 20 ms period, 5 ms slice, no extra time
    run(pyxl, "sched-sedf", "b", "20000000", "5000000", "0", "0", "0")
    r = run(pyxl, "sched-sedf", "-d", "b")
    assert r.out.splitlines() == [
        "Name                                ID Period Slice  Latency Extra Weight",
        "b                                    2     20      5       0     0      0"]
    r = run(pyxl, "sched-sedf", "a")   # xm's listing of one domain
    assert r.out.splitlines()[1].split() == ["a", "1", "10.0", "2.0", "0.0", "0", "0"]
    r = pyxl("--host", "lab", "sched-sedf", "a", "-p", "10", "-s", "20")
    assert (r.code, r.err.splitlines()[-1]) == (1, "Failed to set sedf parameters (rv=-22).")
    assert pyxl("--host", "lab", "sched-sedf", "-p", "3").err == "Must specify a domain.\n"
    run(pyxl, "clock", "advance", "2s")
    t0 = times(pyxl, "a", "b")
    run(pyxl, "clock", "advance", "10s")
    d = [x - y for x, y in zip(times(pyxl, "a", "b"), t0)]
    assert abs(d[0] - 2.0) <= 0.2 and abs(d[1] - 2.5) <= 0.2, d


def test_vcpu_pin_keeps_a_domain_on_its_cpu(pyxl, write_cfg):
    boot(pyxl, cpus=4)
    run(pyxl, "create", write_cfg(busy_cfg("p"), "p.cfg"))
    r = run(pyxl, "-N", "vcpu-pin", "p", "all", "2", "0-1")
    assert r.out == "cpumap: 2 0-1\n"
    run(pyxl, "vcpu-pin", "p", "0", "2")
    for _ in range(3):
        run(pyxl, "clock", "advance", "700ms")
        row = run(pyxl, "vcpu-list", "p").out.splitlines()[1]
        assert row.split()[3] == "2" and row.endswith("2 / all"), row
    r = pyxl("--host", "lab", "vcpu-pin", "p", "x", "2")
    assert (r.code, r.err) == (1, "Error: Invalid argument x as VCPU.\n")
    r = pyxl("--host", "lab", "vcpu-pin", "p", "7", "2")
    assert r.code == 1 and r.err.endswith("Could not set affinity for vcpu `7'.\n")
    r = pyxl("--host", "lab", "vcpu-pin", "p", "0", "9-10")
    assert r.code == 1   # no pCPU of the pool left: Xen refuses


def test_same_state_same_results(pyxl, write_cfg, tmp_path, monkeypatch):
    outputs = []
    for run_no in range(2):
        monkeypatch.setenv("PYXL_STATE_DIR", str(tmp_path / f"s{run_no}"))
        boot(pyxl, cpus=2)
        run(pyxl, "create", write_cfg(busy_cfg("a", "workload = \"bursty\"\n"), "a.cfg"))
        run(pyxl, "create", write_cfg(busy_cfg("b", "vcpus = 2\n"), "b.cfg"))
        run(pyxl, "clock", "advance", "7s")
        outputs.append([run(pyxl, c).out for c in ("list", "vcpu-list")]
                       + [run(pyxl, "top", "-b", "-i", "2", "-d", "1").out])
    assert outputs[0] == outputs[1]


def test_sedf_extratime_set_on_a_running_vcpu_takes_effect(pyxl, write_cfg):
    """sedf_adjust's extraq_check: a busy vCPU given extra time joins the
    extra-time queue at once and takes the slack (the classic 20/100, 2/10,
    5/10 with dom-c's extra time turned on after the start: 20/20/60%)."""
    assert pyxl("host", "boot", "s", "--sched", "sedf", "--cpus", "1",
                "--clock", "manual").code == 0
    for n in "abc":
        cfg = write_cfg(f'name = "dom-{n}"\ntype = "pv"\nkernel = "/k"\nmemory = 64\n'
                        'workload = "busy"\n', f"{n}.cfg")
        assert pyxl("--host", "s", "create", "-q", cfg).code == 0
    pyxl("--host", "s", "clock", "advance", "3s")
    for dom, p, s in (("dom-a", "100", "20"), ("dom-b", "10", "2"), ("dom-c", "10", "5")):
        assert pyxl("--host", "s", "sched-sedf", "-d", dom, "-p", p, "-s", s, "-e", "0").code == 0

    def times():
        rows = pyxl("--host", "s", "list").out.splitlines()[2:]
        return {r.split()[0]: float(r.split()[5]) for r in rows}

    pyxl("--host", "s", "clock", "advance", "1s")
    t0 = times()
    pyxl("--host", "s", "clock", "advance", "10s")
    t1 = times()
    assert [round(t1[d] - t0[d], 1) for d in ("dom-a", "dom-b", "dom-c")] == [2.0, 2.0, 5.0]
    assert pyxl("--host", "s", "sched-sedf", "-d", "dom-c", "-e", "1").code == 0
    pyxl("--host", "s", "clock", "advance", "10s")
    t2 = times()
    assert [round(t2[d] - t1[d], 1) for d in ("dom-a", "dom-b", "dom-c")] == [2.0, 2.0, 6.0]
