"""COPY --from between two snapshots, in the copy helper (`berth.container.copier`): a child
chrooted into the source finds the sources and hands each entry to its parent, chrooted into
the step's snapshot, over a socket pair — a file as an open descriptor (SCM_RIGHTS), which the
parent copies with sendfile. No tar is made on one side and taken apart on the other.

Each side resolves names only inside its own root (the chroot): a link in the source image is
followed there, a link in the destination here. The entries are what a tar of the sources
would hold, in the same order (a directory, then its names sorted; a link as a link; a file
seen before under another name as a hard link to it; devices and fifos; sockets left out)
and are placed as the tar unpacker places them, owners kept unless --chown names one.
"""

from __future__ import annotations

import array
import glob
import json
import os
import posixpath
import socket
import stat
from typing import Any

from berth import errors
from berth.container.build_copy import (
    READ_FLAGS,
    copy_attributes,
    destination,
    landing,
    make_directory,
    make_link,
    send_file,
)
from berth.errors import BerthError, NotFound

_WILDCARDS = frozenset("*?[")
MESSAGE_SIZE = 64 * 1024


def send_sources(channel: socket.socket, sources: list[str]) -> None:
    """The source's side (chrooted into it): whether a single file is copied, then every
    entry named as it lands — a directory's contents, a file by its name. Wildcards match as
    Go's `filepath.Match` (glob's rules); a source that is a link is followed, in this root."""
    matches: list[str] = []
    for pattern in sources:
        path = posixpath.join("/", pattern)
        found = sorted(glob.glob(path)) if _WILDCARDS.intersection(pattern) else [path]
        found = [p for p in found if os.path.lexists(p)]
        if not found:
            raise NotFound(f'failed to compute cache key: "{pattern}": not found')
        matches.extend(found)
    _send(channel, {"single_file": len(matches) == 1 and not os.path.isdir(matches[0])})
    seen: dict[tuple[int, int], str] = {}
    for path in matches:
        real = os.path.realpath(path)
        if os.path.isdir(real):
            for name in sorted(os.listdir(real)):
                _send_tree(channel, posixpath.join(real, name), name, seen)
        else:
            _send_entry(channel, real, posixpath.basename(path.rstrip("/")), seen)
    _send(channel, {"end": True})


def send_error(channel: socket.socket, error: BerthError) -> None:
    _send(channel, {"error": [type(error).__name__, error.message]})


def _send_tree(channel: socket.socket, path: str, name: str, seen: dict[Any, str]) -> None:
    if _send_entry(channel, path, name, seen):
        for child in sorted(os.listdir(path)):
            _send_tree(channel, posixpath.join(path, child), f"{name}/{child}", seen)


def _send_entry(channel: socket.socket, path: str, name: str, seen: dict[Any, str]) -> bool:
    """One entry; whether it is a directory to descend into."""
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    entry: dict[str, Any] = {
        "name": name,
        "mode": stat.S_IMODE(st.st_mode),
        "owner": [st.st_uid, st.st_gid],
        "mtime_ns": st.st_mtime_ns,
    }
    if kind == stat.S_IFDIR:
        _send(channel, {**entry, "kind": "dir"})
        return True
    if kind == stat.S_IFLNK:
        _send(channel, {**entry, "kind": "link", "link": os.readlink(path)})
    elif kind == stat.S_IFREG:
        first = seen.get((st.st_dev, st.st_ino)) if st.st_nlink > 1 else None
        if first is not None:
            _send(channel, {**entry, "kind": "hardlink", "link": first})
            return False
        seen[st.st_dev, st.st_ino] = name
        fd = os.open(path, READ_FLAGS)
        try:
            _send(channel, {**entry, "kind": "file"}, fd)
        finally:
            os.close(fd)
    elif kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO):
        device = [os.major(st.st_rdev), os.minor(st.st_rdev)]
        _send(channel, {**entry, "kind": "node", "type": kind, "device": device})
    return False  # a socket: a tar has no type for it, and leaves it out too


def receive_sources(channel: socket.socket, request: dict[str, Any]) -> None:
    """The step's side (chrooted into its snapshot): the entries placed at the request's
    path (a single file takes the destination's name unless that is a directory)."""
    header, _ = _receive(channel)
    single = bool(header.get("single_file")) and not request.get("several")
    rename = posixpath.basename(request["path"]) if single else None
    directory, rename, chosen = destination({**request, "file_name": rename})
    present = {directory}
    while True:
        entry, fd = _receive(channel)
        if entry.get("end"):
            return
        try:
            _place(entry, fd, directory, rename, chosen, present)
        finally:
            if fd is not None:
                os.close(fd)


def _place(
    entry: dict[str, Any],
    fd: int | None,
    directory: str,
    rename: str | None,
    chosen: tuple[int, int] | None,
    present: set[str],
) -> None:
    target = landing(directory, rename or str(entry["name"]), present)
    kind = entry["kind"]
    owner = chosen or (int(entry["owner"][0]), int(entry["owner"][1]))
    mode, mtime_ns = int(entry["mode"]), int(entry["mtime_ns"])
    if kind == "file" and fd is not None:
        send_file(fd, target, (owner, mode, mtime_ns))
        return
    if kind == "dir":
        make_directory(target, present)
    elif kind == "link":
        make_link(target, str(entry["link"]), owner)
        return
    elif kind == "hardlink":
        if os.path.lexists(target):
            os.unlink(target)
        os.link(posixpath.join(directory, str(entry["link"])), target)
    elif kind == "node":
        major, minor = entry["device"]
        os.mknod(target, mode | int(entry["type"]), os.makedev(major, minor))
    else:
        raise errors.SystemFailure(f"unknown entry {kind!r} in the copy")
    copy_attributes(target, owner, mode, mtime_ns)


def _send(channel: socket.socket, document: dict[str, Any], fd: int | None = None) -> None:
    data = json.dumps(document).encode()
    if fd is None:
        channel.send(data)
        return
    rights = (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))
    channel.sendmsg([data], [rights])


def _receive(channel: socket.socket) -> tuple[dict[str, Any], int | None]:
    """The next entry (and its file's descriptor); the source's refusal raised in its words,
    an end without one a failure."""
    message, fds, _, _ = socket.recv_fds(channel, MESSAGE_SIZE, 1)
    if not message:
        for fd in fds:
            os.close(fd)
        raise errors.SystemFailure("copying from the source image failed")
    document: dict[str, Any] = json.loads(message)
    if "error" in document:
        for fd in fds:
            os.close(fd)
        kind, text = document["error"]
        raise getattr(errors, str(kind), errors.SystemFailure)(str(text))
    return document, (fds[0] if fds else None)
