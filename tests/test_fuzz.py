"""A seeded fuzz test over every command: mutated configs, odd command lines.

Each case must end the way xl ends: no internal error, no traceback, an exit
status xl uses, and a failure says something on stderr. Cases come from
fuzzgen.py in episodes (a fresh host, then ten cases), the same ones every
run. PYXL_FUZZ_CASES sets how many cases the normal test runs (default 200);
the slow test runs 2000; PYXL_FUZZ_EPISODES=3,17 replays only those episodes.

Commands run in this process, with stdout encoded strictly as UTF-8 and
stderr with backslashreplace, as a Python process in a UTF-8 locale does, so
a non-UTF-8 byte in argv (surrogate-escaped) meets the encoder it would meet.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import fuzzgen
from conftest import CORPUS, REPO
from pyxl.cli.cmdtable import lookup

# The exit statuses xl has (reference/xl-commands.md §2.6) that pyxl uses:
# 0 and 1 (EXIT_SUCCESS / EXIT_FAILURE), 2 (getopt usage errors, surplus
# create arguments), and create's negated libxl codes: 3 (ERROR_FAIL:
# unreadable config, duplicate name, build failure) and 6 (ERROR_INVAL: no
# config file). click's own usage errors in pyxl's host/clock commands are 2.
# The device commands return their rc as is: -1 from a spec parser (255, e.g.
# vsnd-attach's "Invalid key") and ERROR_FAIL from libxl (253, vkb-attach).
XL_EXIT_CODES = {0, 1, 2, 3, 6, 253, 255}

HANG_S = 60  # a guard so a case that never returns fails instead of stalling CI

FAST_CASES = int(os.environ.get("PYXL_FUZZ_CASES", "200"))
SLOW_CASES = 2000


class Hang(BaseException):
    """Raised by the guard's alarm; a BaseException so pyxl cannot swallow it."""


@dataclass
class Outcome:
    code: int | None
    out: str
    err: str
    raised: BaseException | None = None  # what pyxl's run() raised, if anything
    escaped: BaseException | None = None  # what got past main() itself


@dataclass
class Failure:
    episode: int
    index: int  # position in the episode's case list
    problem: str
    signature: str
    count: int = 1
    script: list[fuzzgen.Case] = field(default_factory=list)


def run_argv(argv: list[str]) -> Outcome:
    """pyxl's real entry point, with the run() it calls watched for exceptions."""
    from pyxl.cli import main as cli_main

    out_b, err_b = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_b, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(err_b, encoding="utf-8", errors="backslashreplace",
                           write_through=True)
    real_run = cli_main.run
    seen: list[BaseException] = []

    def watched_run(args):
        try:
            return real_run(args)
        except BaseException as e:
            seen.append(e)
            raise

    def alarm(*_):
        raise Hang(f"no answer after {HANG_S} s")

    guard = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if guard:
        old_alarm = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, HANG_S)
    cli_main.run = watched_run
    code, escaped = None, None
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                cli_main.main(list(argv))
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException as e:  # noqa: BLE001 - anything here is the finding
                escaped = e
    finally:
        if guard:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_alarm)
        cli_main.run = real_run
    return Outcome(code, out_b.getvalue().decode("utf-8", "replace"),
                   err_b.getvalue().decode("utf-8", "replace"),
                   seen[-1] if seen else None, escaped)


def where(exc: BaseException) -> str:
    """The innermost pyxl frame an exception passed through: file:line in func."""
    import pyxl

    package = Path(pyxl.__file__).resolve().parent
    for f in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(f.filename).resolve()
        if path.is_relative_to(package):
            return f"pyxl/{path.relative_to(package).as_posix()}:{f.lineno} in {f.name}"
    return "outside pyxl"


