"""Reading an image archive to load: a tar, plain or compressed, from a file or a stream.

The archive is hostile input, and it is never extracted: its members are indexed (names,
types, where their data lies) and read in place, so no member name, `..` or symlink in it
can write anywhere. A plain tar in a regular file is read where it is; anything else (a pipe,
an API body, a gzip or zstd tar) is first spooled, decompressed, into a file under the
store's tmp directory, so that layers can be read in any order and in parallel.

Paths the archive's own documents name (manifest.json's `Config`/`Layers`) are resolved
inside the archive's namespace: symlinks and hard links are followed from member to member,
and a path or link that leaves the archive (`../../etc/passwd`, `/etc/shadow`) is refused.
A truncated or malformed tar is refused with `InvalidArgument` ("invalid archive: ..."),
before anything is written to the store.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from berth.errors import BerthError, InvalidArgument

CHUNK = 1 << 20
MAX_MEMBERS = 100_000  # a hostile tar of empty headers must not exhaust memory
MAX_DOCUMENT = 16 << 20  # manifest.json, index.json, a config or a manifest
MAX_LINKS = 40  # the kernel's limit on symlinks followed while resolving one path
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_OTHER_MAGIC = {b"BZh": "bzip2", b"\xfd7zXZ": "xz"}


def invalid(message: str) -> InvalidArgument:
    return InvalidArgument(f"invalid archive: {message}")


def sniff_compression(head: bytes) -> str:
    """`gzip`, `zstd` or `none` from a stream's first bytes; other compressions are refused."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    for magic, name in _OTHER_MAGIC.items():
        if head.startswith(magic):
            raise invalid(f"{name} compression is not supported (use gzip or zstd)")
    return "none"


class Member:
    """One readable member: its data's place in the archive file."""

    __slots__ = ("name", "offset", "size")

    def __init__(self, name: str, offset: int, size: int) -> None:
        self.name = name
        self.offset = offset
        self.size = size


