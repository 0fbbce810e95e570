"""A resumable blob download: bytes land in content/ingest/<key>/data, hashed as they come.

The ingest directory is locked (flock) while a writer owns it, so two pulls of one blob
queue, and a killed pull leaves its partial data for the next one to resume with a `Range`
request. Only `commit()` makes the blob visible, after checking size and digest; a mismatch
deletes the partial data, since resuming from bad bytes can never succeed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from berth.content.files import place
from berth.errors import DataLoss
from berth.sys.filelock import FileLock

_REHASH_CHUNK = 1 << 20


class Ingest:
    def __init__(
        self, directory: Path, destination: Path, digest: str, size: int | None, lock: FileLock
    ) -> None:
        self.directory = directory
        self.destination = destination
        self.digest = digest
        self.size = size
        self._lock = lock
        self._data = directory / "data"
        self._hash = hashlib.sha256()
        self.offset = 0
        if self.complete:
            self._stream = open(os.devnull, "ab")  # noqa: SIM115 (held until close())
        else:
            self._stream = open(self._data, "ab")  # noqa: SIM115 (held until close())
            self.offset = self._rehash()

    @classmethod
    def open(cls, ingests: Path, destination: Path, digest: str, size: int | None) -> Ingest:
        """Take (waiting if needed) the ingest for `digest`, with whatever a previous try left."""
        directory = ingests / digest.replace(":", "-")
        directory.mkdir(parents=True, exist_ok=True)
        lock = FileLock(directory / "lock")
        lock.acquire()
        try:
            return cls(directory, destination, digest, size, lock)
        except BaseException:
            lock.release()
            raise

    @property
    def complete(self) -> bool:
        """True when another writer committed the blob while this one waited for the lock."""
        return self.destination.is_file()

    def _rehash(self) -> int:
        offset = 0
        with open(self._data, "rb") as stream:
            while chunk := stream.read(_REHASH_CHUNK):
                self._hash.update(chunk)
                offset += len(chunk)
        return offset

    def read_partial(self) -> Path:
        """The partial data so far, for a caller that must replay it (e.g. a streaming unpack)."""
        self._stream.flush()
        return self._data

    def write(self, chunk: bytes) -> None:
        if self.size is not None and self.offset + len(chunk) > self.size:
            raise DataLoss(f"blob {self.digest} is larger than its declared size {self.size}")
        self._stream.write(chunk)
        self._hash.update(chunk)
        self.offset += len(chunk)

    def truncate(self) -> None:
        """Start over (the server ignored our Range request)."""
        self._stream.seek(0)
        self._stream.truncate()
        self._hash = hashlib.sha256()
        self.offset = 0

    def commit(self) -> None:
        self._stream.flush()
        actual = "sha256:" + self._hash.hexdigest()
        if self.size is not None and self.offset != self.size:
            raise DataLoss(
                f"blob {self.digest} is incomplete: got {self.offset} of {self.size} bytes"
            )
        if actual != self.digest:
            self.discard()
            raise DataLoss(
                f"filesystem layer verification failed for digest {self.digest}: "
                f"the registry sent content with digest {actual}"
            )
        os.fsync(self._stream.fileno())
        self._stream.close()
        place(self._data, self.destination)
        self._remove_directory()

    def discard(self) -> None:
        """Drop the partial data (it can't be resumed)."""
        self._stream.close()
        self._remove_directory()

    def _remove_directory(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def close(self) -> None:
        """Release the ingest, keeping partial data for a later resume."""
        if not self._stream.closed:
            self._stream.close()
        if self.complete:
            self._remove_directory()
        self._lock.release()
