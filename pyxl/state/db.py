"""Opening a host's SQLite database, and one transaction per command.

Why SQLite: a command is one transaction, so a killed process leaves the last
committed state, and `BEGIN IMMEDIATE` makes concurrent scripts queue up
instead of losing each other's updates. WAL mode lets readers run beside a
writer. A new database is built under a temporary name and linked into place,
so a half-built host never becomes visible.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pyxl.errors import StateError

BUSY_TIMEOUT_S = 120.0


def _corrupt(path: Path, host: str, why: str) -> StateError:
    return StateError(
        f"pyxl: the state database {path} of host '{host}' is unreadable ({why}); "
        f"start it afresh with: pyxl --host {host} host reset"
    )


class Database:
    """One open host database; `write()` and `read()` bracket a command."""

    def __init__(self, path: Path, host: str, conn: sqlite3.Connection):
        self.path = path
        self.host = host
        self.conn = conn

    @classmethod
    def open(cls, path: Path, host: str, schema_version: int,
             migrations: dict[int, Callable[[sqlite3.Connection], None]]) -> "Database":
        """Open an existing database, migrating its schema forward if it is old."""
        try:
            conn = _connect(path)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise _corrupt(path, host, _why(e)) from None
        if row is None:
            raise _corrupt(path, host, "no schema version")
        version = int(row[0])
        if version > schema_version:
            raise StateError(
                f"pyxl: host '{host}' was written by a newer pyxl (schema {version}); "
                "upgrade pyxl to use it"
            )
        db = cls(path, host, conn)
        if version < schema_version:
            with db.write():
                for v in range(version + 1, schema_version + 1):
                    migrations[v](conn)
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                             (str(schema_version),))
        return db

    @classmethod
    def create(cls, path: Path, host: str, statements: list[str], schema_version: int,
               init: Callable[[sqlite3.Connection], None]) -> bool:
        """Build a new database at `path` atomically; False if one appeared meanwhile."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        for stale in (tmp, Path(str(tmp) + "-journal")):
            stale.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # persists in the file
            conn.execute("BEGIN")
            for stmt in statements:
                conn.execute(stmt)
            conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
                         (str(schema_version),))
            init(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
        try:
            os.link(tmp, path)  # fails if another process booted the host first
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: taken at once, committed whole or not at all."""
        with self._errors():
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            with self._errors():
                yield self.conn
        except BaseException:
            self._rollback()
            raise
        _fault_point()
        with self._errors():
            self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for the whole command."""
        with self._errors():
            self.conn.execute("BEGIN")
        try:
            with self._errors():
                yield self.conn
        finally:
            self._rollback()

    def _rollback(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the transaction is already gone (e.g. the file broke under us)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise StateError(
                    f"pyxl: host '{self.host}' stayed busy for {BUSY_TIMEOUT_S:.0f}s "
                    "(another pyxl command holds it); try again"
                ) from None
            raise _corrupt(self.path, self.host, _why(e)) from None
        except sqlite3.DatabaseError as e:
            raise _corrupt(self.path, self.host, _why(e)) from None

    def close(self) -> None:
        self.conn.close()


def _fault_point() -> None:
    """Tests kill pyxl here, with everything written but not committed."""
    delay = os.environ.get("PYXL_TEST_SLEEP_BEFORE_COMMIT")
    if delay:
        import time

        time.sleep(float(delay))


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file() or path.stat().st_size == 0:
        raise sqlite3.DatabaseError("file is empty or missing")
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _why(e: Exception) -> str:
    return str(e) or type(e).__name__
