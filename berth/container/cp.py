"""`cp`: files between a container and the host. The host's side runs here; the container's
side runs in a helper process chrooted into the container (`berth.container.copier`), and
the two talk in tar through its stdin or stdout. The Engine API's archive endpoints use the
same helper, with streams instead of host paths (`stat_path`, `archive_path`,
`extract_into`)."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol

from berth.container.cp_stream import Source, describe, extract, pack, split_target
from berth.container.state import Status
from berth.errors import (
    BerthError,
    Conflict,
    InvalidArgument,
    NoSpace,
    NotFound,
    PermissionDenied,
    SystemFailure,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from berth.container.copy_client import CopyServer
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord
    from berth.container.services import Snapshots

_KINDS: dict[str, type[BerthError]] = {
    "InvalidArgument": InvalidArgument,
    "NotFound": NotFound,
    "Conflict": Conflict,
    "PermissionDenied": PermissionDenied,
    "NoSpace": NoSpace,
}
STAT_LIMIT = 64 * 1024  # a path stat is a small JSON document
CHUNK = 1 << 16
HELPER = (sys.executable, "-I", "-m", "berth.container.copier")


class Root(NamedTuple):
    """A container's root as the helper enters it. For a stopped container, what it mounts
    in a mount namespace of its own: the rootfs snapshot, and the volumes and binds (host
    source, path inside, read-only)."""

    path: str
    mount: tuple[tuple[str, ...], str | None, str | None] | None = None
    binds: tuple[tuple[str, str, bool], ...] = ()


def container_root(
    paths: ContainerPaths,
    snapshots: Snapshots,
    volume_data: Callable[[str], Path],
    record: ContainerRecord,
) -> Root:
    """A running container's own root (its volumes mounted), or what a copy needs to mount
    a stopped one's, as Docker mounts the rootfs and volumes of a stopped container for cp.
    The mounts live only in the helper's namespace: the host never sees them, and a start
    meanwhile finds the container's rootfs as it left it."""
    pid = int(record.state.get("Pid") or 0)
    if record.status in (Status.RUNNING, Status.PAUSED) and pid:
        return Root(f"/proc/{pid}/root")
    # The /etc files Docker binds in, as it mounts them for a copy: /etc/hostname is the
    # container's name, not the image's empty file.
    directory, readonly = paths.directory(record.id), bool(record.host_config.get("ReadonlyRootfs"))
    binds = [
        (str(directory / name), f"/etc/{name}", readonly)
        for name in ("hostname", "hosts", "resolv.conf")
        if (directory / name).is_file()
    ]
    for entry in record.host_config.get("Mounts") or []:
        if entry.get("Type") == "volume" and entry.get("Source"):
            source = str(volume_data(str(entry["Source"])))
        elif entry.get("Type") == "bind":
            source = str(Path(str(entry["Source"])).absolute())
        else:
            continue
        binds.append((source, str(entry["Target"]), bool(entry.get("ReadOnly"))))
    lowers, upper, work = snapshots.mounts(record.id)
    return Root(str(paths.rootfs(record.id)), (lowers, upper, work), tuple(binds))


class Helper(Protocol):
    """A running copy helper: a fresh process (`subprocess.Popen`), or a fork of the build's
    copy server (`berth.container.copy_client.ServedHelper`)."""

    stdin: IO[bytes] | None
    stdout: IO[bytes] | None

    def wait(self) -> int: ...

    def kill(self) -> None: ...


def start_helper(
    root: Root,
    request: dict[str, Any],
    status_w: int,
    *,
    server: CopyServer | None = None,
    **streams: Any,
) -> Helper:
    """The helper for `request` on `root`, in `server` if given, else a fresh one;
    `streams`: stdin or stdout=subprocess.PIPE."""
    document = {**request, "root": root.path, "mount": root.mount, "binds": root.binds}
    try:
        if server is not None:
            stdin, stdout = (streams.get(n) == subprocess.PIPE for n in ("stdin", "stdout"))
            return server.start(document, status_w, stdin=stdin, stdout=stdout)
        document["status_fd"] = status_w
        return subprocess.Popen(
            [*HELPER, json.dumps(document)], pass_fds=(status_w,), close_fds=True, **streams
        )
    except OSError as error:
        raise SystemFailure(f"cannot start the copy helper: {error}") from None
    finally:
        os.close(status_w)


