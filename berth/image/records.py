"""Image rows, their tags and repo digests: what `images`, `tag` and `rmi` read and change.

Names are stored normalised (`docker.io/library/postgres:15`); a tag points at exactly one
image, an image may have many tags, and an image whose last tag is gone is "dangling".
"""

from collections import defaultdict
from typing import NamedTuple

from berth.db import Database, now
from berth.errors import InvalidArgument, NotFound
from berth.reference import Reference, is_digest, parse


class ImageRecord(NamedTuple):
    id: str  # config digest, "sha256:..."
    manifest_digest: str
    top_chain: str | None
    size: int
    created: str
    stored: str
    last_tagged: str | None
    tags: tuple[str, ...]  # normalised "domain/path:tag"
    digests: tuple[str, ...]  # normalised "domain/path@sha256:..."

    @property
    def dangling(self) -> bool:
        return not self.tags


class ImageStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def all(self) -> list[ImageRecord]:
        tags: dict[str, list[str]] = defaultdict(list)
        digests: dict[str, list[str]] = defaultdict(list)
        for name, image_id in self.database.query("SELECT name, image_id FROM tags ORDER BY name"):
            tags[str(image_id)].append(str(name))
        for name, image_id in self.database.query(
            "SELECT name, image_id FROM repo_digests ORDER BY name"
        ):
            digests[str(image_id)].append(str(name))
        rows = self.database.query(f"SELECT {_COLUMNS} FROM images ORDER BY created DESC, id")
        return [_record(row, tags[str(row[0])], digests[str(row[0])]) for row in rows]

    def get(self, image_id: str) -> ImageRecord:
        """One image by its full id: its row and names alone (a lookup costs the same with
        one image in the store as with a thousand)."""
        rows = self.database.query(f"SELECT {_COLUMNS} FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise NotFound(f"No such image: {image_id}")
        return _record(
            rows[0], self._names("tags", image_id), self._names("repo_digests", image_id)
        )

    def _names(self, table: str, image_id: str) -> list[str]:
        rows = self.database.query(
            f"SELECT name FROM {table} WHERE image_id = ? ORDER BY name", (image_id,)
        )
        return [str(row[0]) for row in rows]

    def tagged(self, name: str) -> str | None:
        rows = self.database.query("SELECT image_id FROM tags WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def digested(self, name: str) -> str | None:
        """The image a repo digest (`domain/path@sha256:...`) names, if the store has it."""
        rows = self.database.query("SELECT image_id FROM repo_digests WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def lookup(self, text: str) -> ImageRecord:
        """Find an image as Docker does: by reference (name[:tag] or name@digest), then by
        full id (`sha256:...`), then by a unique id prefix."""
        if is_digest(text):
            return self.get(text)
        reference = _try_parse(text)
        if reference is not None:
            wanted = str(reference)
            image_id = self.tagged(wanted) or self.digested(wanted)
            if image_id is not None:
                return self.get(image_id)
        prefix = text.removeprefix("sha256:")
        if prefix and all(c in "0123456789abcdef" for c in prefix):
            # hex digits only: nothing in the pattern is a LIKE wildcard
            found = self.database.query(
                "SELECT id FROM images WHERE id LIKE ? LIMIT 2", (f"sha256:{prefix}%",)
            )
            if len(found) == 1:
                return self.get(str(found[0][0]))
            if len(found) > 1:
                raise InvalidArgument(f"ambiguous image id prefix {text!r}: be more specific")
        raise NotFound(f"No such image: {text}")

    def tag(self, image_id: str, reference: Reference) -> None:
        if reference.tag is None:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        with self.database.transaction() as cursor:
            if not cursor.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
                raise NotFound(f"No such image: {image_id}")
            cursor.execute(
                "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)",
                (str(reference), image_id),
            )
            cursor.execute("UPDATE images SET last_tagged = ? WHERE id = ?", (now(), image_id))

    def add(
        self,
        image_id: str,
        manifest_digest: str,
        top_chain: str | None,
        size: int,
        created: str,
        *,
        tag: Reference | None,
        repo_digest: str | None,
    ) -> None:
        """A pulled image: its row (kept if it exists), its tag and the digest pulled by
        (neither for an image `system check` recovered from the content store)."""
        stamp = now()
        with self.database.transaction() as cursor:
            cursor.execute(
                "INSERT OR IGNORE INTO images (id, manifest_digest, top_chain, size, created, "
                "stored) VALUES (?, ?, ?, ?, ?, ?)",
                (image_id, manifest_digest, top_chain, size, created, stamp),
            )
            if tag is not None:
                cursor.execute(
                    "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)",
                    (str(tag), image_id),
                )
                cursor.execute("UPDATE images SET last_tagged = ? WHERE id = ?", (stamp, image_id))
            if repo_digest is not None:
                cursor.execute(
                    "INSERT OR REPLACE INTO repo_digests (name, image_id) VALUES (?, ?)",
                    (repo_digest, image_id),
                )

    def untag(self, name: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM tags WHERE name = ?", (name,))
            cursor.execute("DELETE FROM repo_digests WHERE name = ?", (name,))

    def delete(self, image_id: str) -> None:
        """Remove an image row with its tags and digests (layers are collected separately)."""
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM tags WHERE image_id = ?", (image_id,))
            cursor.execute("DELETE FROM repo_digests WHERE image_id = ?", (image_id,))
            cursor.execute("DELETE FROM images WHERE id = ?", (image_id,))


_COLUMNS = "id, manifest_digest, top_chain, size, created, stored, last_tagged"


def _record(row: tuple[object, ...], tags: list[str], digests: list[str]) -> ImageRecord:
    """An image row (`_COLUMNS`) with its names."""
    return ImageRecord(
        id=str(row[0]),
        manifest_digest=str(row[1]),
        top_chain=None if row[2] is None else str(row[2]),
        size=int(str(row[3])),
        created=str(row[4]),
        stored=str(row[5]),
        last_tagged=None if row[6] is None else str(row[6]),
        tags=tuple(tags),
        digests=tuple(digests),
    )


def _try_parse(text: str) -> Reference | None:
    try:
        return parse(text)
    except InvalidArgument:
        return None
