"""pyxl's --json on every table: each parses, has exactly the fields
docs/json.md documents, carries the numbers the table shows, and leaves the
table itself (and xl's help) as it was."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "json.md"
DEVICES = 'vif = ["bridge=xenbr0,mac=00:16:3e:01:02:03"]\ndisk = ["/srv/vm1.img,raw,xvda,rw"]\n'


def documented() -> dict[str, set[str]]:
    """docs/json.md's field tables, by command (a heading may name several)."""
    tables: dict[str, set[str]] = {}
    names: list[str] = []
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            names = [m.split()[0] for m in re.findall(r"`([^`]+)`", line)]
            for name in names:
                tables.setdefault(name, set())
        elif line.startswith("| `") and names:
            field = re.match(r"\| `([^`]+)`", line).group(1)
            for name in names:
                tables[name].add(field)
    return tables


FIELDS = documented()


def shape(obj, fields: set[str], prefix: str = "") -> set[str]:
    """The field paths of a JSON object as docs/json.md writes them (`a[].b`),
    going into a list only where the document describes its items."""
    found = set()
    for key, value in obj.items():
        path = prefix + key
        if isinstance(value, list) and any(f.startswith(path + "[].") for f in fields):
            for item in value:
                found |= shape(item, fields, path + "[].")
        else:
            found.add(path)
    return found


def rows_of(pyxl, *args):
    r = pyxl(*args, "--json")
    assert (r.code, r.err) == (0, ""), r.err
    return json.loads(r.out)


def check_rows(pyxl, command: str, *args, fields: set[str] | None = None):
    """A list document whose every item has exactly the documented fields."""
    rows = rows_of(pyxl, command, *args)
    assert isinstance(rows, list) and rows
    want = FIELDS[command] if fields is None else fields
    for row in rows:
        assert shape(row, want) == want
    return rows


@pytest.fixture
def host(pyxl, guest_cfg):
    assert pyxl("create", "-q", guest_cfg(extra=DEVICES)).code == 0
    assert pyxl("create", "-q", guest_cfg("vm2", memory=300, vcpus=1), "-p").code == 0
    pyxl("clock", "advance", "7s")
    return "vm1"


def test_every_command_of_the_brief_is_documented():
    for name in ("list", "claims", "vm-list", "sharing", "uptime", "vcpu-list", "info",
                 "cpupool-list", "sched-credit", "sched-credit2", "sched-rtds", "sched-sedf",
                 "network-list", "block-list", "channel-list", "pci-list", "usb-list",
                 "vkb-list", "vtpm-list", "vdispl-list", "vsnd-list", "xenstore-ls", "top"):
        assert name in FIELDS, name


def test_list_agrees_with_the_table(pyxl, host):
    from pyxl.cli.base import c_seconds

    rows = check_rows(pyxl, "list")
    table = pyxl("list").out.splitlines()[1:]
    assert [r["name"] for r in rows] == ["Domain-0", "vm1", "vm2"]
    for line, r in zip(table, rows):
        want = (f"{r['name']:<40} {r['domid']:>5} {r['memory_kb'] // 1024:>5} {r['vcpus']:>5}"
                f"     {r['state']}  {c_seconds(r['cpu_time_ns']):>8.1f}")
        assert line == want and r["mem_mib"] == r["memory_kb"] // 1024
    assert rows[2]["state"] == "--p---" and rows[1]["cpupool"] == "Pool-0"
    assert rows[1]["cpu_time_ns"] > 0 and rows[1]["shutdown_reason"] is None
    assert [r["domid"] for r in rows_of(pyxl, "list", "vm2")] == [2]


def test_list_default_bytes_and_help_stay_xls(pyxl, host):
    before = pyxl("list").out
    assert before.startswith("Name                                        ID   Mem VCPUs\tState"
                             "\tTime(s)\n")
    rows_of(pyxl, "list")
    assert pyxl("list").out == before
    for cmd in ("list", "vcpu-list", "info", "sched-credit", "top", "network-list"):
        assert "json" not in pyxl("help", cmd).out
    assert "json" not in pyxl("help").out
    assert pyxl("list", "-l", "--json").out == pyxl("list", "-l").out


