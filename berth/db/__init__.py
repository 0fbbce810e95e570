"""berth's metadata in SQLite: one file, WAL, transactions shared by every berth process.

The exports load lazily (PEP 562): the quick `ps` (berth.container.listing) reads the schema's
length alone, without the database module's imports (pathlib, contextlib: ~10 ms).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.db.clock import now, stamp
    from berth.db.database import Database

__all__ = ["Database", "now", "stamp"]


def __getattr__(name: str) -> object:
    if name == "Database":
        from berth.db import database

        return database.Database
    if name in __all__:
        from berth.db import clock

        return getattr(clock, name)
    raise AttributeError(f"module 'berth.db' has no attribute {name!r}")