def judge(case: fuzzgen.Case, o: Outcome) -> tuple[str, str] | None:
    """(problem, signature) when the outcome breaks the rules, else None."""
    command = command_of(case.argv)
    if o.escaped is not None:
        e = o.escaped
        kind = "hang" if isinstance(e, Hang) else "escaped main()"
        return f"{kind}: {type(e).__name__}: {e}", f"{kind} {type(e).__name__} at {where(e)}"
    if "internal error" in o.err or "Traceback" in o.err + o.out:
        e = o.raised
        name = type(e).__name__ if e is not None else "?"
        at = where(e) if e is not None else command
        return f"internal error: {o.err.strip()[:300]}", f"{name} at {at}"
    if o.code not in XL_EXIT_CODES:
        return f"exit status {o.code}", f"exit {o.code} from {command}"
    if case.setup and o.code != 0:
        return f"setup step failed (exit {o.code}): {o.err.strip()[:300]}", \
            f"setup {' '.join(case.argv[:2])}"
    if o.code != 0 and not o.err.strip() and not _quiet_failure_is_xls(case, o):
        return f"exit {o.code} with nothing on stderr", f"silent exit {o.code} from {command}"
    return None


def command_of(argv: list[str]) -> str:
    """The subcommand word, past the global options."""
    args = iter(argv)
    for arg in args:
        if arg in ("--host", "--as-domid"):
            next(args, None)
        elif not arg.startswith("-") or arg == "-":
            return arg
    return ""


def _quiet_failure_is_xls(case: fuzzgen.Case, o: Outcome) -> bool:
    """Failures where xl, too, says nothing on stderr."""
    if o.out.startswith(("Usage xl", "Usage: xl")):
        return True  # xl prints the help to stdout (no subcommand, surplus arguments)
    command = command_of(case.argv)
    spec = lookup(command)
    name = spec.name if spec is not None else command
    # libxl_psr_get_hw_info fails without a word on a host without PSR, and
    # xl's psr-hwinfo returns its rc (253) after the CMT lines
    if name == "psr-hwinfo" and o.code == 253:
        return True
    # without FLASK, getenforce says so on stdout and returns libxl's -1
    if name == "getenforce" and o.code == 255 and o.out == "Flask XSM Disabled\n":
        return True
    # xenstore-exists answers "no" by its status alone, as the real tool does
    return command.startswith("xenstore-e")


def run_cases(cases: list[fuzzgen.Case], folder: Path, monkeypatch
              ) -> list[tuple[int, str, str]]:
    """Run cases on a fresh state directory; (index, problem, signature) of each
    one that broke a rule."""
    work = folder / "work"
    (work / "sub").mkdir(parents=True)
    monkeypatch.setenv("PYXL_STATE_DIR", str(folder / "state"))
    monkeypatch.chdir(work)
    bad = []
    for i, case in enumerate(cases):
        for name, data in case.files.items():
            (work / name).write_bytes(data)
        verdict = judge(case, run_argv(case.argv))
        if verdict is not None:
            bad.append((i, *verdict))
    return bad


def shortest_script(cases: list[fuzzgen.Case], index: int, signature: str,
                    folder: Path, monkeypatch) -> list[fuzzgen.Case]:
    """The failing case alone, or after the setup, if that still fails the same way."""
    setup = [c for c in cases if c.setup]
    for k, candidate in enumerate(([cases[index]], setup + [cases[index]])):
        bad = run_cases(candidate, folder / f"shrink{k}", monkeypatch)
        if bad and bad[-1][0] == len(candidate) - 1 and bad[-1][2] == signature:
            return candidate
    return cases[:index + 1]


