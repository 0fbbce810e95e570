"""The store's rows for a push the registry may hold already (berth.image.push_repeat):
the tag's image and manifest, when its repo digest for that repository is noted; the
manifest's and config's JSON read by SQLite (json would import re: ~3 ms of that path)."""

from __future__ import annotations

TYPE_CHECKING = False  # sqlite3 imports datetime: the caller has _sqlite3's connection
if TYPE_CHECKING:
    import sqlite3

_IMAGE = (
    "SELECT i.id, i.manifest_digest FROM tags AS t JOIN images AS i ON i.id = t.image_id "
    "WHERE t.name = ? AND EXISTS (SELECT 1 FROM repo_digests AS r "
    "WHERE r.image_id = i.id AND r.name = ? || '@' || i.manifest_digest)"
)
# The manifest's media type, and its layers' with the config's diff_ids, top first; NULL
# lengths when a document is not what it should be (the pusher says why).
_SHAPE = (
    "SELECT coalesce(:manifest ->> '$.mediaType', ''), "
    "json_array_length(:manifest, '$.layers'), json_array_length(:config, '$.rootfs.diff_ids')"
)
_LAYERS = (
    "SELECT coalesce(l.value ->> '$.mediaType', ''), d.value "
    "FROM json_each(:manifest, '$.layers') AS l "
    "JOIN json_each(:config, '$.rootfs.diff_ids') AS d ON d.key = l.key ORDER BY l.key DESC"
)


def pushed(connection: sqlite3.Connection, repository: str, tag: str) -> tuple[str, str] | None:
    """The image id and manifest digest of `repository:tag`, if the store notes that
    manifest as the repository's (a push from here, or a pull from there)."""
    row = connection.execute(_IMAGE, (f"{repository}:{tag}", repository)).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def layers(
    connection: sqlite3.Connection, manifest: bytes, config: bytes
) -> tuple[str, list[tuple[str, str]]] | None:
    """The manifest's media type ("" when it names none) and each layer's media type with
    its diff_id, top first; None when the documents disagree on the layers or lack them."""
    documents = {
        "manifest": manifest.decode(errors="replace"),
        "config": config.decode(errors="replace"),
    }
    media_type, count, diff_ids = connection.execute(_SHAPE, documents).fetchone()
    if count is None or count != diff_ids:
        return None
    found = [(str(kind), str(diff_id)) for kind, diff_id in connection.execute(_LAYERS, documents)]
    return str(media_type), found
