"""Volume rows (schema v3): one per named volume, its driver, creation time, labels and
options; the data lives in volumes/<name>/_data."""

import json
import sqlite3
from typing import Any, NamedTuple

from berth.db import Database
from berth.db.columns import decoded
from berth.errors import NotFound

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_COLUMNS = "name, driver, created, labels, options"


class VolumeRecord(NamedTuple):
    name: str
    driver: str
    created: str
    labels: dict[str, str]
    options: dict[str, str]

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels


def _record(row: tuple[Any, ...]) -> VolumeRecord:
    return VolumeRecord(
        name=str(row[0]),
        driver=str(row[1]),
        created=str(row[2]),
        labels=decoded(row[3]) or {},
        options=decoded(row[4]) or {},
    )


class VolumeStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, name: str) -> VolumeRecord:
        rows = self.database.query(f"SELECT {_COLUMNS} FROM volumes WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"No such volume: {name}")
        return _record(rows[0])

    def all(self) -> list[VolumeRecord]:
        rows = self.database.query(f"SELECT {_COLUMNS} FROM volumes ORDER BY name")
        return [_record(row) for row in rows]

    def add(self, record: VolumeRecord) -> VolumeRecord:
        """Insert the row; a volume of that name made meanwhile by another berth wins."""
        try:
            with self.database.transaction() as cursor:
                cursor.execute(
                    f"INSERT INTO volumes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (
                        record.name,
                        record.driver,
                        record.created,
                        json.dumps(record.labels),
                        json.dumps(record.options),
                    ),
                )
        except sqlite3.IntegrityError:
            return self.get(record.name)
        return record

    def delete(self, name: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM volumes WHERE name = ?", (name,))
