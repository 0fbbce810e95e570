"""The replays' rows as the CLI's quick path reads and changes them (berth.build.replay), on
a connection of berth.db.direct: plain sqlite3, none of the engine's records modules (their
imports cost the quick path more than its work)."""

from __future__ import annotations

import json

from berth.build.replay import BY_ID, Replay, decode

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

    from berth.build.replay import Fingerprint


def answer(connection: sqlite3.Connection, found: Fingerprint) -> Replay | None:
    """The replay noted for this build if the builder would make its image again, with the
    store changed as the build would change it: the image tagged, the cache entries' use
    noted (as hits do). None, and nothing changed: the builder must run."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        replay = _replayed(connection, found)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT" if replay is not None else "ROLLBACK")
    return replay


def _replayed(connection: sqlite3.Connection, found: Fingerprint) -> Replay | None:
    row = connection.execute(
        "SELECT fingerprint, image_id, document FROM build_replays WHERE slot = ?", (found.slot,)
    ).fetchone()
    if row is None or row[0] != found.value:
        return None
    replay = decode(str(row[0]), str(row[1]), str(row[2]))
    if replay is None or not _exists(connection, replay.image_id):
        return None
    for kind, key, image_id in replay.bases:
        if _found(connection, kind, key) != image_id:
            return None
    moment = _now()
    wanted = sorted(set(replay.keys))
    used = connection.execute(
        "UPDATE build_cache SET used = ? WHERE key IN (SELECT value FROM json_each(?))",
        (moment, json.dumps(wanted)),
    )
    if used.rowcount != len(wanted):
        return None  # an entry was pruned: the steps after it run again
    for name, _ in replay.tags:  # as ImageStore.tag
        connection.execute(
            "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)", (name, replay.image_id)
        )
        connection.execute(
            "UPDATE images SET last_tagged = ? WHERE id = ?", (moment, replay.image_id)
        )
    connection.execute("UPDATE build_replays SET used = ? WHERE slot = ?", (moment, found.slot))
    return replay


def _exists(connection: sqlite3.Connection, image_id: str) -> bool:
    return (
        connection.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is not None
    )


def _found(connection: sqlite3.Connection, kind: str, key: str) -> str | None:
    """The image a base's id or name gives now, as ImageStore.lookup finds it."""
    if kind == BY_ID:
        return key if _exists(connection, key) else None
    for table in ("tags", "repo_digests"):
        row = connection.execute(f"SELECT image_id FROM {table} WHERE name = ?", (key,)).fetchone()
        if row is not None:
            return str(row[0])
    return None


def _now() -> str:
    from berth.db.clock import now

    return now()
