"""The container's side of the Engine API's archive endpoints (HEAD, GET and PUT
/containers/{id}/archive), run by the copy helper (`berth.container.copier`) once it is
chrooted into the container: Docker's stat of a path, the tar of a path named as dockerd
names it, and a client's tar stream unpacked into a directory by dockerd's rules.

Paths are the client's: the chroot keeps every name, `..` and symlink inside the container,
and the rules below refuse what dockerd refuses (members and links that leave the
destination directory). Everything this module needs is imported before the chroot — the
decompressors too: an import inside would run a file the container's image controls.
"""

from __future__ import annotations

import bz2  # noqa: F401  # for tarfile's "r|*", imported before the chroot (see above)
import errno
import lzma  # noqa: F401
import os
import posixpath
import shutil
import stat
import tarfile
import time
import zlib  # noqa: F401
from typing import IO, Any

from berth.errors import BerthError, InvalidArgument, NotFound, from_os_error

# Go's os.FileMode bits, which Docker's path stat carries.
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_DEVICE = 1 << 26
_GO_PIPE = 1 << 25
_GO_SOCKET = 1 << 24
_GO_SETUID = 1 << 23
_GO_SETGID = 1 << 22
_GO_CHAR_DEVICE = 1 << 21
_GO_STICKY = 1 << 20
_GO_TYPES = {
    stat.S_IFDIR: _GO_DIR,
    stat.S_IFLNK: _GO_SYMLINK,
    stat.S_IFBLK: _GO_DEVICE,
    stat.S_IFCHR: _GO_DEVICE | _GO_CHAR_DEVICE,
    stat.S_IFIFO: _GO_PIPE,
    stat.S_IFSOCK: _GO_SOCKET,
}


def go_mode(mode: int) -> int:
    """A st_mode as Go's os.FileMode (what `docker cp` reads to tell a directory)."""
    value = (mode & 0o777) | _GO_TYPES.get(stat.S_IFMT(mode), 0)
    if mode & stat.S_ISUID:
        value |= _GO_SETUID
    if mode & stat.S_ISGID:
        value |= _GO_SETGID
    if mode & stat.S_ISVTX:
        value |= _GO_STICKY
    return value


def _go_time(nanoseconds: int) -> str:
    """Go's RFC 3339 with nanoseconds, trailing zeros dropped, as time.Time marshals."""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def absolute(path: str) -> str:
    """The client's path made absolute and clean, keeping what its end asks (moby's
    PreserveTrailingDotOrSeparator): `dir/.` means the contents, `link/` the link's target."""
    cleaned = posixpath.normpath(posixpath.join("/", path))
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if posixpath.basename(path) == "." and posixpath.basename(cleaned) != ".":
        cleaned = cleaned.rstrip("/") + "/."
    if path.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def _base(path: str) -> str:
    """Go's filepath.Base: the last element, trailing slashes aside; `/` for the root."""
    stripped = path.rstrip("/")
    return posixpath.basename(stripped) if stripped else "/"


def _lstat(path: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"Could not find the file {path}") from None
    except OSError as error:
        raise _os_error(error) from None


def path_stat(path: str) -> dict[str, Any]:
    """Docker's PathStat of the (absolute) path: name, size, mode, mtime and, for a symlink,
    its target resolved inside the container."""
    info = _lstat(path)
    target = ""
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)  # chrooted: never outside the container
    return {
        "name": _base(path),
        "size": info.st_size,
        "mode": go_mode(info.st_mode),
        "mtime": _go_time(info.st_mtime_ns),
        "linkTarget": target,
    }


def archive(path: str, out: IO[bytes]) -> None:
    """A JSON line with the path's stat, then a tar of it whose top entry is named after the
    path's last element, as dockerd's archive is (`.` for `dir/.`)."""
    import json

    where = absolute(path)
    document = path_stat(where)
    out.write(json.dumps(document).encode() + b"\n")
    name = _base(where)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.add(where, arcname="." if name == "/" else name, recursive=True)


# -- PUT: a client's tar into a directory -----------------------------------------------


def extraction_point(path: str) -> str:
    """The directory a PUT unpacks into, every link on the way (the last one too) followed."""
    resolved = os.path.realpath(posixpath.join("/", path))
    if not os.path.lexists(resolved):
        raise NotFound(f"Could not find the file {path}")
    if not stat.S_ISDIR(_lstat(resolved).st_mode):
        raise InvalidArgument("extraction point is not a directory")
    return resolved


