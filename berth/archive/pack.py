"""Packing a snapshot's upper directory into a layer: what `commit` and `build` turn a
container's changes (or a COPY's files) into, and what a push will send.

The directory is in overlay's format, as a container left it or the unpacker made it: a
whiteout is a 0/0 character device, an opaque directory carries trusted.overlay.opaque=y.
The tar says them as the OCI image spec does: `.wh.NAME`, and `DIR/.wh..wh..opq` after the
directory's own entry. Overlay's other xattrs (trusted.overlay.*) are its bookkeeping, never
part of a layer; security.capability (file capabilities) is kept, as Docker keeps it.

Deterministic, so a rebuild makes the same diff_id: entries in name order, depth first (a
directory's contents right after its entry), numeric owners without names, whole-second
mtimes (clamped to `epoch`, SOURCE_DATE_EPOCH, when given), a gzip header without a time.
Hard links inside the tree become tar hard links to the first name.

The tree is hostile (a container wrote it): it is walked through directory fds, every name
opened relative to its directory with O_NOFOLLOW, so no symlink, planted or swapped in, leads
a read outside it. Compression is isal's (gzip), level 1 by default: a build's layers are
made once per change and read locally, so speed wins over a few percent of size.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from typing import IO, NamedTuple

from berth.archive.tar_writer import TarWriter
from berth.errors import InvalidArgument

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
KEPT_XATTRS = ("security.capability",)
MAX_DEPTH = 512  # one open directory fd per level
CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class Packed(NamedTuple):
    diff_id: str  # sha256 of the uncompressed tar
    digest: str  # sha256 of the gzip blob
    size: int  # the blob's bytes
    content_size: int  # the regular files' bytes (Docker's layer size)


class Sink:
    """Takes a tar stream: hashes it (the diff_id), compresses it (gzip, no timestamp:
    deterministic), hashes and writes the result; `import` feeds it a given tar."""

    def __init__(self, out: IO[bytes], level: int) -> None:
        from isal import isal_zlib

        self.out = out
        self.diff = hashlib.sha256()
        self.blob = hashlib.sha256()
        self.size = 0
        self._compressor = isal_zlib.compressobj(level, isal_zlib.DEFLATED, 31)  # gzip

    def write(self, data: bytes) -> int:
        self.diff.update(data)
        self._emit(self._compressor.compress(data))
        return len(data)

    def _emit(self, data: bytes) -> None:
        if data:
            self.blob.update(data)
            self.out.write(data)
            self.size += len(data)

    def finish(self) -> None:
        self._emit(self._compressor.flush())


class Measured(NamedTuple):
    diff_id: str  # sha256 of the uncompressed tar
    content_size: int  # the regular files' bytes (Docker's layer size)


class _Digest:
    """Takes a tar stream and only hashes it: the diff_id, without a blob."""

    def __init__(self) -> None:
        self.diff = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.diff.update(data)
        return len(data)


def pack(
    upper: str,
    out: IO[bytes],
    *,
    epoch: int | None = None,
    level: int = 1,
    stubs: frozenset[str] = frozenset(),
) -> Packed:
    """Write the layer of the directory `upper` to `out`, gzip-compressed. `stubs`: paths
    (relative, `etc/hosts`) the runtime made as mount points, left out while they are an
    empty file or directory (Docker keeps them in an init layer no image gets)."""
    sink = Sink(out, level)
    content = _write_tar(upper, sink, epoch, stubs)
    sink.finish()
    return Packed(
        f"sha256:{sink.diff.hexdigest()}", f"sha256:{sink.blob.hexdigest()}", sink.size, content
    )


def measure(
    upper: str, *, epoch: int | None = None, stubs: frozenset[str] = frozenset()
) -> Measured:
    """What `pack` would say of the directory's layer (the same tar, hashed), without
    compressing or writing it: a build's step layer, packed later only if an image needs it."""
    sink = _Digest()
    content = _write_tar(upper, sink, epoch, stubs)
    return Measured(f"sha256:{sink.diff.hexdigest()}", content)


def _write_tar(upper: str, sink: Sink | _Digest, epoch: int | None, stubs: frozenset[str]) -> int:
    """The tree's tar into `sink`: in tarfile's records for a compressor (its output depends
    on the pieces), as it comes for a hash."""
    root = os.open(upper, _DIR_FLAGS)
    try:
        writer = TarWriter(sink, records=isinstance(sink, Sink))
        content = _Packer(writer, epoch, stubs).walk(root)
        writer.close()
        return content
    finally:
        os.close(root)


