"""docs/pages.md's table of allowed and refused hypercalls, run: each case on
a fresh host with the guest the doc configures, its result column checked
against what `pyxl hypercall` returns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "pages.md"
HEADER = "| Case | Command | Xen's result |"


def _doc() -> str:
    return DOC.read_text()


def doc_config() -> str:
    """The `# web.cfg` block the table's host is built with."""
    m = re.search(r"```\n# web\.cfg\n(.*?)```", _doc(), re.S)
    assert m, "docs/pages.md has no `# web.cfg` block"
    return m.group(1)


def doc_cases() -> list[tuple[str, str, str]]:
    """(case, command, result) of every row of the table."""
    text = _doc()
    assert HEADER in text, "docs/pages.md has no hypercall table"
    rows = []
    for line in text.split(HEADER, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        m = re.fullmatch(r"\| (.+?) \| `(.+?)` \| `(.+?)` \|", line.strip())
        assert m, f"malformed row: {line}"
        rows.append(m.groups())
    return rows


def test_table_has_enough_cases():
    cases = doc_cases()
    results = [r for _, _, r in cases]
    assert len(cases) >= 15
    assert any(r.startswith("-E") for r in results)  # refused
    assert any(not r.startswith("-E") for r in results)  # allowed


@pytest.mark.parametrize("case,command,result", doc_cases(),
                         ids=[c for c, _, _ in doc_cases()])
def test_doc_case(pyxl, write_cfg, case, command, result):
    cfg = write_cfg(doc_config(), "web.cfg")
    assert pyxl("create", cfg).code == 0
    for part in command.split(" ; "):
        r = pyxl("hypercall", "web", *part.split())
        assert r.err == "", r.err
    last = [line for line in r.out.splitlines() if line.startswith("= ")][-1]
    assert last[2:] == result, r.out
    assert r.code == (1 if result.startswith("-E") else 0)
