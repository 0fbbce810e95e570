"""The container's side of `cp`, a fresh process (`python -I -m berth.container.copier`):
nothing forks an engine that may have threads (`berth serve`).

It enters the container's root — a running container's `/proc/<pid>/root`, which shows its
volumes too, or for a stopped one its rootfs snapshot (read-write) with its volumes and
binds, mounted in a mount namespace of its own that the host never sees — and chroots into
it, so the kernel resolves every name and no symlink in the container leads a read or a
write out of it. Then it packs a path to stdout (a JSON header line, then tar) or extracts
stdin's tar at a path; for the Engine API's archive endpoints it stats a path, archives it
with its stat, or unpacks a client's tar by dockerd's rules (`berth.container.cp_archive`);
for `export` it packs a read-only view of the rootfs alone, mounted even over a running
container's (whose root shows its volumes).
An error is reported on the status fd as JSON `[kind, message]`.

Before the chroot, tarfile's name lookups are switched off: inside, glibc's NSS would read
the container's nsswitch.conf and load its libraries as root (CVE-2019-14271); after it,
imports are sealed: every module the work needs is imported before.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import tarfile
from pathlib import Path
from typing import Any

from berth.container import build_copy, build_copy_from, cp_archive
from berth.container.cp_stream import (
    Source,
    describe,
    export_root,
    extract,
    extract_archive,
    pack,
)
from berth.container.user import resolve as resolve_user
from berth.errors import BerthError, SystemFailure
from berth.runtime.hardening import seal_imports

FROM = "from"  # pack the container's `path` to stdout
TO = "to"  # extract stdin at the container's `path`
STAT = "stat"  # the API's path stat of `path`, as JSON on stdout
ARCHIVE = "archive"  # the API's GET archive: the stat as a JSON line, then the tar
EXTRACT = "extract"  # the API's PUT archive: stdin's tar unpacked in the directory `path`
EXPORT = "export"  # `export`: the rootfs alone (no volumes, binds or /proc) as a tar on stdout
BUILD_COPY = "build_copy"  # a build's COPY: stdin's tar placed at `path` (see build_copy)
BUILD_COPY_FROM = "build_copy_from"  # COPY --from: `sources` of one root copied into another
BUILD_COPY_FILES = "build_copy_files"  # a build's COPY of host files listed on stdin


def _enter(request: dict[str, Any]) -> None:
    """Mount a stopped container's rootfs and volumes in a mount namespace of this process's
    own (gone when it exits), then chroot into the root."""
    root = str(request["root"])
    if request.get("mount") is not None:
        from berth.sys import CLONE_NEWNS, bind, make_private, unshare
        from berth.sys.rootpath import resolve_in_root

        unshare(CLONE_NEWNS)
        make_private("/")
        if request["op"] == EXPORT or not os.path.ismount(root):  # export: over a running one's
            _attach(request["mount"], root)
        for source, target, readonly in request.get("binds") or []:
            inside = resolve_in_root(root, target)
            present = os.path.exists(source) and os.path.lexists(inside)  # a file's stub too
            if present and os.path.isdir(inside) == os.path.isdir(source):
                bind(source, inside, readonly=readonly, recursive=True)
    os.chroot(root)
    os.chdir("/")
    seal_imports()


def _attach(mount: list[Any], root: str) -> None:
    """A snapshot's overlay (`berth.snapshot.Mount`, as JSON: lowers, upper, work) on root,
    mounted here without importing the snapshot package (the store's database, ~5 ms of
    every helper a build's copy server forks)."""
    from berth.sys import mount_overlay

    lowers, upper, work = mount
    mount_overlay(
        [Path(p) for p in lowers],
        None if upper is None else Path(upper),
        None if work is None else Path(work),
        Path(root),
        readonly=upper is None,
    )


def _work(request: dict[str, Any], host: int | None) -> None:
    if request["op"] == EXPORT:
        with os.fdopen(1, "wb", closefd=False) as stream:
            export_root(stream)
        return
    if request["op"] == BUILD_COPY:
        with os.fdopen(0, "rb", closefd=False) as stream:
            build_copy.copy_in(stream, request)
        return
    if request["op"] == BUILD_COPY_FILES and host is not None:
        with os.fdopen(0, "rb", closefd=False) as stream:
            build_copy.copy_files(stream, request, host)
        return
    path = str(request["path"])
    if request["op"] in (STAT, ARCHIVE, EXTRACT):
        _work_for_api(request, path)
        return
    if request["op"] == FROM:
        source, read_from = describe(path, follow=bool(request.get("follow")))
        with os.fdopen(1, "wb", closefd=False) as stream:
            stream.write(json.dumps(list(source)).encode() + b"\n")
            pack(read_from, source, stream)
        return
    with os.fdopen(0, "rb", closefd=False) as stream:
        archive = bool(request.get("archive"))
        if request.get("source") is None:
            extract_archive(stream, path, keep_owners=archive)
        else:
            source = Source(*request["source"])
            extract(stream, source, path, owner=None if archive else (0, 0))


def _work_for_api(request: dict[str, Any], path: str) -> None:
    if request["op"] == STAT:
        document = cp_archive.path_stat(cp_archive.absolute(path))
        os.write(1, json.dumps(document).encode())
        return
    if request["op"] == ARCHIVE:
        with os.fdopen(1, "wb", closefd=False) as stream:
            cp_archive.archive(path, stream)
        return
    directory = cp_archive.extraction_point(path)
    mounts = [(str(target), bool(writable)) for target, writable in request["mounts"]]
    cp_archive.check_writable(directory, mounts, readonly_rootfs=bool(request["readonly_rootfs"]))
    owner = None
    if request.get("user"):
        resolved = resolve_user(Path("/"), str(request["user"]))
        owner = (resolved.uid, resolved.gid)
    with os.fdopen(0, "rb", closefd=False) as stream:
        cp_archive.extract(
            stream,
            directory,
            allow_overwrite_dir_with_file=bool(request["allow_overwrite_dir_with_file"]),
            owner=owner,
        )


def _copy_between(request: dict[str, Any]) -> None:
    """COPY --from in one helper: both snapshots mounted in its namespace, then a fork (this
    process has one thread) — the child chrooted into the source hands over its entries, the
    parent chrooted into the destination places them, a socket pair between them
    (`berth.container.build_copy_from`)."""
    from berth.sys import CLONE_NEWNS, make_private, unshare

    unshare(CLONE_NEWNS)
    make_private("/")
    for root, mount in (
        (request["root"], request["mount"]),
        (request["source_root"], request["source_mount"]),
    ):
        _attach(mount, root)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    child = os.fork()
    if child == 0:
        ours.close()
        code = 0
        try:
            os.chroot(str(request["source_root"]))
            os.chdir("/")
            seal_imports()
            build_copy_from.send_sources(theirs, list(request["sources"]))
        except BerthError as error:  # the parent raises it
            with contextlib.suppress(OSError):
                build_copy_from.send_error(theirs, error)
            code = 1
        except BaseException:  # the child ends here, whatever happened
            code = 2
        os._exit(code)
    theirs.close()
    try:
        os.chroot(str(request["root"]))
        os.chdir("/")
        seal_imports()
        build_copy_from.receive_sources(ours, request)
    finally:
        ours.close()
        _, status = os.waitpid(child, 0)
    if status != 0:
        raise SystemFailure("copying from the source image failed")


def main(argv: list[str]) -> int:
    request = json.loads(argv[1])
    status_fd = int(request["status_fd"])
    tarfile.pwd = None  # type: ignore[attr-defined]
    tarfile.grp = None  # type: ignore[attr-defined]
    try:
        if request["op"] == BUILD_COPY_FROM:
            _copy_between(request)
            return 0
        # The host's root, for a COPY of host files to read them by (after the chroot).
        host = (
            os.open("/", os.O_PATH | os.O_DIRECTORY) if request["op"] == BUILD_COPY_FILES else None
        )
        _enter(request)
        _work(request, host)
    except BerthError as error:
        os.write(status_fd, json.dumps([type(error).__name__, error.message]).encode())
        return 1
    except BrokenPipeError:
        return 1
    except Exception as error:  # the top of the helper: its caller reports it
        os.write(status_fd, json.dumps(["SystemFailure", str(error)]).encode())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