def test_claims_vm_list_sharing_uptime(pyxl, host):
    claims = check_rows(pyxl, "claims")
    assert all(r["outstanding_memkb"] == 0 for r in claims)
    vms = check_rows(pyxl, "vm-list")
    table = pyxl("vm-list").out.splitlines()[1:]
    assert [line.split() for line in table] == [[r["uuid"], str(r["domid"]), r["name"]]
                                                for r in vms]
    shared = check_rows(pyxl, "sharing")
    assert [line.split()[2] for line in pyxl("sharing").out.splitlines()[1:]] == \
        [str(r["memory_kb"] // 1024) for r in shared]
    up = check_rows(pyxl, "uptime")
    assert [r["uptime_s"] for r in up][1:] == [7, 7]
    assert [line.split()[-1] for line in pyxl("uptime").out.splitlines()[1:]] == \
        [f"0:00:{r['uptime_s']:02d}" for r in up]


def test_vcpu_list_agrees_with_the_table(pyxl, host):
    from pyxl.cli.base import c_seconds

    rows = check_rows(pyxl, "vcpu-list")
    table = pyxl("vcpu-list").out.splitlines()[1:]
    assert len(rows) == len(table) == 8 + 2 + 1
    for line, r in zip(table, rows):
        cols = line.split()
        assert cols[:3] == [r["name"], str(r["domid"]), str(r["vcpu"])]
        assert cols[4] == r["state"]
        assert cols[5] == f"{c_seconds(r['cpu_time_ns']):.1f}"
        assert line.endswith(f"{r['affinity_hard']} / {r['affinity_soft']}")
        assert cols[3] == ("-" if r["cpu"] is None else str(r["cpu"]))


def test_info_has_every_key_the_table_prints(pyxl, host):
    doc = rows_of(pyxl, "info")
    table = pyxl("info").out.splitlines()
    assert list(doc) == [line.split(":")[0].rstrip() for line in table]
    assert doc["nr_cpus"] == 8 and isinstance(doc["cpu_mhz"], float)
    assert doc["xen_version"] == pyxl("info", "xen_version").out.strip()
    numa = rows_of(pyxl, "info", "-n")
    fields = FIELDS["info"]
    assert shape({k: numa[k] for k in ("cpu_topology", "numa_info")}, fields) == fields
    assert list(rows_of(pyxl, "info", "xen_m")) == ["xen_major", "xen_minor"]


def test_cpupool_list(pyxl, host):
    rows = check_rows(pyxl, "cpupool-list")
    line = pyxl("cpupool-list").out.splitlines()[1].split()
    r = rows[0]
    assert line == [r["name"], str(r["n_cpus"]), r["sched"], "y", str(r["n_dom"])]
    assert r["cpus"] == list(range(8)) and r["n_dom"] == 3


def test_sched_credit_pools_and_domains(pyxl, host):
    assert pyxl("sched-credit", "-d", "vm1", "-w", "512", "-c", "25").code == 0
    pools = check_rows(pyxl, "sched-credit")
    assert pools[0]["params"] == {"tslice_ms": 30, "ratelimit_us": 1000,
                                  "migration_delay_us": 0}
    table = pyxl("sched-credit").out.splitlines()[2:]
    assert [line.split() for line in table] == [
        [d["name"], str(d["domid"]), str(d["weight"]), str(d["cap"])]
        for d in pools[0]["domains"]]
    one = rows_of(pyxl, "sched-credit", "-d", "vm1")
    assert one == [{"name": "vm1", "domid": 1, "weight": 512, "cap": 25}]
    assert rows_of(pyxl, "sched-credit", "-s") == {k: pools[0][k]
                                                   for k in ("cpupool", "poolid", "params")}
    r = pyxl("sched-credit", "-d", "nosuch", "--json")
    assert r.code == 1 and r.out == ""


def _lab(pyxl, write_cfg, sched):
    r = pyxl("host", "boot", "lab", "--cpus", "2", "--sched", sched, "--clock", "manual")
    assert r.code == 0, r.err
    cfg = write_cfg('name = "a"\ntype = "pvh"\nkernel = "/boot/vmlinuz"\nmemory = 256\n'
                    'vcpus = 2\n', "a.cfg")
    assert pyxl("--host", "lab", "create", cfg).code == 0


def test_sched_credit2(pyxl, write_cfg):
    _lab(pyxl, write_cfg, "credit2")
    pools = rows_of(pyxl, "--host", "lab", "sched-credit2")
    assert shape(pools[0], FIELDS["sched-credit2"]) == FIELDS["sched-credit2"]
    assert pools[0]["params"] == {"ratelimit_us": 1000}
    assert [d["name"] for d in pools[0]["domains"]] == ["Domain-0", "a"]


def test_sched_rtds(pyxl, write_cfg):
    _lab(pyxl, write_cfg, "rtds")
    assert pyxl("--host", "lab", "sched-rtds", "-d", "a", "-v", "all", "-p", "10000",
                "-b", "2500", "-e", "1").code == 0
    pools = rows_of(pyxl, "--host", "lab", "sched-rtds")
    assert shape(pools[0], FIELDS["sched-rtds"]) == FIELDS["sched-rtds"]
    assert pools[0]["params"] is None
    per_vcpu = rows_of(pyxl, "--host", "lab", "sched-rtds", "-d", "a", "-v", "all")
    assert per_vcpu == [{"name": "a", "domid": 1, "vcpu": v, "period_us": 10000,
                         "budget_us": 2500, "extratime": True} for v in (0, 1)]
    table = pyxl("--host", "lab", "sched-rtds", "-d", "a", "-v", "all").out.splitlines()
    assert table[1].split() == ["a", "1", "0", "10000", "2500", "yes"]


def test_sched_sedf_both_forms(pyxl, write_cfg):
    _lab(pyxl, write_cfg, "sedf")
    assert pyxl("--host", "lab", "sched-sedf", "-d", "a", "-p", "20", "-s", "5",
                "-e", "0").code == 0
    pools = rows_of(pyxl, "--host", "lab", "sched-sedf")
    assert shape(pools[0], FIELDS["sched-sedf"]) == FIELDS["sched-sedf"]
    want = [{"name": "a", "domid": 1, "period_ms": 20, "slice_ms": 5, "latency_ms": 0,
             "extratime": 0, "weight": 0}]
    assert rows_of(pyxl, "--host", "lab", "sched-sedf", "-d", "a") == want
    assert rows_of(pyxl, "--host", "lab", "sched-sedf", "a") == want   # xm's form
    assert pyxl("--host", "lab", "sched-sedf", "-d", "a").out.splitlines()[1].split() == \
        ["a", "1", "20", "5", "0", "0", "0"]


def test_network_and_block_list(pyxl, host):
    nics = check_rows(pyxl, "network-list", "vm1")
    line = pyxl("network-list", "vm1").out.splitlines()[1]
    n = nics[0]
    assert n["mac"] == "00:16:3e:01:02:03" and n["frontend_id"] == 1 and n["state"] == 4
    assert line.split()[-1] == n["backend"] and f"{n['rref_tx']}/{n['rref_rx']}" in line
    disks = check_rows(pyxl, "block-list", "vm1")
    d = disks[0]
    assert pyxl("block-list", "vm1").out.splitlines()[1].split() == [
        str(d[k]) for k in ("devid", "backend_id", "frontend_id", "state", "evtch", "rref",
                            "backend")]
    assert rows_of(pyxl, "network-list", "vm2") == []
    assert rows_of(pyxl, "channel-list", "vm1") == []
    r = pyxl("network-list", "nosuch", "--json")
    assert r.code != 0 and r.out == ""


def test_pci_and_usb_list(pyxl, host):
    assert pyxl("pci-assignable-add", "02:00.0").code == 0
    assert pyxl("pci-attach", "vm1", "02:00.0").code == 0
    rows = check_rows(pyxl, "pci-list", "vm1")
    assert [f"{r['vdev']} {r['bdf']}" for r in rows] == \
        pyxl("pci-list", "vm1").out.splitlines()[1:]
    assert pyxl("usbdev-attach", "vm1", "hostbus=1", "hostaddr=2").code == 0
    ctrls = check_rows(pyxl, "usb-list", "vm1")
    assert ctrls[0]["devices"][0] == {"port": 1, "hostbus": 1, "hostaddr": 2}
    assert ctrls[0]["devices"][1]["hostbus"] is None
    assert len(ctrls[0]["devices"]) == ctrls[0]["ports"]
    assert pyxl("usb-list", "vm1").out.splitlines()[1].split()[0] == str(ctrls[0]["devid"])


VDEV = {"vkb": (("backend-type=linux", "unique-id=kb0"),
                {"evtch", "rref", "unique_id", "backend_type"}),
        "vtpm": (("uuid=AC6F641A-03E6-49B6-AFC5-4B599019C1AB",), {"evtch", "rref", "uuid"}),
        "vdispl": (("connectors=id0:800x600",), {"be_alloc", "connectors"}),
        "vsnd": (("card,short-name=Card,long-name=Long", "pcm,name=dev0",
                  "stream,unique-id=s0,type=p"), {"short_name", "long_name", "params", "pcms"})}


@pytest.mark.parametrize("kind", sorted(VDEV))
def test_vdev_lists(pyxl, host, kind):
    spec, extra = VDEV[kind]
    assert pyxl(f"{kind}-attach", "vm1", *spec).code == 0
    pyxl("clock", "advance", "1s")
    common = {f for f in FIELDS[f"{kind}-list"] if "[]" not in f}
    rows = check_rows(pyxl, f"{kind}-list", "vm1", fields=common | extra)
    assert rows[0]["frontend_id"] == 1 and rows[0]["state"] == 4
    assert rows[0]["backend"] in pyxl(f"{kind}-list", "vm1").out


def test_xenstore_ls(pyxl, host):
    rows = check_rows(pyxl, "xenstore-ls", "/local/domain/1/device/vif")
    flat = pyxl("xenstore-ls", "-fp", "/local/domain/1/device/vif").out.splitlines()
    assert len(rows) == len(flat)
    for r, line in zip(rows, flat):
        assert line.startswith(f'{r["path"]} = "{r["value"]}"')
        assert line.endswith(f"({','.join(r['perms'])})")
    assert rows[0]["perms"] == ["n1", "r0"]
    r = pyxl("xenstore-read", "--json", "/local/domain/1/name")
    assert "unrecognized option '--json'" in r.err
    r = pyxl("xenstore-ls", "--json", "/nosuch")
    assert r.code == 1 and r.out == ""


def test_top_prints_one_line_of_json_per_iteration(pyxl, host):
    r = pyxl("top", "-b", "-i", "2", "-d", "1", "--json")
    assert (r.code, r.err) == (0, "")
    docs = [json.loads(line) for line in r.out.splitlines()]
    assert len(docs) == 2 and docs[1]["now_ns"] - docs[0]["now_ns"] == 1_000_000_000
    fields = FIELDS["top"]
    for doc in docs:
        assert shape(doc, fields) == fields
    vm1 = next(d for d in docs[1]["domains"] if d["name"] == "vm1")
    assert vm1["cpu_pct"] > 0 and vm1["maxmem_kb"] >= vm1["mem_kb"] > 0
    assert len(vm1["networks"]) == 1 and len(vm1["vbd_list"]) == 1
    table = pyxl("top", "-b", "-i", "1").out.splitlines()
    now = rows_of(pyxl, "top", "-b", "-i", "1")
    for line in table[1:]:
        cols = line.split()
        d = next(x for x in now["domains"] if x["name"] == cols[0])
        assert cols[2:5] == [str(d["cpu_ns"] // 10**9), "0.0", str(d["mem_kb"])]
        assert cols[10] == str(d["nettx_bytes"] // 1024)
