"""The image archives facade: what `save`/`load` and the API's `/images/get` and
`/images/load` call, over the image service's stores (berth.image.saving, .loading)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from berth.image.loading import Loaded
    from berth.image.saving import Saver
    from berth.image.service import ImageService


class ImageArchives:
    def __init__(self, service: ImageService) -> None:
        self.service = service

    def saver(self, names: list[str]) -> Saver:
        """The tar of the images `names` ask for, ready to write (`write_file` or `chunks`);
        a name that matches nothing fails here, before any byte is written."""
        from berth.image.saving import Saver, chosen

        service = self.service
        saver = Saver(service.layout, service.content, chosen(service.records, names))
        for image in saver.images:
            service.journal.record("image", "save", image.record.id, {"name": image.record.id})
        return saver

    def load(self, source: BinaryIO) -> Loaded:
        """Load every image of an archive (a tar, plain, gzip or zstd, in a file or a
        stream); returns Docker's report lines."""
        from berth.image.loading import Loader

        service = self.service
        loader = Loader(
            service.layout, service.database, service.content, service.layers, service.records
        )
        loaded = loader.load(source)
        for image_id in loaded.image_ids:
            service.journal.record("image", "load", image_id, {"name": image_id})
        return loaded

    def load_chunks(self, chunks: Iterable[bytes]) -> Loaded:
        """`load` of an archive arriving as chunks (a request's body)."""
        return self.load(io.BufferedReader(_Chunks(iter(chunks)), 1 << 20))


class _Chunks(io.RawIOBase):
    """A stream over an iterator of chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
