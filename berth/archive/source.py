"""The decompressed layer stream as the tar reader reads it, hashed on the way for the diff_id.

Runs in the unpacker process. `Source` is a forward-only file (read, tell, seek forward, and
unread of a header the fast path declined, for tarfile to parse), serving small header reads
from a large buffer without the re-slicing tarfile's own stream class does per read; member
data is read in large pieces straight from the decompressor. Every decompressed byte passes `_fill`,
which hashes and counts it, so the digest covers the whole stream including the padding
after the tar's end. Any decompressor failure becomes `Corrupt`.

Must not import anything outside the stdlib, isal and zstandard: it runs after chroot.
"""

from __future__ import annotations

import hashlib
import queue
import threading

TYPE_CHECKING = False  # typing costs the unpacker ~7 ms where isal doesn't load it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO

BUFFER = 128 * 1024
_ZSTD_FEED = 16 * 1024  # bounds the output one decompress call can produce (zstd bombs)


class Corrupt(Exception):
    """The layer stream is not what it claims: bad compression, truncated, bad tar."""


def reader_for(raw: BinaryIO, compression: str) -> Callable[[int], bytes]:
    """A read(n) function giving the decompressed bytes of `raw`."""
    if compression == "gzip":
        from isal import igzip_threaded

        # One decompressing thread overlaps inflate with tar parsing and file writes.
        return igzip_threaded.open(raw, "rb", threads=1).read  # type: ignore[no-untyped-call,no-any-return]
    if compression == "zstd":
        return ZstdReader(raw).read
    if compression == "none":
        return raw.read
    raise Corrupt(f"unknown compression {compression!r}")


class ZstdReader:
    """Decompresses zstd frames one after another and reports a truncated last frame.

    zstandard's stream_reader returns a short stream silently when the input ends mid-frame,
    so this feeds a decompressobj itself and checks `eof` when the input runs out.
    """

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard

        self._raw = raw
        self._new = zstandard.ZstdDecompressor().decompressobj
        self._dobj = self._new()
        self._pending = b""  # compressed bytes not yet fed
        self._started = False  # a frame has begun since the last one ended
        self._out = bytearray()

    def read(self, size: int) -> bytes:
        while len(self._out) < size and self._decompress_more():
            pass
        with memoryview(self._out) as view:
            data = bytes(view[:size])
        del self._out[:size]
        return data

    def _decompress_more(self) -> bool:
        if not self._pending:
            self._pending = self._raw.read(BUFFER)
            if not self._pending:
                if self._started:
                    raise Corrupt("zstd stream ends in the middle of a frame")
                return False
        piece, self._pending = self._pending[:_ZSTD_FEED], self._pending[_ZSTD_FEED:]
        self._started = True
        self._out += self._dobj.decompress(piece)
        if self._dobj.eof:
            self._pending = self._dobj.unused_data + self._pending
            self._dobj = self._new()
            self._started = False
        return True


class Source:
    """A forward-only, hashing file object over a read(n) function."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._hasher = _Hasher()
        self._buffer = b""
        self._start = 0  # index of the next unread byte in _buffer
        self._offset = 0  # stream offset of _buffer[_start]

    def _fill(self, size: int) -> bytes:
        try:
            data = self._read(size)
        except Corrupt:
            raise
        except Exception as err:  # every decompressor error means the stream is bad
            raise Corrupt(f"{type(err).__name__}: {err}") from err
        if data:
            self._hasher.update(data)
        return data

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes; fewer only at the end of the stream."""
        if size < 0:
            raise ValueError("Source reads need a size")
        available = len(self._buffer) - self._start
        if size <= available:
            data = self._buffer[self._start : self._start + size]
            self._start += size
        elif size >= BUFFER:
            # Large member data: hand the decompressor's bytes through without buffering.
            parts = [self._buffer[self._start :]]
            self._buffer, self._start = b"", 0
            missing = size - available
            while missing > 0 and (chunk := self._fill(missing)):
                parts.append(chunk)
                missing -= len(chunk)
            data = b"".join(parts)
        else:
            parts = [self._buffer[self._start :]]
            have = available
            while have < size and (chunk := self._fill(BUFFER)):
                parts.append(chunk)
                have += len(chunk)
            joined = b"".join(parts)
            data, self._buffer, self._start = joined[:size], joined, size
        self._offset += len(data)
        return data

    def read_some(self, size: int) -> bytes:
        """Up to `size` bytes, fewer if that avoids a copy; none only at the end of the stream.

        Member data goes this way: what is buffered, then the decompressor's own chunks.
        """
        available = len(self._buffer) - self._start
        if available:
            data = self._buffer[self._start : self._start + size]
            self._start += len(data)
        else:
            data = self._fill(size)
        self._offset += len(data)
        return data

    def peek(self, size: int) -> bytes:
        """The next `size` (at most BUFFER) bytes without consuming them; fewer at the end."""
        available = len(self._buffer) - self._start
        if available < size:
            parts = [self._buffer[self._start :]]
            while available < size and (chunk := self._fill(BUFFER)):
                parts.append(chunk)
                available += len(chunk)
            self._buffer, self._start = b"".join(parts), 0
        return self._buffer[self._start : self._start + size]

    def unread(self, size: int) -> None:
        """Step back over the last read, which must have been a small one (a header)."""
        if size > self._start:
            raise ValueError("unread beyond the buffer")
        self._start -= size
        self._offset -= size

    def tell(self) -> int:
        return self._offset

    def seek(self, offset: int, whence: int = 0) -> int:
        """Skip forward to `offset`; tarfile only seeks forward over data and padding."""
        if whence != 0 or offset < self._offset:
            raise Corrupt(f"backward seek to {offset} in a layer stream")
        skip = offset - self._offset
        if skip <= len(self._buffer) - self._start:  # padding after a small file: no copy
            self._start += skip
            self._offset = offset
        while self._offset < offset:
            if not self.read(min(offset - self._offset, BUFFER)):
                break
        return self._offset

    def drain(self) -> None:
        """Read (and hash) to the end of the stream: the diff_id covers the tar's padding."""
        self._buffer, self._start = b"", 0  # already hashed
        while self._fill(BUFFER):
            pass

    def diff_id(self) -> str:
        return "sha256:" + self._hasher.hexdigest()


class _Hasher:
    """sha256 on its own thread: hashing (which releases the GIL) overlaps the writes.

    On a 100 MB layer hashing costs ~80 ms, which would otherwise add to the unpack time.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=64)  # bounds memory
        self._thread = threading.Thread(target=self._run, name="diff-id", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._hash.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def hexdigest(self) -> str:
        self._chunks.put(None)
        self._thread.join()
        return self._hash.hexdigest()