class _Packer:
    def __init__(self, archive: TarWriter, epoch: int | None, stubs: frozenset[str]) -> None:
        self.archive = archive
        self.epoch = epoch
        self.stubs = stubs
        self.links: dict[tuple[int, int], str] = {}
        self.content = 0

    def walk(self, root: int) -> int:
        """Every entry under the directory fd `root`, depth first, names sorted."""
        stack: list[tuple[int, str, list[str]]] = [(root, "", _names(root))]
        try:
            while stack:
                directory, prefix, names = stack[-1]
                if not names:
                    stack.pop()
                    if stack:  # the root is the caller's to close
                        os.close(directory)
                    continue
                name = names.pop()
                child = self.entry(directory, prefix, name)
                if child is not None:
                    if len(stack) >= MAX_DEPTH:
                        os.close(child)
                        raise InvalidArgument(f"{prefix}{name}: deeper than {MAX_DEPTH} levels")
                    stack.append((child, f"{prefix}{name}/", _names(child)))
        finally:
            for directory, _, _ in stack[1:]:
                os.close(directory)
        return self.content

    def entry(self, directory: int, prefix: str, name: str) -> int | None:
        """Add one entry; returns the fd of a directory to descend into."""
        st = os.stat(name, dir_fd=directory, follow_symlinks=False)
        path = prefix + name
        if path in self.stubs and _empty(directory, name, st):
            return None
        info = tarfile.TarInfo(path)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = int(st.st_mtime) if self.epoch is None else min(int(st.st_mtime), self.epoch)
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFCHR and st.st_rdev == 0:  # overlay's whiteout
            info.name = prefix + WHITEOUT_PREFIX + name
            info.mode = 0
            self.archive.add(info)
            return None
        if kind == stat.S_IFDIR:
            fd = os.open(name, _DIR_FLAGS, dir_fd=directory)
            info.type = tarfile.DIRTYPE
            self._xattrs(info, fd)
            self.archive.add(info)
            if _opaque(fd):
                marker = tarfile.TarInfo(f"{path}/{OPAQUE_MARKER}")
                marker.mtime, marker.uname, marker.gname = info.mtime, "", ""
                self.archive.add(marker)
            return fd
        if kind == stat.S_IFLNK:
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(name, dir_fd=directory)
            self.archive.add(info)
            return None
        if kind == stat.S_IFREG:
            self._regular(directory, name, info, st)
            return None
        if kind in (stat.S_IFCHR, stat.S_IFBLK):
            info.type = tarfile.CHRTYPE if kind == stat.S_IFCHR else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif kind == stat.S_IFIFO:
            info.type = tarfile.FIFOTYPE
        else:
            return None  # a socket: tar has no type for it, Docker leaves it out too
        self.archive.add(info)
        return None

    def _regular(
        self, directory: int, name: str, info: tarfile.TarInfo, st: os.stat_result
    ) -> None:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1:
            first = self.links.get(key)
            if first is not None:
                info.type, info.linkname = tarfile.LNKTYPE, first
                self.archive.add(info)
                return
            self.links[key] = info.name
        fd = os.open(name, _FILE_FLAGS, dir_fd=directory)
        try:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) != key or not stat.S_ISREG(opened.st_mode):
                raise InvalidArgument(f"{info.name} changed while it was packed")
            info.size = opened.st_size
            self._xattrs(info, fd)
            with os.fdopen(fd, "rb", closefd=False) as stream:
                self.archive.add(info, _Exactly(stream, info.size, info.name))
        finally:
            os.close(fd)
        self.content += info.size

    @staticmethod
    def _xattrs(info: tarfile.TarInfo, fd: int) -> None:
        for key in KEPT_XATTRS:
            try:
                value = os.getxattr(fd, key)
            except OSError:
                continue
            # tarfile writes a str value back as the bytes it came from (hdrcharset=BINARY)
            text = value.decode("utf-8", "surrogateescape")
            info.pax_headers = {**info.pax_headers, f"SCHILY.xattr.{key}": text}


class _Exactly:
    """A file's first `size` bytes, as its header promised: a file that shrank meanwhile
    is an error, not a corrupt tar."""

    def __init__(self, stream: IO[bytes], size: int, name: str) -> None:
        self.stream, self.left, self.name = stream, size, name

    def read(self, size: int = CHUNK) -> bytes:
        data = self.stream.read(min(size, self.left)) if self.left else b""
        if len(data) < min(size, self.left):
            raise InvalidArgument(f"{self.name} shrank while it was packed")
        self.left -= len(data)
        return data


def _empty(directory: int, name: str, st: os.stat_result) -> bool:
    if stat.S_ISREG(st.st_mode):
        return st.st_size == 0
    if stat.S_ISDIR(st.st_mode):
        fd = os.open(name, _DIR_FLAGS, dir_fd=directory)
        try:
            return not os.listdir(fd)
        finally:
            os.close(fd)
    return False


def _names(directory: int) -> list[str]:
    """The directory's names, reversed (popped from the end: in order)."""
    return sorted(os.listdir(directory), reverse=True)


def _opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False
