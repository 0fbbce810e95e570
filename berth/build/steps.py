"""The build steps that change files: RUN (an ordinary berth container on the step's chain,
its overlay upper the new layer) and COPY/ADD (the copy helper placing files in a snapshot
prepared on the chain). Either ends with the upper directory measured (its layer's diff_id;
packed into a blob only when an image is written with it) and committed as the layer on top
of the chain: the directory is renamed, never copied.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol

from berth.errors import BerthError, InvalidArgument

if TYPE_CHECKING:
    from berth.container.copy_client import CopyServer
    from berth.container.lifecycle import Lifecycle
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord
    from berth.content import ContentStore
    from berth.image.making import LayerMade
    from berth.image.records import ImageRecord
    from berth.layout import Layout
    from berth.snapshot import LayerStore, Snapshotter

POLL = 0.05  # the longest wait between two looks at a RUN's state and output
FIRST_POLL = 0.002


class BuildFailed(BerthError):
    """A step that ran and failed (a RUN's non-zero exit): exit status 1, as docker build's."""

    exit_status = 1


class Canceled(BuildFailed):
    """A step stopped because the build was interrupted or another stage failed."""


class Services(Protocol):
    """What the steps use of the engine."""

    layout: Layout

    @property
    def lifecycle(self) -> Lifecycle: ...

    @property
    def container_paths(self) -> ContainerPaths: ...

    @property
    def snapshots(self) -> Snapshotter: ...

    @property
    def content(self) -> ContentStore: ...

    @property
    def layers(self) -> LayerStore: ...


class Made(NamedTuple):
    layer: LayerMade
    chain: str


class RunSpec(NamedTuple):
    argv: list[str]
    env: list[str]
    user: str
    workdir: str
    network: str  # a network mode: bridge, none, host
    mounts: list[dict[str, Any]]  # HostConfig.Mounts (cache directories, tmpfs)


def run(
    services: Services,
    base: ImageRecord,
    chain: str | None,
    spec: RunSpec,
    report: Callable[[str], None],
    epoch: int | None,
    canceled: Callable[[], bool] = lambda: False,
) -> Made:
    """RUN: a container of the chain with the step's environment; its output goes to
    `report` as it comes; a non-zero exit fails the build, and so does `canceled` turning
    true meanwhile (the build was interrupted, or another stage failed: the container is
    killed). The container is gone after."""
    from berth.container.logs import read
    from berth.container.state import FINISHED

    lifecycle = services.lifecycle
    config: dict[str, Any] = {
        "Image": base.id,
        "Cmd": spec.argv,
        "Entrypoint": None,
        "Env": spec.env,
        "User": spec.user,
        "WorkingDir": spec.workdir,
        "Labels": {},
    }
    host_config = {"NetworkMode": spec.network, "Mounts": spec.mounts}
    record = lifecycle.create(base._replace(top_chain=chain), {}, config, host_config, None)
    exited = -1
    try:
        started = lifecycle.start(record, own_monitor=True)  # forked: quicker than conmon
        exited = _exit_signal(started.state.get("Pid"))
        log = services.container_paths.log(record.id)
        offset = 0
        killed = False
        delay = FIRST_POLL  # short steps first: most RUNs end within a few milliseconds
        while True:
            current = lifecycle.refresh(lifecycle.records.get(record.id))
            entries, offset = read(log, offset)
            for entry in entries:
                report(str(entry.get("log", "")))
            if current.status in FINISHED:
                entries, offset = read(log, offset)
                for entry in entries:
                    report(str(entry.get("log", "")))
                break
            if not killed and canceled():
                killed = True
                with contextlib.suppress(BerthError):
                    lifecycle.runtime().kill(record.id, signal.SIGKILL, all_processes=True)
            if exited >= 0 and select.select([exited], [], [], delay)[0]:
                os.close(exited)  # the command ended: its monitor records it within a moment
                exited, delay = -1, FIRST_POLL
                continue
            if exited < 0:
                time.sleep(delay)
            delay = FIRST_POLL if entries else min(delay * 2, POLL)
        if killed:
            raise Canceled("canceled")
        code = int(current.state.get("ExitCode") or 0)
        if code != 0:
            words = " ".join(spec.argv)
            raise BuildFailed(f'process "{words}" did not complete successfully: exit code: {code}')
        lifecycle.cleanup(current)
        return _commit_upper(services, record, epoch)
    finally:
        if exited >= 0:
            os.close(exited)
        _discard(lifecycle, record)


def _exit_signal(pid: object) -> int:
    """A pidfd of the RUN's process, readable once it has exited, so the wait ends then
    rather than at the next look; -1 when there is none (it is gone already)."""
    try:
        return os.pidfd_open(int(str(pid)))
    except (OSError, ValueError):
        return -1


def _commit_upper(services: Services, record: ContainerRecord, epoch: int | None) -> Made:
    """The exited container's upper directory as the layer on its chain (renamed, not
    copied), without the mount points the runtime made in it."""
    from berth.container.changes import runtime_stubs
    from berth.image.making import measure_layer

    snapshots = services.snapshots
    stubs = set(runtime_stubs(services.container_paths.directory(record.id)))
    for mount in record.host_config.get("Mounts") or []:  # RUN --mount's targets, and the
        parts = str(mount.get("Target") or "").strip("/").split("/")  # directories made
        stubs.update("/".join(parts[:end]) for end in range(1, len(parts) + 1))  # for them
    upper = snapshots.upper(record.id)
    _remove_stubs(upper, stubs)
    made = measure_layer(upper, epoch)
    chain = snapshots.commit(record.id, made.diff_id, made.content_size)
    return Made(made, chain)


def _remove_stubs(upper: Path, stubs: set[str]) -> None:
    """The empty mount points the runtime and the step's mounts made, out of the directory
    that becomes the layer; a directory goes only once empty, so one that was there (or
    that the step filled) stays."""
    for relative in sorted(stubs, key=lambda path: path.count("/"), reverse=True):
        path = upper / relative
        with contextlib.suppress(OSError):
            if path.is_symlink():
                continue
            if path.is_dir():
                path.rmdir()  # only when empty
            elif path.is_file() and path.stat().st_size == 0:
                path.unlink()


def _discard(lifecycle: Lifecycle, record: ContainerRecord) -> None:
    """The step's container, whatever happened: stopped if it still runs, then removed."""
    from berth.errors import NotFound

    with contextlib.suppress(NotFound):
        current = lifecycle.refresh(lifecycle.records.get(record.id))
        with contextlib.suppress(BerthError):
            lifecycle.cleanup(current)
        lifecycle.discard(current)


