"""Start-up stays lean below the toolstack: a command loads only the parts
of XenStore it uses (the errors and permission values alone for most, the
store without its change log for a read)."""

from __future__ import annotations

import subprocess
import sys



def _loaded_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             "print(' '.join(sorted(m for m in sys.modules if m.startswith('pyxl.xenstore'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    return done.stdout.split()


def test_the_errors_and_perms_load_without_the_store():
    loaded = _loaded_after("import pyxl.xenstore.errors, pyxl.xenstore.perms")
    assert loaded == ["pyxl.xenstore", "pyxl.xenstore.errors", "pyxl.xenstore.perms"]


def test_the_store_loads_the_change_log_only_when_used():
    assert "pyxl.xenstore.watches" not in _loaded_after("import pyxl.xenstore.store")
