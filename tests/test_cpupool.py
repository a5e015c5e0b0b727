"""CPU pools through the CLI: xl's output and messages, persistence, scheduling."""

from pathlib import Path

POOL_CFG = str(Path(__file__).resolve().parent / "data" / "pools" / "batch.cfg")
HEADER = "Name               CPUs   Sched     Active   Domain count\n"


def run(pyxl, *args):
    r = pyxl(*args)
    assert r.code == 0, (args, r.err)
    return r


def xs_read(path):
    """Straight from the host's XenStore (the xenstore-* commands are another module)."""
    from pyxl.toolstack.session import open_ctx

    with open_ctx(None, write=False) as ctx:
        xs = ctx.xs()
        return xs.read(path).decode() if xs.exists(path) else None


def test_pool0_exists_from_boot(pyxl):
    assert run(pyxl, "cpupool-list").out == HEADER + \
        "Pool-0               8    credit       y          1\n"
    assert run(pyxl, "cpupool-list", "-c").out == \
        "Name               CPU list\nPool-0             0,1,2,3,4,5,6,7\n"
    r = pyxl("cpupool-list", "nope")
    assert (r.code, r.err) == (1, "Pool 'nope' does not exist\n")


def test_create_from_a_pool_config_file(pyxl):
    r = pyxl("cpupool-create", "-n", POOL_CFG)
    assert (r.code, r.err) == (1, "cpu 2 illegal or not free\n")   # Pool-0 has them all
    run(pyxl, "cpupool-cpu-remove", "Pool-0", "2-3")
    r = run(pyxl, "cpupool-create", "-n", POOL_CFG)
    assert r.out == (f'Using config file "{POOL_CFG}"\ncpupool name:   Batch-Pool\n'
                     "scheduler:      credit\nnumber of cpus: 2\n")
    assert "Batch" not in run(pyxl, "cpupool-list").out   # dry run: nothing made
    run(pyxl, "cpupool-create", POOL_CFG, 'sched="credit2"')
    assert run(pyxl, "cpupool-list").out == HEADER + (
        "Pool-0               6    credit       y          1\n"
        "Batch-Pool           2   credit2       y          0\n")
    assert xs_read("/local/pool/1/name") == "Batch-Pool"
    assert xs_read("/local/pool/0/name") == "Pool-0"
    r = pyxl("cpupool-create", POOL_CFG)
    assert (r.code, r.err) == (1, 'Pool name "Batch-Pool" already exists\n')
    r = pyxl("cpupool-create", "sched=\"credit\"")
    assert (r.code, r.err) == (1, "Missing cpupool name!\n")
    r = pyxl("cpupool-create", "name=\"x\"", "sched=\"nosuch\"")
    assert (r.code, r.err) == (1, "Unknown scheduler\n")


def test_pool_life_cycle_and_migration(pyxl, guest_cfg):
    run(pyxl, "cpupool-cpu-remove", "Pool-0", "6,7")
    run(pyxl, "cpupool-create", "name=\"rt\"", "sched=\"rtds\"", "cpus=\"6-7\"")
    run(pyxl, "create", guest_cfg("vm1"))
    run(pyxl, "cpupool-migrate", "vm1", "rt")
    assert run(pyxl, "list", "-c", "vm1").out.splitlines()[1].endswith("rt")
    # the domain now takes RTDS's defaults and runs only on the pool's pCPUs
    assert run(pyxl, "sched-rtds", "-d", "vm1").out.splitlines()[1].split() == \
        ["vm1", "1", "10000", "4000", "yes"]
    run(pyxl, "clock", "advance", "3s")
    for row in run(pyxl, "vcpu-list", "vm1").out.splitlines()[1:]:
        assert row.split()[3] in ("6", "7")
    r = pyxl("cpupool-destroy", "rt")
    assert (r.code, r.err) == (1, "Can't destroy cpupool 'rt'\n")
    r = pyxl("cpupool-cpu-remove", "rt", "6-7")   # the last pCPU stays: vm1 lives there
    assert r.code == 0 and "Some cpus may have not or only partially been removed from 'rt'." in r.err
    r = pyxl("cpupool-migrate", "Domain-0", "rt")
    assert r.code == 1
    assert pyxl("cpupool-migrate", "nodom", "rt").err == "unknown domain 'nodom'\n"
    run(pyxl, "cpupool-migrate", "vm1", "Pool-0")
    run(pyxl, "cpupool-rename", "rt", "gone")
    assert xs_read("/local/pool/1/name") == "gone"
    r = run(pyxl, "cpupool-cpu-add", "gone", "0")   # busy in Pool-0: partial failure, exit 0
    assert "some cpus may not have been added to gone" in r.err
    run(pyxl, "cpupool-destroy", "gone")
    assert run(pyxl, "cpupool-list").out.count("\n") == 2
    assert xs_read("/local/pool/1/name") is None
    r = pyxl("cpupool-cpu-add", "Pool-0", "6-7")
    assert r.code == 0 and r.err == ""
    assert run(pyxl, "cpupool-list", "-c").out.endswith("Pool-0             0,1,2,3,4,5,6,7\n")


def test_numa_split_on_a_one_node_host(pyxl):
    run(pyxl, "cpupool-numa-split")
    assert run(pyxl, "cpupool-list").out == HEADER + \
        "Pool-node0           8    credit       y          1\n"
    run(pyxl, "cpupool-cpu-remove", "Pool-node0", "7")
    run(pyxl, "cpupool-create", "name=\"p\"", "cpus=[\"7\"]")
    r = pyxl("cpupool-numa-split")
    assert (r.code, r.err) == (1, "splitting not possible, already cpupools in use\n")


def test_bad_cpu_lists(pyxl):
    r = pyxl("cpupool-cpu-add", "Pool-0", "x-y")
    assert (r.code, r.err) == (1, "Invalid pcpu range: x-y.\n")
    r = pyxl("cpupool-cpu-add", "nope", "1")
    assert (r.code, r.err) == (1, "unknown cpupool 'nope'\n")
