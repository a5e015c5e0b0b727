"""pyxl sched-trace: what the scheduler did and why, committed or as a dry run."""

import json


def run(pyxl, *args):
    r = pyxl("--host", "lab", *args)
    assert r.code == 0, (args, r.err)
    return r


def setup(pyxl, write_cfg):
    assert pyxl("host", "boot", "lab", "--cpus", "1", "--clock", "manual").code == 0
    for name, weight in (("a", 128), ("b", 256)):
        cfg = (f'name = "{name}"\ntype = "pvh"\nkernel = "/k"\nmemory = 128\nvcpus = 1\n'
               f'workload = "busy"\ncpu_weight = {weight}\n')
        run(pyxl, "create", write_cfg(cfg, f"{name}.cfg"))
    run(pyxl, "clock", "advance", "2s")


def test_json_shares_follow_weights_and_the_advance_is_kept(pyxl, write_cfg):
    setup(pyxl, write_cfg)
    data = json.loads(run(pyxl, "sched-trace", "3s", "--json", "--columns", "30").out)
    assert data["sched"] == "credit" and data["committed"] is True
    assert data["t1_ns"] - data["t0_ns"] == 3_000_000_000
    share = {v["name"]: v["share"] for v in data["vcpus"]}
    assert abs(share["a"] - 33.3) <= 2 and abs(share["b"] - 66.7) <= 2
    a = next(v for v in data["vcpus"] if v["name"] == "a")
    assert len(a["timeline"]) == 30 and set(a["pri"]) <= {"UNDER", "OVER", "BOOST"}
    reasons = {d["reason"] for d in data["decisions"]}
    assert "accounting" in reasons and "slice end" in reasons
    assert "now:      5s" in run(pyxl, "clock", "show").out


def test_dry_run_changes_nothing(pyxl, write_cfg):
    setup(pyxl, write_cfg)
    before = run(pyxl, "list").out
    first = run(pyxl, "sched-trace", "1s", "--dry-run", "--json").out
    assert run(pyxl, "list").out == before
    assert json.loads(first)["committed"] is False
    assert run(pyxl, "sched-trace", "1s", "--dry-run", "--json").out == first  # repeatable


def test_text_view_and_svg(pyxl, write_cfg, tmp_path):
    setup(pyxl, write_cfg)
    svg = tmp_path / "trace.svg"
    r = run(pyxl, "sched-trace", "500ms", "--last", "5", "--svg", str(svg))
    assert r.out.startswith("sched-trace: cpupool Pool-0 (credit, 1 pCPU)")
    assert "d1v0" in r.out and "Decisions:" in r.out
    assert svg.read_text().startswith("<svg")
    r = pyxl("--host", "lab", "sched-trace", "soon")
    assert r.code == 1 and "invalid duration 'soon'" in r.err


def test_an_svg_path_that_cannot_be_written_is_refused_before_the_trace(pyxl, tmp_path):
    r = pyxl("sched-trace", "250ms", "--svg", str(tmp_path))
    assert (r.code, r.err) == (1, f"cannot write '{tmp_path}': Is a directory\n")
    r = pyxl("sched-trace", "250ms", "--svg", str(tmp_path / "no" / "x.svg"))
    assert r.code == 1 and r.err.endswith(": No such file or directory\n")
    assert "now:      0s" in pyxl("clock", "show").out  # nothing ran
