"""Active snapshot rows (schema v5): one per writable or read-only snapshot in use.

A row names its parent chain, so garbage collection keeps every layer a container (or, next,
a build step) stands on, and the directories of its upper and work, relative to the store's
root (containers created before v5 keep theirs under containers/<id>/).
"""

import sqlite3
from typing import Any, NamedTuple

from berth.db import Database, now
from berth.errors import AlreadyExists, NotFound

ACTIVE = "active"
VIEW = "view"


class ActiveRecord(NamedTuple):
    key: str
    parent: str | None  # the chain_id it stands on; None for an empty base
    kind: str  # ACTIVE (writable) or VIEW (read-only)
    upper: str | None  # relative to the store root; None for a view
    work: str | None
    created: str


_COLUMNS = "key, parent, kind, upper, work, created"


def _record(row: tuple[Any, ...]) -> ActiveRecord:
    return ActiveRecord(
        str(row[0]),
        None if row[1] is None else str(row[1]),
        str(row[2]),
        None if row[3] is None else str(row[3]),
        None if row[4] is None else str(row[4]),
        str(row[5]),
    )


class ActiveStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(
        self, key: str, parent: str | None, kind: str, upper: str | None, work: str | None
    ) -> ActiveRecord:
        record = ActiveRecord(key, parent, kind, upper, work, now())
        try:
            with self.database.transaction() as cursor:
                cursor.execute(
                    f"INSERT INTO active_snapshots ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    record,
                )
        except sqlite3.IntegrityError as error:
            if "UNIQUE" in str(error):
                raise AlreadyExists(f"snapshot {key} already exists") from None
            raise NotFound(f"parent snapshot {parent} not found") from None
        return record

    def get(self, key: str) -> ActiveRecord:
        rows = self.database.query(f"SELECT {_COLUMNS} FROM active_snapshots WHERE key = ?", (key,))
        if not rows:
            raise NotFound(f"snapshot {key} not found")
        return _record(rows[0])

    def all(self) -> list[ActiveRecord]:
        rows = self.database.query(f"SELECT {_COLUMNS} FROM active_snapshots ORDER BY created")
        return [_record(row) for row in rows]

    def delete(self, key: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM active_snapshots WHERE key = ?", (key,))