class MemberReader:
    """A member's bytes, read with pread (one archive fd serves readers in many threads)."""

    def __init__(self, fd: int, member: Member) -> None:
        self._fd = fd
        self._position = member.offset
        self._end = member.offset + member.size
        self.name = member.name

    def read(self, size: int = CHUNK) -> bytes:
        if size < 0:
            size = self._end - self._position
        size = min(size, self._end - self._position)
        if size <= 0:
            return b""
        data = os.pread(self._fd, size, self._position)
        if not data:
            raise invalid(f"{self.name} is truncated")
        self._position += len(data)
        return data

    def chunks(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk


class Archive:
    """An indexed tar in a regular file; members are found by normalised name."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._files: dict[str, Member] = {}
        self._links: dict[str, tuple[bool, str]] = {}  # name -> (symbolic, target)
        self._index()

    def _index(self) -> None:
        size = os.fstat(self.fd).st_size
        if size == 0:
            raise invalid("the archive is empty")
        count = 0
        with os.fdopen(os.dup(self.fd), "rb") as stream:
            try:
                with tarfile.open(fileobj=_Headers(stream), mode="r:") as tar:  # type: ignore[call-overload]
                    for count, info in enumerate(_members(tar), 1):
                        if count > MAX_MEMBERS:
                            raise invalid(f"more than {MAX_MEMBERS} entries")
                        self._add(info, size)
            except tarfile.TarError as error:
                if not count:
                    raise invalid("not a tar archive") from None
                raise invalid(f"corrupt or truncated tar: {error}") from None
        if not self._files:
            raise invalid("it holds no files")

    def _add(self, info: tarfile.TarInfo, archive_size: int) -> None:
        name = _normalise(info.name)
        if name is None or info.isdir():
            return  # outside the archive's root, nothing can name it; a directory has no data
        self._files.pop(name, None)
        self._links.pop(name, None)
        if info.issym() or info.islnk():
            self._links[name] = (info.issym(), info.linkname)
        elif info.isreg() and not info.issparse():
            if info.offset_data + info.size > archive_size:
                raise invalid(f"{name} is truncated")
            self._files[name] = Member(name, info.offset_data, info.size)

    def has(self, path: str) -> bool:
        """Whether the archive has an entry of that name (reading it may still fail: a link
        out of the archive)."""
        name = _normalise(path)
        return name is not None and (name in self._files or name in self._links)

    def member(self, path: str) -> Member:
        """The regular member a path names, following links inside the archive."""
        resolved = self._resolve(path)
        found = self._files.get(resolved)
        if found is None:
            raise invalid(f"it does not contain {path}")
        return found

    def _resolve(self, path: str) -> str:
        name = _normalise(path) if not path.startswith("/") else None
        if name is None:
            raise invalid(f"{path} points outside the archive")
        followed = 0
        parts = name.split("/")
        index = 0
        while index < len(parts):
            prefix = "/".join(parts[: index + 1])
            link = self._links.get(prefix)
            if link is None:
                index += 1
                continue
            followed += 1
            if followed > MAX_LINKS:
                raise invalid(f"{path}: too many levels of links")
            symbolic, target = link
            if target.startswith("/"):
                raise invalid(f"{path} links to {target}, outside the archive")
            base = posixpath.dirname(prefix) if symbolic else ""
            joined = _normalise(posixpath.join(base, target))
            if joined is None:
                raise invalid(f"{path} links to {target}, outside the archive")
            parts = [*joined.split("/"), *parts[index + 1 :]]
            index = 0
        return "/".join(parts)

    def open(self, path: str) -> MemberReader:
        return MemberReader(self.fd, self.member(path))

    def read(self, path: str, limit: int = MAX_DOCUMENT) -> bytes:
        member = self.member(path)
        if member.size > limit:
            raise invalid(f"{path} is too large ({member.size} bytes)")
        return b"".join(MemberReader(self.fd, member).chunks())

    def head(self, path: str, size: int = 8) -> bytes:
        member = self.member(path)
        return os.pread(self.fd, min(size, member.size), member.offset)


class _Headers:
    """The archive file as tarfile indexes it: it seeks over members' data and reads only
    headers, so a larger read is a hostile header (a pax or long-name record of gigabytes)
    and is refused before it is held in memory."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > MAX_DOCUMENT:
            raise invalid("a tar header is too large")
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (info := tar.next()) is not None:
        yield info
        del tar.members[:]  # type: ignore[attr-defined]  # the index has what it needs


def _normalise(name: str) -> str | None:
    """A member name as a relative path without `.` parts (a leading `/` means the archive's
    root, as tar reads it); None if it leaves the root."""
    stripped = name.lstrip("/")
    cleaned = posixpath.normpath(stripped) if stripped else "."
    if cleaned in (".", "..") or cleaned.startswith("../"):
        return None
    return cleaned


def _read_ahead(source: BinaryIO) -> tuple[bytes, BinaryIO]:
    """The first bytes of a stream (to tell its compression) and a stream that gives them
    back first."""
    head = source.read(CHUNK) or b""
    return head, io.BufferedReader(_Prefixed(head, source), CHUNK)


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        if self._head:
            data: bytes | memoryview = self._head[:size]
            self._head = self._head[len(data) :]
        else:
            data = self._rest.read(size) or b""
        buffer[: len(data)] = data
        return len(data)


@contextlib.contextmanager
def opened(source: BinaryIO, spool_dir: Path) -> Iterator[Archive]:
    """The archive `source` holds, indexed. A plain tar in a regular file is used where it
    is; otherwise it is spooled (decompressed) to `spool_dir/archive.tar`, which the caller
    removes."""
    fd = _regular_fd(source)
    if fd is not None and sniff_compression(os.pread(fd, 8, 0)) == "none":
        yield Archive(fd)
        return
    head, stream = _read_ahead(source)
    if not head:
        raise invalid("the archive is empty")
    spool = spool_dir / "archive.tar"
    with open(spool, "wb") as out:
        _spool(stream, sniff_compression(head), out)
    spool_fd = os.open(spool, os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield Archive(spool_fd)
    finally:
        os.close(spool_fd)


def _regular_fd(source: BinaryIO) -> int | None:
    try:
        fd = source.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None


def _spool(stream: BinaryIO, compression: str, out: BinaryIO) -> None:
    read = _decompressing(stream, compression)
    while True:
        try:
            chunk = read(CHUNK)
        except BerthError:
            raise  # the input itself failed (an API body that ended early)
        except EOFError:
            raise invalid(f"the {compression} stream is truncated") from None
        except Exception as error:  # isal's, zstandard's and our zstd reader's: corrupt data
            raise invalid(f"the {compression} stream is corrupt: {error}") from None
        if not chunk:
            return
        out.write(chunk)


def _decompressing(stream: BinaryIO, compression: str) -> Callable[[int], bytes]:
    if compression == "gzip":
        from isal import igzip

        return igzip.GzipFile(fileobj=stream, mode="rb").read  # type: ignore[no-untyped-call]
    if compression == "zstd":
        from berth.archive.source import ZstdReader

        return ZstdReader(stream).read
    return stream.read
