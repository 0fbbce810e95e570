"""`cp`'s two ends, each a tar stream (POSIX tar, as Docker's archive API): packing a path
(`describe`, `pack`) and placing a stream at a destination (`plan`, `extract`), used on the
host's side by `berth.container.cp` and on the container's by its helper,
`berth.container.copier`.

Placement (moby's PrepareArchiveCopy): onto an existing directory, SRC goes inside it (its
contents only when SRC ends in `/.`); a directory never replaces a file; otherwise SRC takes
the destination's name in the destination's parent, which must exist; a destination ending
in `/` must be an existing directory.
"""

import copy as shallow
import os
import tarfile
from collections.abc import Callable
from typing import IO, Literal, NamedTuple

from berth.errors import InvalidArgument, NotFound


class Source(NamedTuple):
    """What is being copied: a directory or not, its base name, and whether only its
    contents go (`SRC/.`)."""

    is_dir: bool
    base: str
    contents_only: bool


def split_target(text: str) -> tuple[str | None, str]:
    """`CONTAINER:PATH` -> (container, path); a local path (absolute, relative with a slash
    before any colon, or without a colon) -> (None, path)."""
    if text.startswith(("/", ".")):
        return None, text
    name, colon, path = text.partition(":")
    if not colon or "/" in name:
        return None, text
    return name, path


# -- placement, on the destination's side ---------------------------------------------------


def _asserts_dir(path: str) -> bool:
    return path.endswith(("/", "/.")) or path in (".", "..")


def plan(source: Source, dest: str) -> tuple[str, str | None]:
    """(directory to extract into, the name the top entry takes there or None to keep it)."""
    exists = os.path.lexists(dest)
    is_dir = os.path.isdir(dest)
    if exists and is_dir:
        return dest, None
    if exists and source.is_dir:
        raise InvalidArgument("cannot copy directory")
    if not exists and not source.is_dir and _asserts_dir(dest):
        raise NotFound("no such directory")
    parent = os.path.dirname(dest.rstrip("/")) or "."
    if not os.path.isdir(parent):
        raise NotFound(f"Could not find the file {parent}")
    return parent, os.path.basename(dest.rstrip("/"))


def _renamed(member: tarfile.TarInfo, source: Source, name: str | None) -> tarfile.TarInfo | None:
    """The member as it lands: rebased to `name`, or stripped of the top for `SRC/.`."""
    head, slash, rest = member.name.partition("/")
    if source.contents_only:
        if not slash or not rest:
            return None  # the directory itself: its contents land in the destination
        member.name = rest
    elif name is not None:
        member.name = name + slash + rest
    if member.islnk() and member.linkname:
        link_head, link_slash, link_rest = member.linkname.partition("/")
        if source.contents_only:
            member.linkname = link_rest
        elif name is not None and link_head == head:
            member.linkname = name + link_slash + link_rest
    return member


def extract(stream: IO[bytes], source: Source, dest: str, *, owner: tuple[int, int] | None) -> None:
    """Place a tar stream at `dest` by the rules above; `owner` (uid, gid) replaces the
    archive's owners unless None (cp -a)."""
    directory, name = plan(source, dest)
    unpack(stream, directory, lambda member: _renamed(member, source, name), owner=owner)


def unpack(
    stream: IO[bytes],
    directory: str,
    place: Callable[[tarfile.TarInfo], tarfile.TarInfo | None] = lambda member: member,
    *,
    owner: tuple[int, int] | None = None,
    mode: Literal["r|", "r|*"] = "r|",
) -> None:
    """A tar stream's members extracted under `directory`, each as `place` renames it (None:
    left out), owned by `owner` unless None (the archive's owners). Contained by the chroot
    the helper runs in (or, on the host's side, the user's own choice of destination)."""
    trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    with tarfile.open(fileobj=stream, mode=mode) as archive:
        for member in archive:
            placed = place(shallow.copy(member))
            if placed is None:
                continue
            if owner is not None:
                placed.uid, placed.gid = owner
            archive.extract(placed, directory, numeric_owner=True, **trusted)  # type: ignore[arg-type]


def describe(path: str, *, follow: bool) -> tuple[Source, str]:
    """The source at `path` and the path to read it from (its link target with -L, or when
    it ends in `/`)."""
    contents_only = path.endswith("/.") or path == "."
    stripped = path.rstrip("/") or "/"
    if contents_only:
        stripped = path[:-1].rstrip("/") or "/"
    if not os.path.lexists(stripped):
        raise NotFound(f"Could not find the file {path}")
    read_from = stripped
    if follow or path.endswith("/") or contents_only:
        read_from = os.path.realpath(stripped)
        if not os.path.lexists(read_from):
            raise NotFound(f"Could not find the file {path}")
    is_dir = os.path.isdir(read_from) and not os.path.islink(read_from)
    if contents_only and not is_dir:
        raise InvalidArgument(f"not a directory: {path}")
    base = os.path.basename(stripped) or "."
    return Source(is_dir, base, contents_only), read_from


def pack(read_from: str, source: Source, stream: IO[bytes]) -> None:
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        archive.add(read_from, arcname=source.base, recursive=True)


def export_root(stream: IO[bytes]) -> None:
    """The current root's contents as `docker export` writes them: names relative to it
    (`bin`, `etc/passwd`), owners by number, file capabilities kept; sockets are left out
    (tarfile has no type for them)."""
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(os.listdir("/")):
            archive.add("/" + name, arcname=name, recursive=True, filter=_with_capability)


def _with_capability(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """A file's capabilities (security.capability) as a PAX xattr, as Docker's export and
    a layer keep them (`ping` needs its cap_net_raw); tarfile reads no xattrs itself."""
    if info.isfile():
        try:
            value = os.getxattr("/" + info.name, "security.capability", follow_symlinks=False)
        except OSError:
            return info
        # a str that tarfile writes back as the bytes it came from (hdrcharset=BINARY)
        text = value.decode("utf-8", "surrogateescape")
        info.pax_headers = {**info.pax_headers, "SCHILY.xattr.security.capability": text}
    return info


def extract_archive(stream: IO[bytes], path: str, *, keep_owners: bool) -> None:
    """A tar stream as given (`cp - CONTAINER:DIR`, the API's PUT archive) unpacked in the
    directory `path`; owners become root's unless `keep_owners`."""
    if not os.path.isdir(path):
        raise InvalidArgument(f"destination {path} must be a directory")
    first = stream.peek(1)[:1] if hasattr(stream, "peek") else b"x"
    if not first:
        return  # an empty stream copies nothing, as Docker's
    unpack(stream, path, owner=None if keep_owners else (0, 0))
