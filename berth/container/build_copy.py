"""A build's COPY and ADD, on the image's side: run by the copy helper (`berth.container.
copier`), chrooted into the step's snapshot mounted in a namespace of its own, so every name
resolves inside the image (a `/var/run -> /run` link in it is followed there, never out).

The engine sends the list of the context's files (`copy_files`: each read here, by its host
path) or, for an archive ADD unpacks, a tar (`copy_in`), the entries named as they land under
the destination; COPY --from's entries come from the source's side (`build_copy_from`),
placed by the same functions. BuildKit's rules: a destination ending in `/` (or any copy of
several sources or of a directory's contents) is a directory, made with its missing parents
(root-owned, 0755); a single file to a destination without `/` takes the destination's name,
unless the destination is an existing directory, where it keeps its own. Every entry is
owned by `--chown`'s user and group (resolved in the image's /etc/passwd and /etc/group) or
by root (COPY --from keeps the source's owners). `strip`: the top entry of a
tar from another image's `cp` archive, whose contents are what a directory source copies.
"""

from __future__ import annotations

import bz2  # noqa: F401 -- tarfile's "r|*" loads these; the helper seals imports
import contextlib
import errno
import json
import lzma  # noqa: F401
import os
import posixpath
import stat
import tarfile
import zlib  # noqa: F401
from pathlib import Path
from typing import IO, Any

from berth.container.cp_stream import unpack
from berth.container.user import resolve as resolve_user
from berth.errors import InvalidArgument

CHUNK = 1 << 20
NS = 10**9
# A source file opened for its bytes: never through a link at its end, never blocking on a fifo
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def copy_in(stream: IO[bytes], request: dict[str, Any]) -> None:
    directory, rename, owner = destination(request)
    strip = request.get("strip")
    place = lambda member: _placed(member, rename, strip)  # noqa: E731
    unpack(stream, directory, place, owner=owner, mode="r|*")  # a context may come compressed


def copy_files(stream: IO[bytes], request: dict[str, Any], host: int) -> None:
    """A COPY of host files (the context's) without a tar between: `stream` says each as a
    JSON line `[name, kind, mode, mtime, source, device, inode, link]` (`berth.build.context.
    write_list`), and a file's bytes are read from `source`, a host path opened
    beneath `host` (the host's root, opened before the chroot) without following a link at
    its end, and only if it is still the file the engine selected (device and inode): one
    swapped meanwhile is refused, not copied. Each entry is made as the tar unpacker makes
    it (`unpack`), so that both ways place the same tree."""
    directory, rename, chosen = destination(request)
    owner = chosen or (0, 0)
    present = {directory}  # directories known to be there: a file's parent is looked up once
    for line in stream:
        name, kind, mode, mtime, source, device, inode, link = json.loads(line)
        target = landing(directory, rename or name, present)
        if kind == "dir":
            make_directory(target, present)
            copy_attributes(target, owner, mode, mtime * NS)
        elif kind == "link":
            make_link(target, link, owner)
        else:
            _copy_file(host, source, (device, inode), target, name, (owner, mode, mtime * NS))


def _copy_file(
    host: int,
    source: str,
    identity: tuple[int, int],
    target: str,
    name: str,
    attributes: tuple[tuple[int, int], int, int],
) -> None:
    try:
        read_fd = os.open(source.lstrip("/"), READ_FLAGS, dir_fd=host)
    except OSError as error:
        raise InvalidArgument(f"cannot copy {name}: {error.strerror}") from None
    try:
        found = os.fstat(read_fd)
        if (found.st_dev, found.st_ino) != identity or not stat.S_ISREG(found.st_mode):
            raise InvalidArgument(f"cannot copy {name}: it changed while the build read it")
        send_file(read_fd, target, attributes)
    finally:
        os.close(read_fd)


