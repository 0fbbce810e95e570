"""Writes tar members to the filesystem faithfully, converting whiteouts to overlayfs form.

Runs in the unpacker process with the layer directory as its root (chroot), so member
names are relative to "/", and nothing a name or a symlink says can reach the host. The
final component is never followed: files open with O_NOFOLLOW|O_EXCL, and an existing entry
is removed and replaced as tar does (a directory meeting a directory merges).

Faithful means numeric owners (names are ignored), the full mode including setuid, setgid
and sticky, nanosecond mtimes, PAX `SCHILY.xattr.*` xattrs (security.capability too),
device nodes, fifos, hardlinks and symlinks exactly as stored. The per-file syscall count
is kept low (open, write, utime, close for a root-owned file): umask 0 lets open/mkdir/mknod
set the mode, and chown is skipped when the owner is already right. Directory metadata is
applied at the end, since creating entries in a directory changes its mtime.

Imports only the stdlib: it runs after the chroot.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tarfile

from berth.archive.headers import Member, Reader
from berth.archive.names import clean
from berth.archive.source import Corrupt, Source

TYPE_CHECKING = False  # typing costs the unpacker ~7 ms where isal doesn't load it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

WHITEOUT = b".wh."
OPAQUE = b".wh..wh..opq"
AUFS_META = b".wh..wh."  # aufs bookkeeping (.wh..wh.plnk ...): never part of the image
OPAQUE_XATTR = "trusted.overlay.opaque"
CHUNK = 1 << 20
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NODES = {
    tarfile.CHRTYPE: stat.S_IFCHR,
    tarfile.BLKTYPE: stat.S_IFBLK,
    tarfile.FIFOTYPE: stat.S_IFIFO,
}


class Extractor:
    """Applies members one at a time; `finish` sets directory metadata."""

    def __init__(self, reader: Reader, source: Source) -> None:
        self._reader = reader
        self._read = source.read_some
        self._uid = os.geteuid()
        self._gid = os.getegid()
        # A setgid directory hands its group to new entries: from then on, always chown.
        self._always_chown = False
        self._dirs: dict[bytes, Member] = {}
        self.size = 0

    def apply(self, member: Member) -> None:
        name = clean(member.name)
        base = name.rpartition(b"/")[2]
        if base.startswith(WHITEOUT):
            self._whiteout(name, base, member)
            return
        kind = member.type
        if not name and kind != tarfile.DIRTYPE:
            raise Corrupt(f"{member.name!r}: the layer's root must be a directory")
        path = name or b"."
        if kind == tarfile.REGTYPE:
            self._file(path, member)
        elif kind == tarfile.DIRTYPE:
            self._dir(path, member)
        elif kind == tarfile.SYMTYPE:
            self._create(path, lambda: os.symlink(member.linkname, path))
            self._metadata(path, member)
        elif kind == tarfile.LNKTYPE:
            self._hardlink(path, member)
        elif kind in _NODES:
            device = os.makedev(member.devmajor, member.devminor)
            mode = _NODES[kind] | (member.mode & 0o7777)
            self._create(path, lambda: os.mknod(path, mode, device))
            self._metadata(path, member)
        else:
            raise Corrupt(f"{member.name!r}: unsupported tar entry type {kind!r}")

    def finish(self) -> None:
        """Directory modes and mtimes, after everything inside them was written."""
        for path, member in self._dirs.items():
            os.chmod(path, member.mode & 0o7777)  # a directory: _forget_dirs saw to that
            os.utime(path, ns=(member.mtime_ns, member.mtime_ns), follow_symlinks=False)

    def _file(self, path: bytes, member: Member) -> None:
        mode = member.mode & 0o7777
        try:  # the common case first, without _create's closure
            fd = os.open(path, _CREATE, mode)
        except OSError:
            fd = self._create(path, lambda: os.open(path, _CREATE, mode))
        try:
            if member.sparse is not None:
                data = self._reader.sparse_data(member.sparse)
                while chunk := data.read(CHUNK):
                    _write(fd, chunk)
            else:
                size = member.size
                while size > 0:
                    chunk = self._read(min(size, CHUNK))
                    if not chunk:
                        raise Corrupt("tar stream ends inside a file's data")
                    _write(fd, chunk)
                    size -= len(chunk)
            if self._chown(fd, member) and mode & _SPECIAL_BITS:
                os.fchmod(fd, mode)  # chown cleared setuid/setgid
            for key, value in member.xattrs:
                os.setxattr(fd, key, value)
            os.utime(fd, ns=(member.mtime_ns, member.mtime_ns))
        finally:
            os.close(fd)
        self.size += member.size

    def _dir(self, path: bytes, member: Member) -> None:
        with contextlib.suppress(FileExistsError):  # an existing directory merges
            self._create(path, lambda: os.mkdir(path, member.mode & 0o1777), merge=True)
        self._chown(path, member)
        for key, value in member.xattrs:
            os.setxattr(path, key, value, follow_symlinks=False)
        if member.mode & stat.S_ISGID:
            self._always_chown = True
        self._dirs[path] = member

    def _hardlink(self, path: bytes, member: Member) -> None:
        target = clean(member.linkname) or b"."
        if target == path:
            return
        try:
            self._create(path, lambda: os.link(target, path, follow_symlinks=False))
        except FileNotFoundError:
            if not os.path.lexists(target):
                raise Corrupt(f"{member.name!r}: hardlink to missing {member.linkname!r}") from None
            raise

    def _whiteout(self, name: bytes, base: bytes, member: Member) -> None:
        parent = name.rpartition(b"/")[0]
        if base == OPAQUE:
            directory = parent or b"."
            _make_dirs(directory)  # the marker may precede its directory
            os.setxattr(directory, OPAQUE_XATTR, b"y", follow_symlinks=False)
        elif not base.startswith(AUFS_META) and base != WHITEOUT:
            hidden = base[len(WHITEOUT) :]
            path = parent + b"/" + hidden if parent else hidden
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

    def _chown(self, target: bytes | int, member: Member) -> bool:
        """Give `target` the member's numeric owner unless it has it already."""
        if not self._always_chown and member.uid == self._uid and member.gid == self._gid:
            return False
        if isinstance(target, int):
            os.fchown(target, member.uid, member.gid)
        else:
            os.chown(target, member.uid, member.gid, follow_symlinks=False)
        return True

    def _metadata(self, path: bytes, member: Member) -> None:
        """Owner, the mode bits chown cleared, xattrs and mtime of a non-regular entry."""
        symlink = member.type == tarfile.SYMTYPE
        if self._chown(path, member) and not symlink and member.mode & _SPECIAL_BITS:
            os.chmod(path, member.mode & 0o7777)
        for key, value in member.xattrs:
            try:
                os.setxattr(path, key, value, follow_symlinks=False)
            except OSError as err:
                # Linux allows no user.* xattrs on symlinks; tar skips them the same way.
                if not (symlink and err.errno in (errno.EPERM, errno.ENOTSUP)):
                    raise
        os.utime(path, ns=(member.mtime_ns, member.mtime_ns), follow_symlinks=False)


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
    written = os.write(fd, data)
    if written < len(data):  # only a signal or a full disk writes short
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]
