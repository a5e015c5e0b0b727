"""Opening a host's SQLite database, and one transaction per command.

Why SQLite: a command is one transaction, so a killed process leaves the last
committed state, and `BEGIN IMMEDIATE` makes concurrent scripts queue up
instead of losing each other's updates. WAL mode lets readers run beside a
writer. A new database is built under a temporary name and linked (or, for
`host reset`, renamed) into place, so a half-built host never becomes visible.

Failures come in three kinds, told apart because the advice differs: busy
(try again), damaged (SQLite finds the file corrupt, or pyxl cannot decode a
row: `host reset` is the way out) and refused by the OS (permissions, a
read-only folder, a file size limit: the host may be healthy, so say what the
OS said and do not advise a reset).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pyxl.errors import StateError
from pyxl.state.paths import LOCK_NAME, host_path, make_host_dir, printable

BUSY_TIMEOUT_S = 120.0


class StateDamaged(StateError):
    """A host database pyxl cannot use as it is: SQLite finds it corrupt, or a
    row does not decode. Raised where rows are decoded; the command's
    transaction turns it into the line that names the database."""

    def __init__(self, why: str, message: str | None = None):
        super().__init__(message or f"pyxl: the host's state is unreadable ({why}); "
                         "start it afresh with: pyxl host reset")
        self.why = why


def _corrupt(path: Path, host: str, why: str) -> StateDamaged:
    return StateDamaged(why, (
        f"pyxl: the state database {path} of host '{host}' is unreadable ({printable(why)}); "
        f"start it afresh with: pyxl --host {host} host reset"
    ))


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
        conn = _connect(path, host)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = _schema_version(row, schema_version, migrations)
        except sqlite3.Error as e:
            conn.close()
            raise _failure(path, host, e) from None
        except StateDamaged as e:
            conn.close()
            raise _corrupt(path, host, e.why) from None
        if version > schema_version:
            conn.close()
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
        tmp = _build(path, host, str(os.getpid()), statements, schema_version, init)
        try:
            os.link(tmp, path)  # fails if another process booted the host first
            return True
        except FileExistsError:
            return False
        except OSError as e:
            raise _refused(path, host, e.strerror or str(e)) from None
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def replace(cls, path: Path, host: str, statements: list[str], schema_version: int,
                init: Callable[[sqlite3.Connection], None]) -> None:
        """Swap a newly built database in for the one at `path`, with one rename.

        The caller holds the host's lock alone, so nobody has the old file
        open. The old WAL is folded into its database first: a kill at any
        moment leaves the old database or the new one, and no WAL of the old
        file is ever read as the new one's.
        """
        tmp = _build(path, host, "reset", statements, schema_version, init)
        try:
            _fold_wal(path, host)
            os.replace(tmp, path)
            Path(f"{path}-shm").unlink(missing_ok=True)  # the old file's; rebuilt on open
        except OSError as e:
            raise _refused(path, host, e.strerror or str(e)) from None
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def write(self, commit: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction: taken at once, committed whole or not at all
        (never, with commit=False: a dry run that may change anything)."""
        with self._errors():
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            with self._errors():
                yield self.conn
        except BaseException:
            self._rollback()
            raise
        if not commit:
            self._rollback()
            return
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
        except sqlite3.Error as e:
            raise _failure(self.path, self.host, e) from None
        except StateDamaged as e:
            raise _corrupt(self.path, self.host, e.why) from None

    def close(self) -> None:
        self.conn.close()


def _connect(path: Path, host: str) -> sqlite3.Connection:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _corrupt(path, host, "file is missing") from None
    except OSError as e:
        raise _refused(path, host, e.strerror or str(e)) from None
    if path.is_dir():
        raise _refused(path, host, os.strerror(errno.EISDIR))
    if size == 0:
        raise _corrupt(path, host, "file is empty")
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as e:
        raise _failure(path, host, e) from None
    return conn


def _schema_version(row, newest: int, migrations: dict) -> int:
    """The database's schema version, if pyxl ever wrote it."""
    text = row[0] if row else None
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise StateDamaged(f"schema version {text!r}" if row else "no schema version")
    version = int(text)
    if version < 1 or any(v not in migrations for v in range(version + 1, newest + 1)):
        raise StateDamaged(f"unknown schema version {version}")
    return version


def _build(path: Path, host: str, tag: str, statements: list[str], schema_version: int,
           init: Callable[[sqlite3.Connection], None]) -> Path:
    """A complete new database under a temporary name beside `path`."""
    make_host_dir(host)
    tmp = host_path(host, f".{path.name}.{tag}.tmp")
    companions = [tmp] + [Path(f"{tmp}{x}") for x in ("-journal", "-wal", "-shm")]
    for stale in companions:
        stale.unlink(missing_ok=True)
    built = False
    try:
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
        built = True
    except sqlite3.Error as e:
        raise _refused(path, host, _os_reason(tmp, e)) from None
    finally:
        for leftover in companions[1:] if built else companions:
            leftover.unlink(missing_ok=True)
    return tmp


