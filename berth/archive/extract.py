"""Writes tar members to the filesystem faithfully, converting whiteouts to overlayfs form.

Runs in the unpacker process with the layer directory as its root (chroot), so member
names are relative to "/", and nothing a name or a symlink says can reach the host. The
final component is never followed: files open with O_NOFOLLOW|O_EXCL, and an existing entry
is removed and replaced as tar does (a directory meeting a directory merges).

Faithful means numeric owners (names are ignored), the full mode including setuid, setgid
and sticky, nanosecond mtimes, PAX `SCHILY.xattr.*` xattrs (security.capability too),
device nodes, fifos, hardlinks and symlinks exactly as stored. The per-file syscall count
is kept low: umask 0 lets open/mkdir/mknod set the mode, and chown is skipped when the
owner is already right. Directory metadata is applied at the end, since creating entries
in a directory changes its mtime.

Imports only the stdlib; tarfile supplies the header parser, never its extraction code.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tarfile
from collections.abc import Callable
from typing import TypeVar

from berth.archive.names import clean, parse_ns
from berth.archive.source import Corrupt, Source

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
AUFS_META = ".wh..wh."  # aufs bookkeeping (.wh..wh.plnk ...): never part of the image
OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PAX = "SCHILY.xattr."
CHUNK = 1 << 20
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
T = TypeVar("T")
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _encode(name: str) -> bytes:
    # tarfile decoded names as UTF-8 with surrogateescape; this gives back the stored bytes.
    return name.encode("utf-8", "surrogateescape") if name else b"."


def _mtime_ns(member: tarfile.TarInfo) -> int:
    text = member.pax_headers.get("mtime")
    return parse_ns(text) if text else int(member.mtime) * 1_000_000_000


class Extractor:
    """Applies members one at a time; `finish` sets directory metadata."""

    def __init__(self, tar: tarfile.TarFile, source: Source) -> None:
        self._tar = tar
        self._read = source.read
        self._uid = os.geteuid()
        self._gid = os.getegid()
        # A setgid directory hands its group to new entries: from then on, always chown.
        self._always_chown = False
        self._dirs: dict[bytes, tarfile.TarInfo] = {}
        self.size = 0

    def apply(self, member: tarfile.TarInfo) -> None:
        name = clean(member.name)
        base = name.rpartition("/")[2]
        if base.startswith(WHITEOUT):
            self._whiteout(name, base, member)
            return
        if not name and not member.isdir():
            raise Corrupt(f"{member.name!r}: the layer's root must be a directory")
        path = _encode(name)
        if member.isreg():
            self._file(path, member)
        elif member.isdir():
            self._dir(path, member)
        elif member.issym():
            self._create(path, lambda: os.symlink(_encode(member.linkname), path))
            self._metadata(path, member)
        elif member.islnk():
            self._hardlink(path, member)
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = stat.S_IFIFO if member.isfifo() else stat.S_IFBLK
            kind = stat.S_IFCHR if member.ischr() else kind
            device = os.makedev(member.devmajor, member.devminor)
            self._create(path, lambda: os.mknod(path, kind | (member.mode & 0o7777), device))
            self._metadata(path, member)
        else:
            raise Corrupt(f"{member.name}: unsupported tar entry type {member.type!r}")

    def finish(self) -> None:
        """Directory modes and mtimes, after everything inside them was written."""
        for path, member in self._dirs.items():
            os.chmod(path, member.mode & 0o7777)  # a directory: _forget_dirs saw to that
            ns = _mtime_ns(member)
            os.utime(path, ns=(ns, ns), follow_symlinks=False)

    def _file(self, path: bytes, member: tarfile.TarInfo) -> None:
        mode = member.mode & 0o7777
        fd = self._create(path, lambda: os.open(path, _CREATE, mode))
        try:
            if member.sparse is not None:
                # GNU sparse members are rare: tarfile's reader knows their map.
                data = self._tar.extractfile(member)
                assert data is not None  # a regular member always has data
                while chunk := data.read(CHUNK):
                    _write(fd, chunk)
            else:
                self._copy(fd, member.size)
            if self._chown(fd, member) and mode & _SPECIAL_BITS:
                os.fchmod(fd, mode)  # chown cleared setuid/setgid
            self._xattrs(fd, member)
            ns = _mtime_ns(member)
            os.utime(fd, ns=(ns, ns))
        finally:
            os.close(fd)
        self.size += member.size

    def _copy(self, fd: int, size: int) -> None:
        while size > 0:
            chunk = self._read(min(size, CHUNK))
            if not chunk:
                raise Corrupt("tar stream ends inside a file's data")
            _write(fd, chunk)
            size -= len(chunk)

    def _dir(self, path: bytes, member: tarfile.TarInfo) -> None:
        with contextlib.suppress(FileExistsError):  # an existing directory merges
            self._create(path, lambda: os.mkdir(path, member.mode & 0o1777), merge=True)
        self._chown(path, member)
        self._xattrs(path, member)
        if member.mode & stat.S_ISGID:
            self._always_chown = True
        self._dirs[path] = member

    def _hardlink(self, path: bytes, member: tarfile.TarInfo) -> None:
        target = _encode(clean(member.linkname))
        if target == path:
            return
        try:
            self._create(path, lambda: os.link(target, path, follow_symlinks=False))
        except FileNotFoundError:
            if not os.path.lexists(target):
                raise Corrupt(f"{member.name}: hardlink to missing {member.linkname}") from None
            raise

    def _whiteout(self, name: str, base: str, member: tarfile.TarInfo) -> None:
        parent = name.rpartition("/")[0]
        if base == OPAQUE:
            directory = _encode(parent)
            _make_dirs(directory)  # the marker may precede its directory
            os.setxattr(directory, OPAQUE_XATTR, b"y", follow_symlinks=False)
        elif not base.startswith(AUFS_META) and base != WHITEOUT:
            hidden = base[len(WHITEOUT) :]
            path = _encode(f"{parent}/{hidden}" if parent else hidden)
            self._create(path, lambda: os.mknod(path, stat.S_IFCHR, 0))
            self._chown(path, member)

    def _create(self, path: bytes, make: Callable[[], T], *, merge: bool = False) -> T:
        """Run `make`, first making missing parents or removing what is in the way.

        With `merge`, an existing directory is kept and FileExistsError raised instead.
        """
        try:
            return make()
        except FileNotFoundError:
            _make_dirs(os.path.dirname(path))
            return make()
        except FileExistsError:
            if stat.S_ISDIR(os.lstat(path).st_mode):
                if merge:
                    raise
                shutil.rmtree(path)
                self._forget_dirs(path)
            else:
                os.unlink(path)
            return make()

    def _forget_dirs(self, removed: bytes) -> None:
        inside = removed + b"/"
        for path in [p for p in self._dirs if p == removed or p.startswith(inside)]:
            del self._dirs[path]

    def _chown(self, target: bytes | int, member: tarfile.TarInfo) -> bool:
        """Give `target` the member's numeric owner unless it has it already."""
        if not self._always_chown and member.uid == self._uid and member.gid == self._gid:
            return False
        if isinstance(target, int):
            os.fchown(target, member.uid, member.gid)
        else:
            os.chown(target, member.uid, member.gid, follow_symlinks=False)
        return True

    def _xattrs(self, target: bytes | int, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if key.startswith(XATTR_PAX):
                data = value.encode("utf-8", "surrogateescape")
                if isinstance(target, int):
                    os.setxattr(target, key[len(XATTR_PAX) :], data)
                else:
                    os.setxattr(target, key[len(XATTR_PAX) :], data, follow_symlinks=False)

    def _metadata(self, path: bytes, member: tarfile.TarInfo) -> None:
        """Owner, mode bits chown cleared, xattrs and mtime of a non-regular entry."""
        if self._chown(path, member) and not member.issym() and member.mode & _SPECIAL_BITS:
            os.chmod(path, member.mode & 0o7777)
        try:
            self._xattrs(path, member)
        except OSError as err:
            # Linux allows no user.* xattrs on symlinks; tar skips them the same way.
            if not (member.issym() and err.errno in (errno.EPERM, errno.ENOTSUP)):
                raise
        ns = _mtime_ns(member)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)


def _make_dirs(path: bytes) -> None:
    """mkdir -p with Docker's 0755 for every directory (os.makedirs gives parents 0777)."""
    if not path:
        return
    try:
        os.mkdir(path, 0o755)
    except FileNotFoundError:
        _make_dirs(os.path.dirname(path))
        os.mkdir(path, 0o755)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
