"""`cp`: files between a container and the host, with Docker's placement rules.

The container side always runs in a forked child chrooted into the container's root: the
running container's `/proc/<pid>/root`, which shows its volumes too, or for a stopped one its
rootfs overlay (read-write) with its volumes and binds, mounted in a mount namespace of the
child's own that the host never sees. The kernel resolves every name, so no symlink in the
container can lead a read or a write out of it. The two sides talk through a
pipe in tar: a JSON header line, then the stream (POSIX tar, as Docker's archive API).

Placement (moby's PrepareArchiveCopy): onto an existing directory, SRC goes inside it (its
contents only when SRC ends in `/.`); a directory never replaces a file; otherwise SRC takes
the destination's name in the destination's parent, which must exist; a destination ending
in `/` must be an existing directory.
"""

from __future__ import annotations

import copy as shallow
import grp  # noqa: F401 - imported before the chroot: tarfile may want it inside
import json
import os
import pwd  # noqa: F401
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from berth.errors import BerthError, Conflict, InvalidArgument, NotFound, SystemFailure

if TYPE_CHECKING:
    from berth.container import ContainerRecord
    from berth.engine.engine import Engine

_KINDS: dict[str, type[BerthError]] = {
    "InvalidArgument": InvalidArgument,
    "NotFound": NotFound,
    "Conflict": Conflict,
}
CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Source:
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
    trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    with tarfile.open(fileobj=stream, mode="r|", format=tarfile.PAX_FORMAT) as archive:
        for member in archive:
            placed = _renamed(shallow.copy(member), source, name)
            if placed is None:
                continue
            if owner is not None:
                placed.uid, placed.gid = owner
            # Contained by the chroot (container side) or the user's own choice (host side).
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


# -- the container's side --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Root:
    """A container's root as the host sees it. For a stopped container, what the copying
    child mounts in a mount namespace of its own: the rootfs overlay (lower directories
    topmost first, upper, work) and the volumes and binds (host source, path inside,
    read-only)."""

    path: str
    overlay: tuple[tuple[Path, ...], Path, Path] | None = None
    binds: tuple[tuple[str, str, bool], ...] = ()


def container_root(engine: Engine, record: ContainerRecord) -> Root:
    """A running container's own root (its volumes mounted), or what a copy needs to mount
    a stopped one's, as Docker mounts the rootfs and volumes of a stopped container for cp.
    The mounts live only in the copying child's namespace: the host never sees them, and a
    start meanwhile finds the container's rootfs as it left it."""

    containers = engine.containers
    record = containers.refresh(record)
    pid = int(record.state.get("Pid") or 0)
    if record.status in ("running", "paused") and pid:
        return Root(f"/proc/{pid}/root")
    directory = containers.directory(record.id)
    image = engine.images.records.get(record.image_id)
    if image.top_chain is None:
        (directory / "empty").mkdir(exist_ok=True)
        lowers: tuple[Path, ...] = (directory / "empty",)
    else:
        lowers = tuple(layer.path for layer in engine.layers.chain_layers(image.top_chain))
    volumes = engine.volumes
    binds = []
    for entry in record.host_config.get("Mounts") or []:
        if entry.get("Type") == "volume" and entry.get("Source"):
            source = str(volumes.data(str(entry["Source"])))
        elif entry.get("Type") == "bind":
            source = str(Path(str(entry["Source"])).absolute())
        else:
            continue
        binds.append((source, str(entry["Target"]), bool(entry.get("ReadOnly"))))
    overlay = (lowers, directory / "diff", directory / "work")
    return Root(str(directory / "rootfs"), overlay, tuple(binds))


def _enter(root: Root) -> None:
    """In the child: mount a stopped container's rootfs and volumes in a mount namespace of
    its own (gone when it exits), then chroot into the root."""
    if root.overlay is not None:
        from berth.sys import CLONE_NEWNS, bind, make_private, mount_overlay, unshare
        from berth.sys.rootpath import resolve_in_root

        unshare(CLONE_NEWNS)
        make_private("/")
        if not os.path.ismount(root.path):
            lowers, upper, work = root.overlay
            mount_overlay(list(lowers), upper, work, Path(root.path))
        for source, target, readonly in root.binds:
            inside = resolve_in_root(root.path, target)
            if os.path.exists(source) and os.path.isdir(inside) == os.path.isdir(source):
                bind(source, inside, readonly=readonly, recursive=True)
    os.chroot(root.path)
    os.chdir("/")


def _child(root: Root, work: Any, status_fd: int) -> None:
    """In the forked child: enter the root, run `work()`, report an error on `status_fd`;
    never returns."""
    code = 0
    try:
        _enter(root)
        work()
    except BerthError as error:
        os.write(status_fd, json.dumps([type(error).__name__, error.message]).encode())
        code = 1
    except BrokenPipeError:
        code = 1
    except OSError as error:
        os.write(status_fd, json.dumps(["SystemFailure", str(error)]).encode())
        code = 1
    except BaseException as error:
        os.write(status_fd, json.dumps(["SystemFailure", repr(error)]).encode())
        code = 1
    finally:
        os._exit(code)


