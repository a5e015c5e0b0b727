"""pyxl top (xentop): batch lines scripts can parse, CPU% from simulated time."""

HEADER = ("      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS "
          "NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID")


def run(pyxl, *args):
    r = pyxl(*args)
    assert r.code == 0, (args, r.err)
    return r


def test_batch_format_and_cpu_percent(pyxl, write_cfg):
    run(pyxl, "host", "boot", "lab", "--cpus", "1", "--clock", "manual")
    cfg = ('name = "a-very-long-guest"\ntype = "pvh"\nkernel = "/k"\nmemory = 512\n'
           'vcpus = 1\nworkload = "busy"\n')
    run(pyxl, "--host", "lab", "create", write_cfg(cfg))
    run(pyxl, "--host", "lab", "clock", "advance", "5s")
    r = run(pyxl, "--host", "lab", "top", "-b", "-i", "2", "-d", "2")
    lines = r.out.splitlines()
    assert lines[0] == HEADER and lines[3] == HEADER
    first, second = lines[1].split(), lines[4].split()
    assert lines[1].startswith("a-very-lon -----r")   # %10.10s, sorted by name
    assert first[3] == "0.0"                         # no previous sample yet
    assert float(second[3]) > 95.0                   # busy guest on the only pCPU
    assert int(second[2]) - int(first[2]) in (1, 2)  # CPU(sec): about 2 s more
    assert first[4] == "524288" and first[8] == "1"
    assert lines[2].split()[0] == "Domain-0"
    # a manual clock moved by the delay for each iteration after the first
    assert "now:      7s" in run(pyxl, "--host", "lab", "clock", "show").out


def test_full_name_vcpus_and_dom0_first(pyxl, write_cfg):
    run(pyxl, "create", write_cfg('name = "Zed"\ntype = "pv"\nkernel = "/k"\nmemory = 128\n'
                                  'vcpus = 2\n'))
    r = run(pyxl, "top", "-b", "-i", "1", "-f", "-v", "-z")
    lines = r.out.splitlines()
    assert lines[1].split()[0] == "Domain-0"
    assert lines[-2].split()[0] == "Zed"
    assert lines[-1].startswith("VCPUs(sec):   0:") and " 1: " in lines[-1]