def send_file(read_fd: int, target: str, attributes: tuple[tuple[int, int], int, int]) -> None:
    """The bytes of the open file `read_fd` as `target` (made, or truncated as a tar's
    unpacker does), then its owner, mode and time (ns) set on the open file."""
    write_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        _send(read_fd, write_fd, os.fstat(read_fd).st_size)
        owner, mode, mtime_ns = attributes
        os.fchown(write_fd, *owner)
        os.fchmod(write_fd, mode)
        os.utime(write_fd, ns=(mtime_ns, mtime_ns))
    finally:
        os.close(write_fd)


def landing(directory: str, name: str, present: set[str]) -> str:
    """Where the entry `name` lands, its parent made if missing (as the tar unpacker makes
    it); `present`: the directories known to be there, each looked up once."""
    target = posixpath.join(directory, name)
    parent = posixpath.dirname(target)
    if parent not in present:
        if not os.path.exists(parent):
            os.makedirs(parent)
        present.add(parent)
    return target


def make_directory(target: str, present: set[str]) -> None:
    """A directory (one already there is kept), private until its attributes are set."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(target, 0o700)
    present.add(target)


def make_link(target: str, link: str, owner: tuple[int, int]) -> None:
    """A symbolic link in place of whatever was there."""
    if os.path.lexists(target):
        os.unlink(target)
    os.symlink(link, target)
    os.lchown(target, *owner)


def copy_attributes(target: str, owner: tuple[int, int], mode: int, mtime_ns: int) -> None:
    """A placed entry's owner, mode and time, as the tar unpacker sets them."""
    os.chown(target, *owner)
    os.chmod(target, mode)
    os.utime(target, ns=(mtime_ns, mtime_ns))


def _send(read_fd: int, write_fd: int, size: int) -> None:
    """The file's bytes, in the kernel (sendfile) where it can, else read and written."""
    offset = 0
    try:
        while offset < size:
            sent = os.sendfile(write_fd, read_fd, offset, min(size - offset, CHUNK))
            if sent == 0:
                break  # it shrank: what was there is copied, as a tar of it would be
            offset += sent
        return
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOSYS) or offset:
            raise
    while chunk := os.pread(read_fd, CHUNK, offset):
        os.write(write_fd, chunk)
        offset += len(chunk)


def destination(request: dict[str, Any]) -> tuple[str, str | None, tuple[int, int] | None]:
    """Where a COPY's entries land, the name a single file takes there (None: its own) and
    their owner (root, --chown's user resolved in the image, or None: the tar's own)."""
    dest = posixpath.normpath(posixpath.join("/", str(request["path"])))
    rename = request.get("file_name")
    owner: tuple[int, int] | None = None if request.get("keep_owners") else (0, 0)
    if request.get("chown"):
        resolved = resolve_user(Path("/"), str(request["chown"]))
        owner = (resolved.uid, resolved.gid)
    if rename is not None and not os.path.isdir(dest):
        directory = posixpath.dirname(dest)
    else:
        directory, rename = dest, None
    _make_dirs(directory)
    return directory, rename, owner


def _placed(
    member: tarfile.TarInfo, rename: str | None, strip: str | None
) -> tarfile.TarInfo | None:
    name = member.name.rstrip("/")
    if strip is not None:
        if name == strip:
            return None  # the source directory itself: its contents are what is copied
        if not name.startswith(strip + "/"):
            raise InvalidArgument(f"unexpected entry {member.name} in the copy")
        name = name[len(strip) + 1 :]
    if rename is not None:
        _, _, tail = name.partition("/")
        name = rename + ("/" + tail if tail else "")
    member.name = name
    return member


def _make_dirs(directory: str) -> None:
    """`mkdir -p`, each new directory root's with mode 0755, as BuildKit makes them."""
    missing = []
    path = directory
    while not os.path.lexists(path):
        missing.append(path)
        path = posixpath.dirname(path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise InvalidArgument(f"cannot copy to {directory}: {path} is not a directory")
    for path in reversed(missing):
        os.mkdir(path, 0o755)
        os.chmod(path, 0o755)