def _fold_wal(path: Path, host: str) -> None:
    """Checkpoint the old database's WAL into it and remove the WAL; a database
    beyond reading just loses its WAL (the caller is replacing it)."""
    wal = Path(f"{path}-wal")
    if not wal.exists():
        return
    if not path.exists():
        wal.unlink()
        return
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as e:
        if _kind(e) != "damaged":
            raise _failure(path, host, e) from None
        busy = 0
    if busy:
        raise _busy(host)
    wal.unlink(missing_ok=True)


# SQLite's primary result codes that mean "try again" or "the OS said no";
# every other failure means the file is not what pyxl wrote.
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_OS_CODES = {3, 7, 8, 10, 13, 14, 15, 22, 23}  # PERM NOMEM READONLY IOERR FULL
#                                               CANTOPEN PROTOCOL NOLFS AUTH


def _kind(e: sqlite3.Error) -> str:
    code = getattr(e, "sqlite_errorcode", None)
    if code is None:
        return "damaged"
    if code & 0xFF in _BUSY_CODES:
        return "busy"
    return "os" if code & 0xFF in _OS_CODES else "damaged"


def _failure(path: Path, host: str, e: sqlite3.Error) -> StateError:
    kind = _kind(e)
    if kind == "busy":
        return _busy(host)
    if kind == "os":
        return _refused(path, host, _os_reason(path, e))
    return _corrupt(path, host, _why(e))


def _busy(host: str) -> StateError:
    return StateError(f"pyxl: host '{host}' stayed busy for {BUSY_TIMEOUT_S:.0f}s "
                      "(another pyxl command holds it); try again")


def _refused(path: Path, host: str, reason: str) -> StateError:
    """The OS refused what SQLite needed; the database itself may be healthy."""
    return StateError(f"pyxl: cannot use the state database {path} of host '{host}': "
                      f"{printable(reason)}")


def _os_reason(path: Path, e: sqlite3.Error) -> str:
    """What the OS said, found by trying what SQLite needed: SQLite itself only
    says "unable to open database file" or "disk I/O error"."""
    said = _why(e)
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            os.close(os.open(f, os.O_RDWR | os.O_CLOEXEC))
        except FileNotFoundError:
            problem = _cannot_create(f)
            if problem:
                return f"{path.parent}: {problem} ({said})"
        except OSError as oe:
            return f"{f.name}: {oe.strerror or oe} ({said})"
    limit = _file_size_limit()
    if limit is not None:
        return f"{os.strerror(errno.EFBIG)}: the file size limit is {limit} bytes ({said})"
    try:
        if os.statvfs(path.parent).f_bavail == 0:
            return f"{os.strerror(errno.ENOSPC)} ({said})"
    except (OSError, AttributeError):
        pass
    return said


def _cannot_create(f: Path) -> str | None:
    probe = f.with_name(f".{f.name}.{os.getpid()}.probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        return None
    except OSError as oe:
        return oe.strerror or str(oe)
    probe.unlink(missing_ok=True)
    return None


def _file_size_limit() -> int | None:
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _why(e: Exception) -> str:
    return str(e) or type(e).__name__


@contextmanager
def host_lock(host: str, *, exclusive: bool) -> Iterator[None]:
    """The host's lock file, held while a command has the database open.

    Commands hold it shared; `host reset` and `host destroy` hold it alone, so
    nobody has the old file (and its WAL) open when it is swapped or removed.
    Without flock (not POSIX), SQLite's own locks are all there is.
    """
    fd = _take_lock(host, exclusive)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _take_lock(host: str, exclusive: bool) -> int | None:
    try:
        import fcntl
    except ImportError:
        return None
    path = host_path(host, LOCK_NAME)
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline, pause = time.monotonic() + BUSY_TIMEOUT_S, 0.001
    while True:
        fd = _open_lock_file(path, host)
        if fd is None:
            return None
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                raise _busy(host) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
            continue
        if _same_file(fd, path):
            return fd
        os.close(fd)  # removed by `host destroy` while we waited: take the new one


def _open_lock_file(path: Path, host: str) -> int | None:
    flags = os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(3):
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | flags, 0o644)
        except (FileNotFoundError, NotADirectoryError):
            make_host_dir(host)  # a new host, or one destroyed meanwhile
        except OSError:
            break
    try:
        return os.open(path, os.O_RDONLY | flags)  # a read-only folder
    except OSError:
        return None  # SQLite will say what the OS refuses


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
