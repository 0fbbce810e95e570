"""berth's metadata in SQLite: one file, WAL, transactions shared by every berth process."""

from berth.db.database import Database, now, stamp

__all__ = ["Database", "now", "stamp"]
