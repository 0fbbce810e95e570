"""Tar headers to `Member`s: a fast path for plain headers, tarfile for everything else.

tarfile's header parser costs ~40 us a header in pure Python, most of an unpack of small
files. Plain ustar/GNU/v7 headers of the common entry types (octal numbers, a good checksum)
are decoded here with one struct unpack, and so are PAX 'x' records in front of one (real
layers carry them on every member: nanosecond mtimes, long names, xattrs). Anything else
(global PAX records, GNU long names and sparse files, base-256 numbers, a bad checksum) is
pushed back and parsed by `tarfile.TarInfo.fromtarfile`, which also raises tarfile's errors
for a broken header. Names stay bytes, exactly as stored.

Runs in the unpacker after the chroot: imports only the stdlib.
"""

from __future__ import annotations

import struct
import tarfile

from berth.archive.names import parse_ns
from berth.archive.source import BUFFER, Corrupt, Source

BLOCK = 512
_END = bytes(BLOCK)
# name mode uid gid size mtime chksum type linkname magic+version uname gname major minor prefix
_USTAR = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s")
_POSIX_MAGIC = b"ustar\x0000"
_FAST_TYPES = frozenset(b"01234567\x00")
_DATA_TYPES = frozenset(b"07\x00")  # the types whose data follows the header
_DEVICE_TYPES = (tarfile.CHRTYPE, tarfile.BLKTYPE)
_XATTR = "SCHILY.xattr."
_NO_XATTRS: tuple[tuple[str, bytes], ...] = ()


class Member:
    """One entry of the layer, as the extractor needs it."""

    __slots__ = (
        "devmajor",
        "devminor",
        "gid",
        "linkname",
        "mode",
        "mtime_ns",
        "name",
        "size",
        "sparse",
        "type",
        "uid",
        "xattrs",
    )

    def __init__(
        self,
        name: bytes,
        type_: bytes,
        *,
        mode: int,
        uid: int,
        gid: int,
        size: int,
        mtime_ns: int,
        linkname: bytes = b"",
        devmajor: int = 0,
        devminor: int = 0,
        xattrs: tuple[tuple[str, bytes], ...] = _NO_XATTRS,
        sparse: tarfile.TarInfo | None = None,
    ) -> None:
        self.name = name
        self.type = type_  # tarfile's type constants; AREGTYPE/CONTTYPE become REGTYPE
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size  # bytes of file data (the expanded size of a sparse file)
        self.mtime_ns = mtime_ns
        self.linkname = linkname
        self.devmajor = devmajor
        self.devminor = devminor
        self.xattrs = xattrs  # (name, value) from PAX SCHILY.xattr.* records
        self.sparse = sparse  # tarfile's header of a GNU sparse file, which it must read


class _TarState:
    """The attributes `TarInfo.fromtarfile` uses of a TarFile (fileobj, codec, offsets).

    A real TarFile would read the first header as soon as it is built; this doesn't.
    """

    def __init__(self, source: Source) -> None:
        self.fileobj = source
        self.encoding = "utf-8"
        self.errors = "surrogateescape"
        self.pax_headers: dict[str, str] = {}  # global ('g') records, which tarfile applies
        self.offset = 0


class Reader:
    """Reads members in order; `next` returns None at the end-of-archive block."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._state = _TarState(source)
        self._next = 0  # offset of the next header

    def next(self) -> Member | None:
        source = self._source
        source.seek(self._next)
        block = source.read(BLOCK)
        if len(block) < BLOCK:
            raise Corrupt(f"tar stream ends at offset {source.tell()} without an end block")
        if block == _END:
            return None
        plain = not self._state.pax_headers  # global PAX records are tarfile's to apply
        member = _parse(block) if plain else None
        if member is not None:
            self._next = source.tell() + _padded(member.size)
            return member
        source.unread(BLOCK)
        member = self._pax() if plain and block[156:157] == tarfile.XHDTYPE else None
        if member is not None:
            return member
        self._state.offset = source.tell()
        try:
            info = tarfile.TarInfo.fromtarfile(self._state)  # type: ignore[arg-type]
        except tarfile.HeaderError as err:
            raise Corrupt(f"bad tar header at offset {self._state.offset}: {err}") from None
        self._next = self._state.offset
        return _member_of(info)

    def _pax(self) -> Member | None:
        """A PAX 'x' header with the plain header it amends, or None to leave it to tarfile.

        Every member of many real layers has one (nanosecond mtimes, long names, xattrs),
        so this is the common path there. Nothing is consumed unless it succeeds.
        """
        source = self._source
        head = source.peek(BLOCK)
        try:
            size = _number(head[124:136])
            valid = _number(head[148:156]) == _checksum(head)
        except ValueError:
            return None
        span = 2 * BLOCK + _padded(size)
        if not valid or span > BUFFER:
            return None
        ahead = source.peek(span)
        if len(ahead) < span:
            return None  # tarfile reports the truncation
        member = _parse(ahead[span - BLOCK :])
        try:
            if member is None or not _amend(member, ahead[BLOCK : BLOCK + size]):
                return None
        except ValueError:
            return None
        source.seek(source.tell() + span)
        self._next = source.tell() + _padded(member.size)
        return member

    def sparse_data(self, info: tarfile.TarInfo) -> tarfile.ExFileObject:
        """A reader of a sparse file's data, holes included, as tarfile maps it."""
        return tarfile.ExFileObject(self._state, info)  # type: ignore[arg-type]


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _checksum(block: bytes) -> int:
    """The header checksum: the sum of the bytes, the checksum field taken as spaces."""
    return sum(block) - sum(block[148:156]) + 8 * 32