def finish_helper(helper: Helper, status_r: int, what: str) -> None:
    code = helper.wait()
    with os.fdopen(status_r, "rb") as status_file:
        status = status_file.read()
    if code == 0:
        return
    try:
        kind, message = json.loads(status)
    except ValueError:
        raise SystemFailure(f"copying {what} the container failed (status {code})") from None
    raise _KINDS.get(kind, SystemFailure)(message)


def copy_from(
    root: Root, path: str, dest: str, *, follow: bool, archive: bool, out: IO[bytes] | None = None
) -> None:
    """Container `path` -> host `dest` (or a tar stream on `out` when dest is `-`)."""
    status_r, status_w = os.pipe()
    request = {"op": "from", "path": path, "follow": follow}
    helper = start_helper(root, request, status_w, stdout=subprocess.PIPE)
    assert helper.stdout is not None
    failure: BerthError | None = None
    try:
        header = helper.stdout.readline()
        if header:
            source = Source(*json.loads(header))
            if out is not None:
                shutil.copyfileobj(helper.stdout, out, CHUNK)
            else:
                owner = None if archive else (os.getuid(), os.getgid())
                extract(helper.stdout, source, dest, owner=owner)
    except NotFound:
        failure = NotFound("no such directory")
    except BerthError as error:
        failure = error
    finally:
        helper.stdout.close()  # a helper still writing meets a broken pipe, and ends
        if failure is not None:  # the host side stopped reading: that is the error to tell
            helper.wait()
            os.close(status_r)
    if failure is not None:
        raise failure
    finish_helper(helper, status_r, "from")


def copy_to(
    root: Root, src: str, path: str, *, follow: bool, archive: bool, stream_in: IO[bytes] | None
) -> None:
    """Host `src` (or a tar stream when src is `-`) -> container `path`."""
    request: dict[str, Any] = {"op": "to", "path": path, "archive": archive, "source": None}
    if stream_in is None:
        try:
            source, read_from = describe(src, follow=follow)
        except NotFound:
            raise InvalidArgument(f"lstat {src}: no such file or directory") from None
        request["source"] = list(source)
    status_r, status_w = os.pipe()
    helper = start_helper(root, request, status_w, stdin=subprocess.PIPE)
    assert helper.stdin is not None
    try:
        if stream_in is not None:
            shutil.copyfileobj(stream_in, helper.stdin, CHUNK)
        else:
            pack(read_from, source, helper.stdin)
    except BrokenPipeError:
        pass  # the helper failed: its status says why
    finally:
        with contextlib.suppress(BrokenPipeError):
            helper.stdin.close()
    finish_helper(helper, status_r, "into")


def copy_path(
    lookup: Callable[[str], Root], src: str, dest: str, *, follow: bool, archive: bool
) -> None:
    """`berth cp SRC DEST`: exactly one side names a container (`lookup` gives its root)."""
    src_container, src_path = split_target(src)
    dest_container, dest_path = split_target(dest)
    if (src_container is None) == (dest_container is None):
        raise InvalidArgument(
            "copying between containers is not supported"
            if src_container
            else "must specify at least one container source"
        )
    if src_container is not None:
        root = lookup(src_container)
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
    root = lookup(dest_container)
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


# -- the Engine API's archive endpoints ------------------------------------------------------


def stat_path(root: Root, path: str) -> dict[str, Any]:
    """Docker's stat of the container's `path` (HEAD /containers/{id}/archive)."""
    status_r, status_w = os.pipe()
    helper = start_helper(root, {"op": "stat", "path": path}, status_w, stdout=subprocess.PIPE)
    assert helper.stdout is not None
    with helper.stdout:
        document = helper.stdout.read(STAT_LIMIT)
    finish_helper(helper, status_r, "from")
    return dict(json.loads(document))