def copy(
    services: Services,
    chain: str | None,
    place: Callable[[Any], None],
    epoch: int | None,
) -> Made:
    """COPY/ADD: a snapshot on the chain, mounted by the copy helper, which `place` drives
    (it gets the helper's Root); the snapshot's upper is the new layer."""
    from berth.container.cp import Root
    from berth.image.making import measure_layer

    snapshots = services.snapshots
    key = f"build-{os.urandom(8).hex()}"
    mount = snapshots.prepare(key, chain)
    target = services.layout.tmp / f"{key}-root"
    committed = False
    try:
        target.mkdir(parents=True)
        place(Root(str(target), (mount.lowers, mount.upper, mount.work)))
        made = measure_layer(snapshots.upper(key), epoch)
        new_chain = snapshots.commit(key, made.diff_id, made.content_size)
        committed = True
        return Made(made, new_chain)
    finally:
        if not committed:
            with contextlib.suppress(BerthError):
                snapshots.remove(key)
        with contextlib.suppress(OSError):
            target.rmdir()


class Borrowed(NamedTuple):
    """`RUN --mount=type=bind,from=…`: `source` of the chain, at `target` in the step."""

    chain: str
    source: str
    target: str
    readonly: bool


@contextlib.contextmanager
def borrowed(
    services: Services, wanted: list[Borrowed], server: CopyServer
) -> Iterator[list[dict[str, Any]]]:
    """The step's mounts of other stages' or images' files: each source copied by the copy
    helper (owners kept) into a scratch snapshot of its own, bound into the container, and
    gone after the step with the snapshot (a crash leaves it to the sweep of abandoned
    snapshots). A copy rather than a view of the chain: the container's mounts are host
    paths, and an overlay mounted on the host for it would outlive a killed build."""
    from berth.container.cp import Root
    from berth.container.cp_build import copy_between

    if not wanted:
        yield []
        return
    snapshots = services.snapshots
    keys: list[str] = []
    try:
        found = []
        for item in wanted:
            key = f"build-{os.urandom(8).hex()}"
            mount = snapshots.prepare(key, None)
            keys.append(key)
            root = services.layout.tmp / f"{key}-root"
            view, view_dir = view_root(services.layers, services.layout, item.chain)
            try:
                root.mkdir(parents=True)
                copy_between(
                    Root(str(root), (mount.lowers, mount.upper, mount.work)),
                    view,
                    "/borrowed",
                    [item.source],
                    several=False,
                    chown=None,
                    server=server,
                )
            finally:
                view_dir.rmdir()
                with contextlib.suppress(OSError):
                    root.rmdir()
            source = snapshots.upper(key) / "borrowed"
            found.append(
                {
                    "Type": "bind",
                    "Source": str(source),
                    "Target": item.target,
                    "ReadOnly": item.readonly,
                }
            )
        yield found
    finally:
        for key in keys:
            with contextlib.suppress(BerthError):
                snapshots.remove(key)


def view_root(layers: LayerStore, layout: Layout, chain: str) -> tuple[Any, Path]:
    """A read-only Root of a chain (COPY --from's source) and the directory it mounts on."""
    from berth.container.cp import Root

    lowers = tuple(str(layer.path) for layer in layers.chain_layers(chain))
    target = layout.tmp / f"view-{os.urandom(8).hex()}"
    target.mkdir(parents=True)
    return Root(str(target), (lowers, None, None)), target


def inline_files(directory: Path, files: list[tuple[str, str]]) -> list[Path]:
    """COPY <<EOF's sources, written as files (`(name, text)`) for the context's tar."""
    written = []
    for name, text in files:
        if "/" in name or name in (".", ".."):
            raise InvalidArgument(f"invalid heredoc file name {name!r}")
        path = directory / name
        path.write_text(text)
        os.chmod(path, 0o644)
        written.append(path)
    return written


def writer(chunks: Any) -> Callable[[IO[bytes]], None]:
    def write(out: IO[bytes]) -> None:
        for chunk in chunks:
            out.write(chunk)

    return write


def file_writer(path: str) -> Callable[[IO[bytes]], None]:
    def write(out: IO[bytes]) -> None:
        import shutil

        with open(path, "rb") as stream:
            shutil.copyfileobj(stream, out, CHUNK)

    return write


ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ")
CHUNK = 1 << 20


def is_archive(path: str) -> bool:
    """A tar, plain or compressed (what ADD unpacks), by its first bytes."""
    with open(path, "rb") as stream:
        head = stream.read(512)
    if head.startswith(ARCHIVE_MAGIC):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"
