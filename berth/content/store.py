"""Digest-addressed immutable blobs under content/blobs/sha256/<hex>, mode 0444.

A blob is visible only once complete and verified: writers go through an `Ingest` (or
`write` for small documents) and a rename. Readers never see partial data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from berth.content.files import place, write_atomically
from berth.errors import NotFound
from berth.layout import Layout
from berth.oci import check_digest, verify

if TYPE_CHECKING:
    from berth.content.ingest import Ingest


class BlobInfo(NamedTuple):
    digest: str
    size: int


class ContentStore:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def path(self, digest: str) -> Path:
        return self.layout.blob(check_digest(digest))

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def info(self, digest: str) -> BlobInfo:
        try:
            return BlobInfo(digest, self.path(digest).stat().st_size)
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in the content store") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in the content store") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as stream:
            return stream.read()

    def write(self, digest: str, data: bytes) -> None:
        """Store a small blob (manifest, config) after checking it against its digest."""
        verify(data, digest)
        if not self.exists(digest):
            write_atomically(self.path(digest), data, self.layout.tmp)

    def add_file(self, source: Path, digest: str) -> None:
        """Make a complete, synced file the blob `digest` (its writer hashed it as it wrote:
        a layer packed here); `source` is gone after, whether it was needed or not."""
        if self.exists(digest):
            source.unlink()
        else:
            place(source, self.path(digest))

    def ingest(self, digest: str, size: int | None) -> Ingest:
        """A resumable writer for a large blob; the caller must `close()` it."""
        from berth.content.ingest import Ingest

        return Ingest.open(self.layout.ingests, self.path(check_digest(digest)), digest, size)

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def walk(self) -> Iterator[BlobInfo]:
        root = self.layout.blobs
        if not root.is_dir():
            return
        for entry in os.scandir(root):
            if entry.is_file():
                yield BlobInfo(f"sha256:{entry.name}", entry.stat().st_size)