def _error(status: bytes, fallback: str) -> BerthError:
    try:
        kind, message = json.loads(status)
    except ValueError:
        return SystemFailure(fallback)
    return _KINDS.get(kind, SystemFailure)(message)


def _reap(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def copy_from(
    root: Root, path: str, dest: str, *, follow: bool, archive: bool, out: IO[bytes] | None = None
) -> None:
    """Container `path` -> host `dest` (or a tar stream on `out` when dest is `-`)."""
    data_r, data_w = os.pipe()
    status_r, status_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(data_r)
        os.close(status_r)

        def work() -> None:
            source, read_from = describe(path, follow=follow)
            with os.fdopen(data_w, "wb") as stream:
                header = [source.is_dir, source.base, source.contents_only]
                stream.write(json.dumps(header).encode() + b"\n")
                pack(read_from, source, stream)

        _child(root, work, status_w)
    os.close(data_w)
    os.close(status_w)
    failure: BerthError | None = None
    try:
        with os.fdopen(data_r, "rb") as stream:
            header = stream.readline()
            if header:
                source = Source(*json.loads(header))
                if out is not None:
                    shutil.copyfileobj(stream, out, CHUNK)
                else:
                    owner = None if archive else (os.getuid(), os.getgid())
                    extract(stream, source, dest, owner=owner)
    except NotFound:
        failure = NotFound("no such directory")
    except BerthError as error:
        failure = error
    finally:
        code = _reap(pid)
        with os.fdopen(status_r, "rb") as status_file:
            status = status_file.read()
    if failure is not None:  # the host side stopped reading: the child's pipe broke
        raise failure
    if code != 0:
        raise _error(status, f"copying from the container failed (status {code})")


def copy_to(
    root: Root, src: str, path: str, *, follow: bool, archive: bool, stream_in: IO[bytes] | None
) -> None:
    """Host `src` (or a tar stream when src is `-`) -> container `path`."""
    if stream_in is not None:
        source = Source(True, ".", True)
        read_from = ""
    else:
        try:
            source, read_from = describe(src, follow=follow)
        except NotFound:
            raise InvalidArgument(f"lstat {src}: no such file or directory") from None
    data_r, data_w = os.pipe()
    status_r, status_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(data_w)
        os.close(status_r)

        def work() -> None:
            with os.fdopen(data_r, "rb") as stream:
                if stream_in is not None:
                    if not os.path.isdir(path):
                        raise InvalidArgument(f"destination {path} must be a directory")
                    first = stream.peek(1)[:1] if hasattr(stream, "peek") else b"x"
                    if not first:
                        return  # an empty stream copies nothing, as Docker's
                    with tarfile.open(fileobj=stream, mode="r|") as tar:
                        options = (
                            {"filter": "fully_trusted"}
                            if hasattr(tarfile, "fully_trusted_filter")
                            else {}
                        )
                        for member in tar:
                            if not archive:
                                member.uid = member.gid = 0
                            tar.extract(member, path, numeric_owner=True, **options)  # type: ignore[arg-type]
                else:
                    extract(stream, source, path, owner=None if archive else (0, 0))

        _child(root, work, status_w)
    os.close(data_r)
    os.close(status_w)
    try:
        with os.fdopen(data_w, "wb") as stream:
            if stream_in is not None:
                shutil.copyfileobj(stream_in, stream, CHUNK)
            else:
                pack(read_from, source, stream)
    except BrokenPipeError:
        pass  # the child failed: its status says why
    finally:
        code = _reap(pid)
        with os.fdopen(status_r, "rb") as status_file:
            status = status_file.read()
    if code != 0:
        raise _error(status, f"copying into the container failed (status {code})")


def copy_path(engine: Engine, src: str, dest: str, *, follow: bool, archive: bool) -> None:
    """`berth cp SRC DEST`: exactly one side names a container."""
    import sys

    src_container, src_path = split_target(src)
    dest_container, dest_path = split_target(dest)
    if (src_container is None) == (dest_container is None):
        raise InvalidArgument(
            "copying between containers is not supported"
            if src_container
            else "must specify at least one container source"
        )
    if src_container is not None:
        record = engine.containers.lookup(src_container)
        root = container_root(engine, record)
        try:
            copy_from(
                root,
                src_path or "/",
                dest_path,
                follow=follow,
                archive=archive,
                out=sys.stdout.buffer if dest_path == "-" else None,
            )
        except NotFound as error:
            if not error.message.startswith("Could not find the file"):
                raise
            raise NotFound(f"No such container:path: {src_container}:{src_path}") from None
        return
    assert dest_container is not None
    record = engine.containers.lookup(dest_container)
    root = container_root(engine, record)
    try:
        copy_to(
            root,
            src_path,
            dest_path or "/",
            follow=follow,
            archive=archive,
            stream_in=sys.stdin.buffer if src_path == "-" else None,
        )
    except NotFound as error:
        if not error.message.startswith("Could not find the file"):
            raise
        raise NotFound(f"{error.message} in container {dest_container}") from None
