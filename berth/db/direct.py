"""The store's database opened without the engine, for the CLI's quick paths (`ps`, a push
the registry holds, a rebuild with nothing changed): sqlite3 and the schema's length only,
none of the database module's imports (pathlib, contextlib: ~10 ms of a command that takes
20).

Only a store in its steady state is opened here; anything else is the engine's to judge
(`connect` returns None): a store not set up or its directories not made, an unpack a killed
pull left behind, a database missing, not in WAL mode or not migrated.
"""

from __future__ import annotations

# sqlite3's C module: the package adds date adapters, whose datetime import is ~1.5 ms of a
# quick path (its exceptions and connections are the package's own classes).
import _sqlite3
import os

from berth.db.schema import MIGRATIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

# berth.layout.Layout's names (it imports pathlib and typing): in the root, then the runroot.
DATABASE, TMP, RESERVE, UNPACK_PREFIX = "berth.db", "tmp", "reserve", "unpack-"
LOCKS = "locks"
BUSY_TIMEOUT_SECONDS = 60  # berth.db.database's


def connect(root: str, runroot: str) -> sqlite3.Connection | None:
    """The database of the store at `root` (autocommit: the caller says BEGIN), or None."""
    if not _settled(root, runroot):
        return None
    uri = f"{root}/{DATABASE}".replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    try:
        # mode=rw: never creates a database (a missing one is the engine's to judge).
        connection = _sqlite3.connect(
            f"file:{uri}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
    except _sqlite3.Error:
        return None
    try:
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    except _sqlite3.Error:
        connection.close()
        return None
    if mode != "wal" or version != len(MIGRATIONS):
        connection.close()
        return None  # the engine sets the store up or migrates it
    return connection


def _settled(root: str, runroot: str) -> bool:
    """Whether opening the engine would find nothing to do (berth.engine.engine's `open`):
    its directories there and the root private, the reserve kept (berth.space), no unpack a
    killed pull left behind."""
    try:
        if os.stat(root).st_mode & 0o777 != 0o700 or not os.path.exists(f"{root}/{RESERVE}"):
            return False
        directories = (f"{root}/{TMP}", runroot, f"{runroot}/{LOCKS}")
        if not all(os.path.isdir(directory) for directory in directories):
            return False
        with os.scandir(f"{root}/{TMP}") as entries:
            return not any(entry.name.startswith(UNPACK_PREFIX) for entry in entries)
    except OSError:
        return False
