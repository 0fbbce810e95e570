"""Opening the database, applying migrations, and write transactions.

Many berth processes share one file: WAL lets readers run beside a writer, `BEGIN IMMEDIATE`
takes the write lock up front so two writers queue instead of failing half-way, and a busy
timeout makes them wait rather than error.
"""

from __future__ import annotations

import _thread  # threading's RLock is this one; the module costs every command ~1 ms
import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from berth.db.schema import MIGRATIONS
from berth.errors import BerthError, DataLoss, NoSpace, PermissionDenied, SystemFailure

BUSY_TIMEOUT_MS = 60_000


REPAIR_HINT = "run `berth system check` to see what is damaged, `--repair` to rebuild the database"


class Database:
    def __init__(self, connection: sqlite3.Connection, path: Path, degraded: str = "") -> None:
        self.connection = connection
        self.path = path
        # "full" or "read-only": the store could only be opened for reading (see `open`).
        self.degraded = degraded
        # One connection serves the engine's threads (parallel layer pulls): serialise its use.
        self._lock = _thread.RLock()
        self._depth = 0  # transactions open in the thread holding the lock

    @classmethod
    def open(cls, path: Path, *, holds_data: bool = False) -> Database:
        """Open (or create) the store's database. `holds_data`: the store has images or
        containers on disk, so a database that is missing or empty is a damaged store, never
        a new one (a new, empty database would hide them and a pull would trip over them).

        A store on a full or read-only filesystem can't give SQLite its shared-memory file:
        it is opened for reading only (`degraded`), so every read still works and a write
        says why it can't be done."""
        if path.is_dir() or (holds_data and (not path.exists() or path.stat().st_size == 0)):
            what = "is a directory" if path.is_dir() else "is missing or empty"
            raise DataLoss(
                f"the metadata database {path} {what}, but the store holds images or containers",
                hint=REPAIR_HINT,
            )
        try:
            return cls(cls._connect(path), path)
        except sqlite3.Error as error:
            degraded = _cannot_write(path)
            if not degraded or not path.exists():
                raise _translated(error, path) from None
        try:
            connection = sqlite3.connect(
                f"file:{_uri_path(path)}?mode=ro&immutable=1",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute("PRAGMA user_version").fetchone()
        except sqlite3.Error as error:
            raise _translated(error, path) from None
        return cls(connection, path, degraded)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA synchronous = NORMAL")
            database = Database(connection, path)
            if connection.execute("PRAGMA journal_mode").fetchone()[
                0
            ] != "wal" or database._version() != len(MIGRATIONS):
                # Switching to WAL takes an exclusive lock that SQLite's busy handler does
                # not wait for: two commands opening a new store at once would see "database
                # is locked". Set-up is serialised with a file lock instead (imported here:
                # berth.sys loads ctypes, which a store already set up never needs).
                from berth.sys.filelock import FileLock

                with FileLock(path.with_name(path.name + ".lock")):
                    connection.execute("PRAGMA journal_mode = WAL")
                    database._migrate()
        except BaseException:
            connection.close()
            raise
        return connection

    def make_writable(self) -> None:
        """Open the database for writing again, once room was made on a full disk."""
        if self.degraded != "full":
            return
        with self._lock:
            try:
                connection = self._connect(self.path)
            except sqlite3.Error as error:
                raise _translated(error, self.path) from None
            self.connection.close()
            self.connection = connection
            self.degraded = ""

    def _version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self._version()
        if version > len(MIGRATIONS):
            raise DataLoss(
                f"the store was written by a newer berth (schema {version}); upgrade berth"
            )
        if version == len(MIGRATIONS):
            return
        with self.transaction() as cursor:
            version = cursor.execute("PRAGMA user_version").fetchone()[0]
            for index in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[index].split(";"):
                    if statement.strip():
                        cursor.execute(statement)
            cursor.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction: committed on success, rolled back on any exception. One
        opened inside another (in the same thread) joins it: records modules compose into
        one atomic change (a snapshot's commit: its layer, its chain, its active row)."""
        with self._lock:
            cursor = self.connection.cursor()
            if self._depth:
                self._depth += 1
                try:
                    yield cursor
                finally:
                    self._depth -= 1
                    cursor.close()
                return
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise _translated(error, self.path, self.degraded) from None
            self._depth = 1
            try:
                yield cursor
            except BaseException as error:
                with contextlib.suppress(sqlite3.Error):
                    cursor.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error) and not isinstance(
                    error, sqlite3.IntegrityError
                ):
                    raise _translated(error, self.path, self.degraded) from None
                raise
            else:
                try:
                    cursor.execute("COMMIT")
                except sqlite3.Error as error:
                    with contextlib.suppress(sqlite3.Error):
                        cursor.execute("ROLLBACK")
                    raise _translated(error, self.path, self.degraded) from None
            finally:
                self._depth = 0
                cursor.close()

    def query(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self.connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as error:
                raise _translated(error, self.path) from None

    def problems(self) -> list[str]:
        """What SQLite's integrity check finds wrong with the file (nothing: [])."""
        rows = self.query("PRAGMA integrity_check")
        found = [str(row[0]) for row in rows]
        return [] if found == ["ok"] else found

    def close(self) -> None:
        self.connection.close()


def _uri_path(path: Path) -> str:
    """The path in a file: URI (urllib.parse costs every command ~2 ms to import)."""
    return str(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def _cannot_write(path: Path) -> str:
    """ "full" or "read-only" when the database's filesystem takes no writes, else ""."""
    try:
        stats = os.statvfs(path.parent)
    except OSError:
        return ""
    if stats.f_flag & os.ST_RDONLY:
        return "read-only"
    if stats.f_bavail == 0:
        return "full"
    return ""


def _translated(error: sqlite3.Error, path: Path, degraded: str = "") -> BerthError:
    """SQLite's failure as a kind, naming the file: a full disk, a read-only store, a lock
    held too long, a damaged file."""
    text = str(error)
    if degraded == "full" or "full" in text:
        return NoSpace(f"no space left on device: {path}")
    if "readonly" in text or "read-only" in text:
        return PermissionDenied(f"the store is read-only: {path}")
    if "locked" in text or "busy" in text:
        return SystemFailure(f"the metadata database {path} is locked: {text}")
    if isinstance(error, sqlite3.OperationalError) and "unable to open" not in text:
        return SystemFailure(f"the metadata database {path}: {text}")
    return DataLoss(f"the metadata database {path} is damaged: {text}", hint=REPAIR_HINT)
