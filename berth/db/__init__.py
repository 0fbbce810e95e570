"""berth's metadata in SQLite: one file, WAL, transactions shared by every berth process."""

from berth.db.database import Database

__all__ = ["Database"]
