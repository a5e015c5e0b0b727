"""Draw the labs' pictures: the rich view of chosen `sched-trace` commands, as SVG.

Each lesson's transcript is run on a fresh state directory, exactly as
tests/test_labs.py runs it, and the Nth `sched-trace` of a lesson is run with
`--svg docs/labs/img/NAME.svg` added, so a picture shows the very trace the
lesson prints. Run it from anywhere after changing a lesson or the scheduler:

    python docs/labs/make_images.py [OUTDIR]
"""

from __future__ import annotations

import io
import os
import shlex
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# lesson file -> {which sched-trace of it (1 = the first): picture}
IMAGES = {
    "3-credit.md": {1: "credit-64-64-128.svg", 2: "credit-cap.svg"},
    "4-sedf.md": {1: "sedf-classic.svg"},
}


def _run(words: list[str]) -> None:
    from pyxl.cli.main import main

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        try:
            main(words)
        except SystemExit:
            pass


def draw(lesson: str, pictures: dict[int, str], outdir: Path) -> list[Path]:
    """Run one lesson's transcript, saving the chosen traces."""
    from pyxl.toolstack.labs import transcript

    os.environ.update(PYXL_STATE_DIR=tempfile.mkdtemp(prefix="pyxl-labs-"),
                      PYXL_CLOCK="manual", TZ="UTC")
    os.environ.pop("PYXL_HOST", None)
    written, traces = [], 0
    for command in transcript((HERE / lesson).read_text(encoding="utf-8")):
        if command.argv.startswith("export "):
            name, _, value = command.argv[len("export "):].partition("=")
            os.environ[name] = value
            continue
        words = shlex.split(command.argv)
        if words[0] not in ("pyxl", "xl"):
            continue
        words = words[1:]
        if "sched-trace" in words:
            traces += 1
            if traces in pictures:
                path = outdir / pictures[traces]
                words += ["--svg", str(path)]
                written.append(path)
        _run(words)
    return written


def main(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(REPO)  # lessons name configs/ from the top of the repository
    try:
        return [p for lesson, pictures in IMAGES.items()
                for p in draw(lesson, pictures, outdir)]
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    for path in main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE / "img"):
        print(path)