def fuzz(count: int, tmp_path: Path, monkeypatch) -> dict[str, Failure]:
    shapes = fuzzgen.shapes()
    seeds = fuzzgen.seed_configs(REPO, CORPUS if CORPUS.is_dir() else None)
    wanted = os.environ.get("PYXL_FUZZ_EPISODES")
    numbers = ([int(n) for n in wanted.split(",")] if wanted else
               range(-(-count // fuzzgen.CASES_PER_EPISODE)))
    failures: dict[str, Failure] = {}
    for n in numbers:
        cases = fuzzgen.episode(n, shapes, seeds)
        for index, problem, signature in run_cases(cases, tmp_path / f"ep{n}", monkeypatch):
            if signature in failures:
                failures[signature].count += 1
                continue
            failure = failures[signature] = Failure(n, index, problem, signature)
            failure.script = cases[:index + 1] if signature.startswith("hang") else \
                shortest_script(cases, index, signature, tmp_path / f"ep{n}-{len(failures)}",
                                monkeypatch)
    return failures


def report(failures: dict[str, Failure]) -> str:
    """Each distinct failure once, with a shell script that reproduces it."""
    lines = [f"{len(failures)} distinct fuzz failures (seed {fuzzgen.SEED:#x}); each shows "
             "its shortest known script, and PYXL_FUZZ_EPISODES=N replays its episode"]
    for f in failures.values():
        lines += ["", f"== {f.signature}: {f.count} case{'s' * (f.count > 1)}, first in "
                      f"episode {f.episode} (case {f.index})",
                  f"== {f.problem}",
                  "export PYXL_STATE_DIR=$(mktemp -d) PYXL_CLOCK=manual TZ=UTC"]
        for case in f.script:
            for name, data in case.files.items():
                lines += _write_file(name, data)
            lines.append("pyxl " + " ".join(_shell_quote(a) for a in case.argv))
    return "\n".join(lines)


def _write_file(name: str, data: bytes) -> list[str]:
    """A here-document when the bytes are plain text, else printf with escapes."""
    text = data.decode("ascii", "replace")
    plain = all(32 <= b < 127 or b in (9, 10) for b in data)
    if plain and data.endswith(b"\n") and "FUZZ_EOF" not in text:
        return [f"cat > {name} <<'FUZZ_EOF'", *text.splitlines(), "FUZZ_EOF"]
    return [f"printf -- '{_printf_escape(data)}' > {name}"]


def _shell_quote(arg: str) -> str:
    """bash quoting that survives control characters and non-UTF-8 bytes."""
    raw = arg.encode("utf-8", "surrogateescape")
    if raw and all(32 < b < 127 and chr(b) not in "'\"\\$`!*?[]{}()<>|&;#~ " for b in raw):
        return arg
    if all(32 <= b < 127 for b in raw):
        return "'" + arg.replace("'", "'\\''") + "'"
    return "$'" + "".join(chr(b) if 32 <= b < 127 and chr(b) not in "'\\" else f"\\x{b:02x}"
                          for b in raw) + "'"


def _printf_escape(data: bytes) -> str:
    out = []
    for b in data:
        c = chr(b)
        if c == "%":
            out.append("%%")
        elif 32 <= b < 127 and c not in "'\\":
            out.append(c)
        else:
            out.append(f"\\{b:03o}")
    return "".join(out)


def test_fuzz_every_command(tmp_path, monkeypatch):
    failures = fuzz(FAST_CASES, tmp_path, monkeypatch)
    if failures:
        pytest.fail(report(failures), pytrace=False)


@pytest.mark.slow
def test_fuzz_2000_cases(tmp_path, monkeypatch):
    failures = fuzz(SLOW_CASES, tmp_path, monkeypatch)
    if failures:
        pytest.fail(report(failures), pytrace=False)


def test_the_generator_is_deterministic_and_covers_every_command():
    from pyxl.cli.cmdtable import CMD_TABLE

    shapes = fuzzgen.shapes()
    seeds = fuzzgen.seed_configs(REPO, None)
    first = [c.argv for n in range(3) for c in fuzzgen.episode(n, shapes, seeds)]
    again = [c.argv for n in range(3) for c in fuzzgen.episode(n, shapes, seeds)]
    assert first == again
    covered = {s.words[0] for s in shapes}
    assert {spec.name for spec in CMD_TABLE} <= covered
    assert {" ".join(s.words) for s in shapes} >= {
        "host boot", "host list", "host reset", "host destroy", "clock show", "clock advance"}


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash")
def test_replay_scripts_give_back_the_same_bytes(tmp_path):
    import subprocess

    argv = ["plain", "with space", "it's", "\x1b[31m", "new\nline", "caf\udce9", "$(id)", ""]
    files = {"a.cfg": b'name = "x"\n', "b.cfg": b"\xff\x00%s'\\\r-\n"}
    script = [line for name, data in files.items() for line in _write_file(name, data)]
    script.append("printf '%s\\0' " + " ".join(_shell_quote(a) for a in argv) + " > argv")
    subprocess.run(["/bin/bash", "-c", "\n".join(script)], cwd=tmp_path, check=True)
    got = (tmp_path / "argv").read_bytes().split(b"\0")[:-1]
    assert got == [a.encode("utf-8", "surrogateescape") for a in argv]
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data