def archive_path(root: Root, path: str) -> tuple[dict[str, Any], Iterator[bytes]]:
    """The stat of the container's `path` and a tar stream of it, read as it is written (GET
    /containers/{id}/archive). Closing the stream early ends the helper; either way it is
    reaped."""
    status_r, status_w = os.pipe()
    helper = start_helper(root, {"op": "archive", "path": path}, status_w, stdout=subprocess.PIPE)
    assert helper.stdout is not None
    header = helper.stdout.readline(STAT_LIMIT)
    if not header.endswith(b"\n"):
        helper.stdout.close()
        finish_helper(helper, status_r, "from")  # raises what the helper said
        raise SystemFailure("the copy helper sent no stat")
    stream = _chunks(helper, status_r)
    first = next(stream, b"")  # started: from now on, closing it (or losing it) reaps the helper
    return json.loads(header), itertools.chain([first], stream)


def export(root: Root) -> Iterator[bytes]:
    """The container's filesystem as a tar stream, read as it is written (`export`): its
    rootfs snapshot seen read-only, upper over the image's layers, without volumes or binds,
    mounted in the helper's namespace even while the container runs. Closing the stream
    early ends the helper."""
    assert root.mount is not None
    status_r, status_w = os.pipe()
    helper = start_helper(root, {"op": "export", "path": "/"}, status_w, stdout=subprocess.PIPE)
    stream = _chunks(helper, status_r)
    first = next(stream, b"")  # started (a failure to mount raises here, before any answer)
    return itertools.chain([first], stream)


def export_root(paths: ContainerPaths, snapshots: Snapshots, record: ContainerRecord) -> Root:
    """What `export` mounts: the snapshot's upper as the top of a read-only view."""
    lowers, upper, _ = snapshots.mounts(record.id)
    view = (upper, *lowers) if upper is not None else lowers
    return Root(str(paths.rootfs(record.id)), (tuple(view), None, None))


def _chunks(helper: Helper, status_r: int) -> Iterator[bytes]:
    assert isinstance(helper.stdout, io.BufferedReader)  # the stat line came through it
    finished = False
    try:
        while chunk := helper.stdout.read1(CHUNK):
            yield chunk
        helper.stdout.close()
        finished = True
        finish_helper(helper, status_r, "from")
    finally:
        if not finished:  # the reader went away: stop the helper
            helper.stdout.close()
            helper.kill()
            helper.wait()
            os.close(status_r)


def extract_into(
    root: Root,
    path: str,
    chunks: Iterable[bytes],
    *,
    allow_overwrite_dir_with_file: bool,
    user: str | None,
    mounts: list[tuple[str, bool]],
    readonly_rootfs: bool,
) -> None:
    """A tar stream (`chunks`, as they arrive) unpacked into the container's directory
    `path` by dockerd's rules (PUT /containers/{id}/archive); with `user`, every file is
    owned by that user of the container's, else by the archive's owners."""
    request = {
        "op": "extract",
        "path": path,
        "allow_overwrite_dir_with_file": allow_overwrite_dir_with_file,
        "user": user,
        "mounts": mounts,
        "readonly_rootfs": readonly_rootfs,
    }

    def write(stream: IO[bytes]) -> None:
        for chunk in chunks:
            stream.write(chunk)

    feed_helper(root, request, write)


def feed_helper(
    root: Root,
    request: dict[str, Any],
    write: Callable[[IO[bytes]], object],
    *,
    server: CopyServer | None = None,
) -> None:
    """Run a helper whose input `write` writes (a tar to unpack), and wait for its verdict;
    if `write` fails (a client's body broke off), the helper is stopped."""
    status_r, status_w = os.pipe()
    helper = start_helper(root, request, status_w, server=server, stdin=subprocess.PIPE)
    assert helper.stdin is not None
    try:
        write(helper.stdin)
    except BrokenPipeError:
        pass  # the helper failed: its status says why
    except BaseException:
        helper.kill()
        helper.wait()
        os.close(status_r)
        raise
    finally:
        with contextlib.suppress(BrokenPipeError):
            helper.stdin.close()
    finish_helper(helper, status_r, "into")
