"""Run pyxl with a pause before its first COMMIT, so a test can kill it there.

Usage: python tests/_launch_with_delay.py MARKER SECONDS PYXL-ARGS...

When pyxl is about to commit its first transaction (everything written, nothing
committed), this touches MARKER and sleeps SECONDS. The pause is installed from
here, through the sqlite3 module, so pyxl itself carries no test hook.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tree under test


def _paused_connection(marker: Path, seconds: float) -> type:
    class PausedConnection(sqlite3.Connection):
        """A connection that stops just before its first commit."""
        paused = False

        def _pause(self) -> None:
            if not PausedConnection.paused:
                PausedConnection.paused = True
                marker.write_text("about to commit\n")
                time.sleep(seconds)

        def execute(self, sql, *args):
            if sql.strip().upper().startswith(("COMMIT", "END")):
                self._pause()
            return super().execute(sql, *args)

        def commit(self):
            self._pause()
            return super().commit()

    return PausedConnection


def main(argv: list[str]) -> None:
    marker, seconds, args = Path(argv[0]), float(argv[1]), argv[2:]
    factory = _paused_connection(marker, seconds)
    connect = sqlite3.connect

    def paused_connect(*a, **kw):
        kw.setdefault("factory", factory)
        return connect(*a, **kw)

    sqlite3.connect = paused_connect
    from pyxl.cli.main import main as pyxl_main

    pyxl_main(args)


if __name__ == "__main__":
    main(sys.argv[1:])
