"""Opening the database, applying migrations, and write transactions.

Many berth processes share one file: WAL lets readers run beside a writer, `BEGIN IMMEDIATE`
takes the write lock up front so two writers queue instead of failing half-way, and a busy
timeout makes them wait rather than error.
"""

from __future__ import annotations

import _thread  # threading's RLock is this one; the module costs every command ~1 ms
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from berth.db.schema import MIGRATIONS
from berth.errors import DataLoss, SystemFailure

BUSY_TIMEOUT_MS = 60_000


class Database:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        # One connection serves the engine's threads (parallel layer pulls): serialise its use.
        self._lock = _thread.RLock()
        self._depth = 0  # transactions open in the thread holding the lock

    @classmethod
    def open(cls, path: Path) -> Database:
        try:
            connection = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA synchronous = NORMAL")
            database = cls(connection)
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
        except sqlite3.DatabaseError as error:
            raise DataLoss(f"cannot open the metadata database {path}: {error}") from None
        return database

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
            except sqlite3.OperationalError as error:
                raise SystemFailure(f"the metadata database is locked: {error}") from None
            self._depth = 1
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")
            finally:
                self._depth = 0
                cursor.close()

    def query(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self.connection.execute(sql, parameters).fetchall()

    def close(self) -> None:
        self.connection.close()


def now() -> str:
    """A row's timestamp: RFC 3339 in UTC, as Docker prints times."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
