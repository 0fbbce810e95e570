"""Writing a tar stream byte for byte as `tarfile.open(mode="w|", format=PAX_FORMAT)` writes
it, faster: what `berth.archive.pack` turns every build step's layer into.

tarfile spends ~30 us on each header (a PAX check of every field, the ustar fields built
one by one, a copy of the TarInfo) and copies a file's bytes in 16 KiB pieces. Here a header
that needs no PAX record (ASCII names that fit, numbers in range, no xattrs: nearly every
entry of a layer) is packed at once, and anything else is left to `TarInfo.tobuf` with the
arguments `TarFile` gives it, so the stream, and with it every diff_id, is the same as
tarfile's. So is what reaches `out`: tarfile's stream hands on whole records (10240 bytes)
and then its remainder, and gzip's output depends on the pieces it is fed.
"""

from __future__ import annotations

import struct
import tarfile
from typing import Protocol

from berth.errors import InvalidArgument

BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
_MAGIC = tarfile.POSIX_MAGIC
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s12x")
_BLANK_CHECKSUM = b"        "
_DEVICE_TYPES = (tarfile.CHRTYPE, tarfile.BLKTYPE)
_MAX_ID = 8**7  # what 7 octal digits hold (uid, gid, device numbers)
_MAX_NUMBER = 8**11  # size, mtime
_NO_DEVICE = bytes(8)
PIECE = 1 << 20  # what is read of a file at a time


class Sink(Protocol):
    def write(self, data: bytes) -> int: ...


class Reader(Protocol):
    def read(self, size: int) -> bytes: ...


class TarWriter:
    """A tar stream into `out`, in records (`records=True`, as tarfile's stream) or in
    whatever pieces come (for a reader that only hashes)."""

    def __init__(self, out: Sink, *, records: bool = True) -> None:
        self._out = out
        self._records = records
        self._pending = bytearray()
        self.offset = 0

    def add(self, info: tarfile.TarInfo, data: Reader | None = None) -> None:
        """The entry `info`, then its `info.size` bytes read from `data` (a reader that
        returns fewer before the end is the caller's to refuse) and the block's padding."""
        self._write(header(info))
        if data is None or info.size == 0:
            return
        left = info.size
        while left:
            chunk = data.read(min(PIECE, left))
            if not chunk:
                raise InvalidArgument(f"{info.name} shrank while it was packed")
            self._write(chunk)
            left -= len(chunk)
        remainder = info.size % BLOCK
        if remainder:
            self._write(bytes(BLOCK - remainder))

    def close(self) -> None:
        """The end of the archive (two zero blocks, then zeros to a whole record), and what
        is still held."""
        self._write(bytes(2 * BLOCK))
        remainder = self.offset % RECORD
        if remainder:
            self._write(bytes(RECORD - remainder))
        if self._pending:
            self._out.write(bytes(self._pending))
            self._pending.clear()

    def _write(self, data: bytes) -> None:
        self.offset += len(data)
        if not self._records:
            self._out.write(data)
            return
        pending = self._pending
        pending += data
        if len(pending) > RECORD:  # as tarfile's stream: whole records while more is held
            whole = (len(pending) - 1) // RECORD * RECORD
            view = memoryview(pending)
            for start in range(0, whole, RECORD):
                self._out.write(bytes(view[start : start + RECORD]))
            view.release()
            del pending[:whole]


def header(info: tarfile.TarInfo) -> bytes:
    """`info`'s header as `TarFile.addfile` writes it in PAX format."""
    name = info.name
    if info.type == tarfile.DIRTYPE and not name.endswith("/"):
        name += "/"
    simple = (
        not info.pax_headers
        and name.isascii()
        and len(name) <= 100
        and info.linkname.isascii()
        and len(info.linkname) <= 100
        and not info.uname
        and not info.gname
        and isinstance(info.mtime, int)
        and 0 <= info.uid < _MAX_ID
        and 0 <= info.gid < _MAX_ID
        and 0 <= info.size < _MAX_NUMBER
        and 0 <= info.mtime < _MAX_NUMBER
    )
    device = info.type in _DEVICE_TYPES
    if simple and device:
        simple = 0 <= info.devmajor < _MAX_ID and 0 <= info.devminor < _MAX_ID
    if not simple:
        return info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
    block = bytearray(
        _HEADER.pack(
            name.encode("ascii"),
            b"%07o\0" % (info.mode & 0o7777),
            b"%07o\0" % info.uid,
            b"%07o\0" % info.gid,
            b"%011o\0" % info.size,
            b"%011o\0" % int(info.mtime),
            _BLANK_CHECKSUM,
            info.type,
            info.linkname.encode("ascii"),
            _MAGIC,
            b"",
            b"",
            b"%07o\0" % info.devmajor if device else _NO_DEVICE,
            b"%07o\0" % info.devminor if device else _NO_DEVICE,
            b"",
        )
    )
    block[148:155] = b"%06o\0" % sum(block)
    return bytes(block)
