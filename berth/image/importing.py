"""Importing a tar as a one-layer image: what `import` and `POST /images/create?fromSrc=` do.

The tar comes as chunks (a file, stdin, a request's body, an http(s) download), plain or
compressed with gzip, bzip2, xz or zstd, told apart by their magic bytes as Docker does. It is
read once: each decompressed piece goes both to the unpacker (berth.archive: extraction
chrooted to the new layer's directory, so no name, symlink or hardlink in a hostile tar can
write outside it; it also refuses what is not a tar, or a truncated one) and to a gzip
compressor writing the layer's blob (isal, no timestamp: deterministic), whose uncompressed
bytes are the given tar's exactly. So the diff_id is the sha256 of the tar as given, as
Docker's, and a push or a save sends those bytes.

Nothing is visible before the whole input was unpacked and checked: the layer directory and
the blob are renamed into the store, then the config, the manifest and the image row are
written (`making.write_image`), all under the gc lock held shared. A failure leaves the store
as it was. The config is what Docker's import writes: the platform, the config the caller
made of the `-c` changes, the message as the comment, one history entry with `created` and
`comment` only (no `created_by`).

Must not import build, container, engine or anything else above image; httpx, bz2, lzma and
zstandard load only when an import needs them.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from berth.db import now
from berth.errors import (
    BerthError,
    DataLoss,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthorized,
    Unavailable,
    from_os_error,
)
from berth.image import making
from berth.oci import OCI_LAYER_GZIP, Descriptor

if TYPE_CHECKING:
    from pathlib import Path

    from _typeshed import WriteableBuffer

    from berth.archive.pack import Sink
    from berth.content import ContentStore
    from berth.image.records import ImageStore
    from berth.layout import Layout
    from berth.oci import Platform
    from berth.reference import Reference
    from berth.snapshot import LayerStore

CHUNK = 1 << 20
LEVEL = 1  # as a built layer's: made once, read locally; speed wins over a few percent
DOWNLOAD_TIMEOUT = 60.0
_HEAD = 10  # enough of the input to tell the compressions apart
_ERROR_BODY = 1024  # what of a refusing server's answer goes into the error
# moby's compression.Detect: bzip2, gzip, xz, then zstd (a frame, or a skippable frame).
_MAGIC = ((b"BZh", "bzip2"), (b"\x1f\x8b\x08", "gzip"), (b"\xfd7zXZ\x00", "xz"))
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZSTD_SKIPPABLE, _ZSTD_SKIPPABLE_MASK = 0x184D2A50, 0xFFFFFFF0
_STATUS_ERRORS: dict[int, type[BerthError]] = {
    400: InvalidArgument,
    401: Unauthorized,
    403: PermissionDenied,
    404: NotFound,
}


def import_image(
    layout: Layout,
    content: ContentStore,
    layers: LayerStore,
    records: ImageStore,
    chunks: Iterable[bytes],
    *,
    config: dict[str, Any],
    message: str,
    platform: Platform | None,
    tag: Reference | None = None,
) -> str:
    """Import the tar `chunks` as an image with `config` (an image config's `config`) and
    return its id; it was created once its layer was in, as Docker dates it."""
    with making.holding_blobs(layout):
        made = import_layer(layout, content, layers, chunks)
        moment = now()
        return making.write_image(
            content,
            records,
            layers,
            None,
            [(made, {"created": moment, "comment": message})],
            config,
            moment,
            tag=tag,
            extra={"comment": message},
            platform=platform,
        )


def import_layer(
    layout: Layout, content: ContentStore, layers: LayerStore, chunks: Iterable[bytes]
) -> making.LayerMade:
    """The tar `chunks` as a layer in the layer store, its gzip blob in the content store.
    The caller holds the gc lock shared."""
    from berth.snapshot.layers import discard

    read = decompressed(chunks)
    directory = layers.new_unpack_dir()
    layout.tmp.mkdir(parents=True, exist_ok=True)
    blob = layout.tmp / f"import-{os.urandom(8).hex()}.tar.gz"
    try:
        size, sink = _unpack_and_pack(read, directory / "fs", blob)
        diff_id = f"sha256:{sink.diff.hexdigest()}"
        digest = f"sha256:{sink.blob.hexdigest()}"
        content.add_file(blob, digest)
        layers.commit(directory, diff_id, size)
    finally:
        discard(directory)  # gone already once committed (renamed into snapshots/)
        blob.unlink(missing_ok=True)
    return making.LayerMade(diff_id, Descriptor(OCI_LAYER_GZIP, digest, sink.size), size)


def _unpack_and_pack(read: Callable[[int], bytes], target: Path, blob: Path) -> tuple[int, Sink]:
    """Feed the tar to the unpacker and the compressor; the layer's size and the sink."""
    from berth.archive import start_unpack
    from berth.archive.pack import Sink

    writer = start_unpack(target, "none")
    try:
        with open(blob, "wb") as out:
            sink = Sink(out, LEVEL)
            while chunk := read(CHUNK):
                sink.write(chunk)
                writer.write(chunk)
            sink.finish()
            out.flush()
            os.fsync(out.fileno())
        applied = writer.finish()
    except BerthError as error:
        writer.abort()
        raise _unpacker_error(error, target) from None
    except OSError as error:  # the blob's file: a full disk, most likely
        writer.abort()
        raise from_os_error(error) from None
    except BaseException:
        writer.abort()
        raise
    if applied.diff_id != f"sha256:{sink.diff.hexdigest()}":
        raise DataLoss(f"the unpacker read {applied.diff_id}, not the tar that was sent")
    return applied.size, sink


def _unpacker_error(error: BerthError, target: Path) -> BerthError:
    """The unpacker's words without the scratch directory's name: DataLoss is its verdict
    on the stream (not a tar, or not a whole one), the sender's fault; anything else (an
    entry that can't be made where the tar says, a full disk) keeps its kind."""
    prefix = f"unpacking layer into {target}: "
    if not error.message.startswith(prefix):  # the input's own (a body cut short)
        return error
    detail = error.message[len(prefix) :]
    if isinstance(error, DataLoss):
        return InvalidArgument(f"the archive is not a valid tar: {detail}")
    return type(error)(f"the archive could not be unpacked: {detail}")


def detect(head: bytes) -> str:
    """The compression of a stream starting with `head`: gzip, bzip2, xz, zstd or none."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if len(head) >= 4 and int.from_bytes(head[:4], "little") & _ZSTD_SKIPPABLE_MASK == (
        _ZSTD_SKIPPABLE
    ):
        return "zstd"
    return "none"


def decompressed(chunks: Iterable[bytes]) -> Callable[[int], bytes]:
    """A read(n) of the tar in `chunks`, decompressed if it is compressed; bad or truncated
    compressed data is an InvalidArgument."""
    raw = Chunks(chunks)
    head = raw.head(_HEAD)
    if not head:  # dockerd makes an empty layer of it; the unpacker wants a tar's end
        raise InvalidArgument("the archive is empty")
    compression = detect(head)
    stream = io.BufferedReader(raw, CHUNK)
    if compression == "none":
        return stream.read
    read, errors = _decompressor(stream, compression)

    def checked(size: int) -> bytes:
        try:
            return read(size)
        except BerthError:  # the input's own failure (a body cut short, a download lost)
            raise
        except errors as error:
            message = f"invalid {compression} data: {error}"
            raise InvalidArgument(message) from None

    return checked


def _decompressor(
    stream: BinaryIO, compression: str
) -> tuple[Callable[[int], bytes], tuple[type[Exception], ...]]:
    """The reader of one compression, and the exceptions by which it says the data is bad.
    All read on this thread: a reader thread (igzip_threaded) could still be reading a
    request's body when the server reads the rest of it after a refusal."""
    if compression == "gzip":
        from isal import igzip, isal_zlib

        bad_deflate = cast("type[Exception]", isal_zlib.error)  # its stub calls it an instance
        gzip = igzip.IGzipFile(fileobj=stream)  # type: ignore[no-untyped-call]
        return gzip.read, (EOFError, OSError, bad_deflate)
    if compression == "bzip2":
        import bz2

        return bz2.BZ2File(stream).read, (EOFError, OSError)
    if compression == "xz":
        import lzma

        return lzma.LZMAFile(stream).read, (EOFError, lzma.LZMAError)
    import zstandard

    from berth.archive.source import Corrupt, ZstdReader

    return ZstdReader(stream).read, (Corrupt, zstandard.ZstdError)


class Chunks(io.RawIOBase):
    """A raw stream over an iterator of byte chunks (a request's body, a download, a file
    read in pieces), whose first bytes can be looked at before they are read."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = b""
        self._offset = 0  # of the next unread byte in _pending

    def readable(self) -> bool:
        return True

    def head(self, size: int) -> bytes:
        """The first `size` bytes still unread (fewer at the end), left unread."""
        while len(self._pending) - self._offset < size:
            chunk = self._next()
            if chunk is None:
                break
            self._pending = self._pending[self._offset :] + chunk
            self._offset = 0
        return self._pending[self._offset : self._offset + size]

    def readinto(self, buffer: WriteableBuffer) -> int:
        while self._offset >= len(self._pending):
            chunk = self._next()
            if chunk is None:
                return 0
            self._pending, self._offset = chunk, 0
        with memoryview(buffer) as view:
            count = min(len(view), len(self._pending) - self._offset)
            view[:count] = self._pending[self._offset : self._offset + count]
        self._offset += count
        return count

    def _next(self) -> bytes | None:
        try:
            return next(self._chunks)
        except StopIteration:
            return None
        except OSError as error:  # a file that can't be read
            raise from_os_error(error) from None


@contextlib.contextmanager
def download(url: str) -> Iterator[Iterable[bytes]]:
    """The body of `url` as chunks, as dockerd fetches an import's source: redirects
    followed, an answer of 400 or more an error carrying the server's words."""
    import httpx

    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=DOWNLOAD_TIMEOUT) as answer:
            if answer.status_code >= 400:
                raise _refusal(url, answer)
            yield _body(url, answer)
    except httpx.HTTPError as error:
        raise Unavailable(f"failed to GET {url}: {error}") from None


def _body(url: str, answer: Any) -> Iterator[bytes]:
    import httpx

    try:
        yield from answer.iter_bytes(CHUNK)
    except httpx.HTTPError as error:
        raise Unavailable(f"downloading {url}: {error}") from None


def _refusal(url: str, answer: Any) -> BerthError:
    said = b""
    for chunk in answer.iter_bytes():
        said += chunk
        if len(said) >= _ERROR_BODY:
            break
    text = said[:_ERROR_BODY].decode(errors="replace").strip()
    status = f"{answer.status_code} {answer.reason_phrase}".strip()
    kind = _STATUS_ERRORS.get(answer.status_code, Unavailable)
    return kind(f"failed to GET {url} with status {status}: {text}")
