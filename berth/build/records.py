"""The build cache's rows: a step's key -> the chain its result stands on and the result.

A result is what a stage has made since its FROM up to that step (its config, the layers and
history entries), so a hit at any step gives everything the image needs. The chains and blobs
the rows name are roots for the garbage collector (`roots`); a row whose chain is gone anyway
(a damaged store) is a miss. `builder prune` deletes rows, oldest use first.

Beside them, the context files' digests by path and `stat` identity
(`berth.build.context.Hashes`): what lets a rebuild skip reading unchanged files. Any
`builder prune` forgets them all (a cold build after it reads every file, as the first).
So it does the replays of whole builds (berth.build.replay): after a prune, a build runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from berth.db import Database, now
from berth.db.columns import decoded

if TYPE_CHECKING:
    from berth.build.replay import Replay


KEPT_REPLAYS = 256


class CacheEntry(NamedTuple):
    key: str
    chain: str | None
    result: dict[str, Any]
    created: str


class BuildCache:
    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, key: str) -> CacheEntry | None:
        """The entry of a step, if there is one (its use is noted by `mark_used`)."""
        rows = self.database.query(
            "SELECT key, chain, result, created FROM build_cache WHERE key = ?", (key,)
        )
        if not rows:
            return None
        result = decoded(rows[0][2])
        if result is None:
            return None  # a damaged row: built again
        chain = None if rows[0][1] is None else str(rows[0][1])
        return CacheEntry(str(rows[0][0]), chain, result, str(rows[0][3]))

    def mark_used(self, keys: list[str]) -> None:
        """The entries a build took from the cache, used now (what prune orders by): one
        write at the build's end, not one per step while the stages run."""
        if not keys:
            return
        stamp = now()
        with self.database.transaction() as cursor:
            cursor.executemany(
                "UPDATE build_cache SET used = ? WHERE key = ?", [(stamp, key) for key in keys]
            )

    def put(self, key: str, chain: str | None, result: dict[str, Any], created: str) -> None:
        import json

        stamp = now()
        with self.database.transaction() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO build_cache (key, chain, result, created, used) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, chain, json.dumps(result), created, stamp),
            )

    def fill_blobs(self, keys: list[str], blobs: dict[str, dict[str, Any] | None]) -> None:
        """The entries of `keys` that name a layer of `blobs` (by diff_id) without its blob
        (its step only measured it) name the blob now: the layer was packed since."""
        import json

        with self.database.transaction() as cursor:
            for key in dict.fromkeys(keys):
                row = cursor.execute("SELECT result FROM build_cache WHERE key = ?", (key,))
                found = row.fetchone()
                document = decoded(found[0]) if found else None
                if not isinstance(document, dict):
                    continue
                changed = False
                for addition in document.get("additions") or []:
                    layer = addition[0] if isinstance(addition, list) and addition else None
                    if isinstance(layer, dict) and "digest" not in layer:
                        blob = blobs.get(str(layer.get("diff_id")))
                        if blob is not None:
                            addition[0] = blob
                            changed = True
                if changed:
                    cursor.execute(
                        "UPDATE build_cache SET result = ? WHERE key = ?",
                        (json.dumps(document), key),
                    )

    def roots(self) -> tuple[list[str], set[str]]:
        """The chains and the blobs (layers') the cache keeps from the collector."""
        chains: list[str] = []
        blobs: set[str] = set()
        for chain, result in self.database.query("SELECT chain, result FROM build_cache"):
            if chain is not None:
                chains.append(str(chain))
            document = decoded(result) or {}
            for addition in document.get("additions") or []:  # [layer or None, history entry]
                layer = addition[0] if isinstance(addition, list) and addition else None
                if isinstance(layer, dict) and isinstance(layer.get("digest"), str):
                    blobs.add(layer["digest"])
        return chains, blobs

    def files_under(self, root: str) -> dict[str, tuple[str, str]]:
        """The remembered files below the directory `root`: path -> (identity, digest)."""
        base = root.rstrip("/")
        rows = self.database.query(
            "SELECT path, identity, digest FROM context_files WHERE path > ? AND path < ?",
            (base + "/", base + "0"),  # "0" follows "/": the range is the paths below root
        )
        return {str(path): (str(identity), str(digest)) for path, identity, digest in rows}

    def remember_files(self, files: dict[str, tuple[str, str]]) -> None:
        with self.database.transaction() as cursor:
            cursor.executemany(
                "INSERT OR REPLACE INTO context_files (path, identity, digest) VALUES (?, ?, ?)",
                [(path, identity, digest) for path, (identity, digest) in files.items()],
            )

    def prune(self, used_before: str | None = None) -> list[str]:
        """Forget every entry, or those last used before a time (`now()`'s format, which
        sorts as text); their keys (the collector frees what they held)."""
        with self.database.transaction() as cursor:
            if used_before is None:
                rows = cursor.execute("DELETE FROM build_cache RETURNING key").fetchall()
            else:
                query = "DELETE FROM build_cache WHERE used < ? RETURNING key"
                rows = cursor.execute(query, (used_before,)).fetchall()
            cursor.execute("DELETE FROM context_files")
            cursor.execute("DELETE FROM build_replays")
        return [str(row[0]) for row in rows]

    def remember_replay(self, slot: str, replay: Replay) -> None:
        """Note a build under its slot, in place of the one noted there before; only the
        `KEPT_REPLAYS` used last are kept (a tag per CI build is a slot per build)."""
        from berth.build.replay import encode

        with self.database.transaction() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO build_replays (slot, fingerprint, image_id, document, "
                "used) VALUES (?, ?, ?, ?, ?)",
                (slot, replay.fingerprint, replay.image_id, encode(replay), now()),
            )
            cursor.execute(
                "DELETE FROM build_replays WHERE slot NOT IN "
                "(SELECT slot FROM build_replays ORDER BY used DESC, rowid DESC LIMIT ?)",
                (KEPT_REPLAYS,),
            )
