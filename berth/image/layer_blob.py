"""A loaded layer's blob, written to a scratch file while the layer is read from the archive.

A compressed member is kept as it is (hashed as it goes: its digest); an uncompressed one is
gzip-compressed (isal, level 1, no timestamp: deterministic, as a built layer's) on a thread
of its own, so compression overlaps the reading and the unpacking. Must not import anything
above image.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from berth.errors import InvalidArgument
from berth.image.archive_read import invalid
from berth.oci import OCI_LAYER_GZIP, OCI_LAYER_ZSTD, Descriptor

if TYPE_CHECKING:
    from berth.archive.pack import Sink

LEVEL = 1  # gzip level of a blob made here, as a built layer's
_MEDIA_TYPES = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}


def decompressed_digest(path: Path, compression: str) -> str:
    """The diff_id of a compressed blob (a layer the store has, whose blob it lacked)."""
    import hashlib

    from berth.archive.source import reader_for

    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        read = reader_for(raw, compression)
        try:
            while chunk := read(1 << 20):
                digest.update(chunk)
        except Exception as error:  # isal's and zstandard's errors: a corrupt blob
            raise invalid(f"a layer's {compression} stream is corrupt: {error}") from None
    return f"sha256:{digest.hexdigest()}"


class BlobFile:
    """A layer's blob written to a scratch file as the member is read: a compressed member
    as it is (hashed), an uncompressed one gzip-compressed on a thread of its own."""

    def __init__(self, path: Path, compression: str) -> None:
        import hashlib

        self.compression = compression
        self._out = open(path, "wb")  # noqa: SIM115 (closed by __exit__)
        self._hash = hashlib.sha256()
        self._size = 0
        self._sink: Sink | None = None
        self._error: BaseException | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread: threading.Thread | None = None
        if compression == "none":
            from berth.archive.pack import Sink

            self._sink = Sink(self._out, LEVEL)
            self._thread = threading.Thread(target=self._compress, name="load-gzip")
            self._thread.start()

    def _compress(self) -> None:
        assert self._sink is not None
        try:
            while (chunk := self._queue.get()) is not None:
                if self._error is None:
                    self._sink.write(chunk)
            self._sink.finish()
        except BaseException as error:  # handed to the reading thread
            self._error = error
            while self._queue.get() is not None:  # let the reader finish its puts
                pass

    def write(self, chunk: bytes) -> None:
        if self._thread is None:
            self._hash.update(chunk)
            self._out.write(chunk)
            self._size += len(chunk)
        else:
            if self._error is not None:
                raise self._error
            self._queue.put(chunk)

    def finish(self) -> tuple[Descriptor, str, str | None]:
        """(the blob, the member's digest, the uncompressed tar's digest if it was one)."""
        if self._sink is not None:
            self._join()
            plain = f"sha256:{self._sink.diff.hexdigest()}"
            digest = f"sha256:{self._sink.blob.hexdigest()}"
            result: tuple[Descriptor, str, str | None] = (
                Descriptor(OCI_LAYER_GZIP, digest, self._sink.size),
                plain,
                plain,
            )
        else:
            digest = f"sha256:{self._hash.hexdigest()}"
            result = (Descriptor(_MEDIA_TYPES[self.compression], digest, self._size), digest, None)
        self._out.flush()
        os.fsync(self._out.fileno())
        return result

    def _join(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BlobFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop the compressing thread if the layer failed midway, and close the file."""
        if self._thread is not None and self._thread.is_alive():
            self._error = self._error or InvalidArgument("the load was stopped")
            self._queue.put(None)
            self._thread.join()
        self._out.close()