def check_writable(
    directory: str, mounts: list[tuple[str, bool]], *, readonly_rootfs: bool
) -> None:
    """dockerd's checkWritablePath: a read-only volume or rootfs refuses the copy, stopped
    container or not. `mounts` are (target, read-write) of the container's volumes and binds."""
    best: tuple[str, bool] | None = None
    for target, writable in mounts:
        inside = posixpath.normpath(posixpath.join("/", target))
        covers = directory == inside or directory.startswith(inside.rstrip("/") + "/")
        if covers and (best is None or len(inside) > len(best[0])):
            best = (inside, writable)
    if best is not None:
        if not best[1]:
            raise InvalidArgument("mounted volume is marked read-only")
        return
    if readonly_rootfs:
        raise InvalidArgument("container rootfs is marked read-only")


def _inside(directory: str, path: str) -> bool:
    return directory in ("/", path) or path.startswith(directory + "/")


def _member_path(directory: str, member: tarfile.TarInfo) -> str:
    """Where a member lands: its name cleaned and taken under `directory` even when absolute;
    a name that climbs out of it is a breakout (moby's Unpack refuses it too)."""
    if "\0" in member.name or "\0" in member.linkname:
        raise InvalidArgument(f"invalid name in the archive: {member.name!r}")
    name = posixpath.normpath(member.name)
    if name == ".." or name.startswith("../"):
        raise InvalidArgument(f"{member.name!r} is outside of the destination directory")
    name = name.lstrip("/") or "."
    path = posixpath.normpath(posixpath.join(directory, name))
    if member.islnk():
        link = posixpath.normpath(member.linkname)
        if link == ".." or link.startswith("../"):
            raise InvalidArgument(f"invalid hardlink {member.name!r} -> {member.linkname!r}")
        member.linkname = link.lstrip("/")
    elif member.issym():
        # Relative to the link's own directory; an absolute target is the container's own.
        target = posixpath.normpath(posixpath.dirname(path) + "/" + member.linkname)
        if not _inside(directory, target):
            raise InvalidArgument(f"invalid symlink {member.name!r} -> {member.linkname!r}")
    member.name = name
    return path


def _make_room(path: str, member: tarfile.TarInfo, *, allow_overwrite_dir_with_file: bool) -> bool:
    """Clear the way for `member` at `path` as moby's Unpack does; False when it is the
    destination directory itself (kept as it is)."""
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        return True
    is_dir = stat.S_ISDIR(existing.st_mode)
    if not allow_overwrite_dir_with_file:
        if is_dir and not member.isdir():
            raise InvalidArgument(f"cannot overwrite directory {member.name!r} with non-directory")
        if not is_dir and member.isdir():
            raise InvalidArgument(f"cannot overwrite non-directory {member.name!r} with directory")
    if member.name == ".":
        if not member.isdir():
            raise InvalidArgument("the archive replaces the destination directory")
        return False
    if is_dir and member.isdir():
        return True  # merged: the member's metadata applies to the existing directory
    if is_dir:
        shutil.rmtree(path)
    else:
        os.unlink(path)  # a symlink is replaced, never followed
    return True


def extract(
    stream: IO[bytes],
    directory: str,
    *,
    allow_overwrite_dir_with_file: bool,
    owner: tuple[int, int] | None,
) -> None:
    """Unpack a tar stream (gzip, bzip2 or xz compressed, or not) into `directory`; owners
    are the archive's, or `owner` for every member."""
    if hasattr(stream, "peek") and not stream.peek(1)[:1]:
        return  # an empty body copies nothing, as dockerd's
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                path = _member_path(directory, member)
                if not _make_room(
                    path, member, allow_overwrite_dir_with_file=allow_overwrite_dir_with_file
                ):
                    continue
                if owner is not None:
                    member.uid, member.gid = owner
                tar.extract(member, directory, numeric_owner=True)
    except tarfile.TarError as error:
        raise InvalidArgument(f"invalid tar archive: {error}") from None
    except ValueError as error:
        raise InvalidArgument(f"invalid tar archive: {error}") from None
    except OSError as error:
        raise _os_error(error) from None


def _os_error(error: OSError) -> BerthError:
    """The client's fault (a name too long, a path through a file, a read-only file system)
    as InvalidArgument; the host's as what `from_os_error` says."""
    if error.errno in (errno.ENAMETOOLONG, errno.ENOTDIR, errno.ELOOP, errno.EISDIR):
        return InvalidArgument(f"{error.strerror}: {error.filename or ''}".rstrip(": "))
    if error.errno == errno.EROFS:
        return InvalidArgument("the destination is on a read-only file system")
    return from_os_error(error)