def _amend(member: Member, records: bytes) -> bool:
    """Apply PAX records ("<length> <key>=<value>\\n") to `member`; False if tarfile must.

    Raises ValueError for a bad number. atime, ctime, uname, gname, comments and charsets
    don't change what is written; GNU sparse files are tarfile's.
    """
    xattrs = []
    position = 0
    while position < len(records):
        space = records.find(b" ", position)
        if space < 0:
            return False
        end = position + int(records[position:space])
        if end <= space or end > len(records) or records[end - 1] != 0x0A:
            return False
        key, equals, value = records[space + 1 : end - 1].partition(b"=")
        position = end
        if not equals or key.startswith(b"GNU.sparse."):
            return False
        if key == b"path":
            member.name = value
        elif key == b"linkpath":
            member.linkname = value
        elif key == b"size":
            member.size = int(value) if member.type == tarfile.REGTYPE else 0
        elif key == b"uid":
            member.uid = int(value)
        elif key == b"gid":
            member.gid = int(value)
        elif key == b"mtime":
            member.mtime_ns = parse_ns(value.decode("ascii"))
        elif key.startswith(b"SCHILY.xattr."):
            xattrs.append((key[len(b"SCHILY.xattr.") :].decode("utf-8", "surrogateescape"), value))
    if xattrs:
        member.xattrs = tuple(xattrs)
    return True


def _number(field: bytes) -> int:
    # Writers end numbers with NUL, space or both ("012345\0 " for checksums); int() skips
    # leading spaces. Anything else (base-256, text after a NUL) fails and goes to tarfile.
    return int(field.rstrip(b"\x00 ") or b"0", 8)


def _parse(block: bytes) -> Member | None:
    """The member of a plain header, or None when tarfile must parse it."""
    (name, mode, uid, gid, size, mtime, chksum, type_, linkname, magic, _, _, major, minor,
     prefix) = _USTAR.unpack_from(block)  # fmt: skip
    if type_[0] not in _FAST_TYPES:
        return None
    try:
        if _number(chksum) != _checksum(block):
            return None  # tarfile also accepts signed sums, or explains the error
        member = Member(
            name.split(b"\x00", 1)[0],
            type_,
            mode=_number(mode),
            uid=_number(uid),
            gid=_number(gid),
            size=_number(size),
            mtime_ns=_number(mtime) * 1_000_000_000,
            linkname=linkname.split(b"\x00", 1)[0],
        )
        if type_ in _DEVICE_TYPES:
            member.devmajor, member.devminor = _number(major), _number(minor)
    except ValueError:
        return None  # base-256 or garbage numbers: tarfile decides
    if magic == _POSIX_MAGIC and prefix[0]:
        member.name = prefix.split(b"\x00", 1)[0] + b"/" + member.name
    if type_[0] not in _DATA_TYPES:
        member.size = 0
    elif member.name.endswith(b"/") and type_ == tarfile.AREGTYPE:
        member.type = tarfile.DIRTYPE  # v7 directories are files named with a slash
        member.size = 0
    else:
        member.type = tarfile.REGTYPE
    return member


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _member_of(info: tarfile.TarInfo) -> Member:
    pax = info.pax_headers
    xattrs = tuple((k[len(_XATTR) :], _encode(v)) for k, v in pax.items() if k.startswith(_XATTR))
    mtime = pax.get("mtime")
    regular = info.isreg()
    return Member(
        _encode(info.name),
        tarfile.REGTYPE if regular else info.type,
        mode=info.mode,
        uid=info.uid,
        gid=info.gid,
        size=info.size if regular else 0,
        mtime_ns=parse_ns(mtime) if mtime else int(info.mtime) * 1_000_000_000,
        linkname=_encode(info.linkname),
        devmajor=info.devmajor,
        devminor=info.devminor,
        xattrs=xattrs or _NO_XATTRS,
        sparse=info if info.sparse is not None else None,
    )
