"""The build facade: images made here rather than pulled — `commit` (a container's changes as
a new layer on its image) and, with the builder, `build`. The CLI's `commit`/`build` and the
API's POST /commit and /build call it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from berth.db import now, stamp
from berth.errors import BerthError, InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from berth.build.options import Options
    from berth.build.progress import Progress
    from berth.build.records import BuildCache
    from berth.container.copy_client import CopyServer
    from berth.container.lifecycle import Lifecycle
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord, ContainerStore
    from berth.container.stopping import Controls
    from berth.content import ContentStore
    from berth.engine.containers import Containers
    from berth.events import Journal
    from berth.image.service import ImageService
    from berth.layout import Layout
    from berth.reference import Reference
    from berth.snapshot import LayerStore, Snapshotter


class Parts(Protocol):
    """What the build facade uses of the engine."""

    layout: Layout

    @property
    def containers(self) -> Containers: ...

    @property
    def container_records(self) -> ContainerStore: ...

    @property
    def controls(self) -> Controls: ...

    @property
    def container_paths(self) -> ContainerPaths: ...

    @property
    def lifecycle(self) -> Lifecycle: ...

    @property
    def snapshots(self) -> Snapshotter: ...

    @property
    def content(self) -> ContentStore: ...

    @property
    def layers(self) -> LayerStore: ...

    @property
    def image_service(self) -> ImageService: ...

    @property
    def journal(self) -> Journal: ...

    @property
    def build_cache(self) -> BuildCache: ...

    def spare_monitors(self, count: int) -> None: ...

    def monitor_ahead(self) -> None: ...


class Builder:
    def __init__(self, parts: Parts) -> None:
        self._parts = parts

    def commit(
        self,
        container: str,
        reference: str | None = None,
        *,
        author: str = "",
        message: str = "",
        config: dict[str, Any] | None = None,
        changes: list[str] | tuple[str, ...] = (),
        pause: bool = True,
    ) -> str:
        """Docker's commit: the container's filesystem changes as a new layer on its image,
        its config as the image's (`config`'s fields over it, then `changes`, Dockerfile
        instructions: CMD, ENV, LABEL…); returns the new image's id. A running container is
        paused meanwhile unless `pause` is False, so what it writes can't tear the layer."""
        from berth.container.changes import runtime_stubs
        from berth.image import making

        parts = self._parts
        tag = _new_tag(reference)
        record = parts.containers.lookup(container)
        images = parts.image_service
        base = making.base_of(parts.content, images.lookup(record.image_id))
        created = now()
        history = {"created": created, "created_by": _command(record)}
        extra = {}
        if author:
            history["author"] = extra["author"] = author
        if message:
            history["comment"] = extra["comment"] = message
        image_config = making.image_config({**record.config, **(config or {})})
        _apply_changes(image_config, changes)
        with self._frozen(record, pause), making.holding_blobs(parts.layout):
            upper = parts.snapshots.upper(record.id)
            stubs = runtime_stubs(parts.container_paths.directory(record.id))
            made = making.pack_layer(parts.layout, parts.content, upper, None, stubs)
            making.unpack_copy(parts.layers, parts.content, made)
            image_id = making.write_image(
                parts.content,
                images.records,
                parts.layers,
                base,
                [(made, history)],
                image_config,
                created,
                tag=tag,
                extra=extra,
            )
        attributes = {"comment": message, "imageID": image_id}
        if tag is not None:
            attributes["imageRef"] = tag.familiar()
        parts.lifecycle.announce("commit", record, **attributes)
        return image_id

    def import_image(
        self,
        chunks: Iterable[bytes],
        reference: str | None = None,
        *,
        message: str = "Imported from -",
        changes: list[str] | tuple[str, ...] = (),
        platform: str = "",
    ) -> str:
        """Docker's import: a tar (its `chunks`; plain or compressed) as a one-layer image
        whose config is made of `changes` (Dockerfile instructions, as commit's), with
        `message` as its comment (dockerd's default: where the tar came from); returns the
        image's id. Everything is checked before the tar is read."""
        from berth.image import importing
        from berth.oci import parse_platform

        parts = self._parts
        tag = _new_tag(reference)
        chosen = parse_platform(platform) if platform else None
        if chosen is not None and chosen.os != "linux":
            raise InvalidArgument(
                f'image operating system "{chosen.os}" cannot be used on this platform'
            )
        config: dict[str, Any] = {}
        _apply_changes(config, changes)
        image_id = importing.import_image(
            parts.layout,
            parts.content,
            parts.layers,
            parts.image_service.records,
            chunks,
            config=config,
            message=message,
            platform=chosen,
            tag=tag,
        )
        if tag is not None:
            parts.journal.record("image", "tag", image_id, {"name": tag.familiar()})
        parts.journal.record("image", "import", image_id, {"name": image_id})
        return image_id

    def download(self, url: str) -> contextlib.AbstractContextManager[Iterable[bytes]]:
        """An import's source at an http(s) URL, as chunks (dockerd's GET: redirects
        followed, an answer of 400 or more an error with the server's words)."""
        from berth.image import importing

        return importing.download(url)

    def build(
        self,
        dockerfile: bytes,
        dockerfile_name: str,
        context: Path | None,
        options: Options,
        progress: Progress,
        *,
        copier: CopyServer | None = None,
    ) -> str:
        """Build the Dockerfile `dockerfile` (its bytes; `dockerfile_name` is its path in the
        context, which chooses the ignore file) with `context` as the files COPY reads (None:
        a Dockerfile alone); returns the image's id. `copier`: a copy server started ahead,
        the build's to use and close (one is started when needed otherwise)."""
        from berth.build.context import Context
        from berth.build.dockerfile import parse
        from berth.build.executor import Build
        from berth.build.inputs import decode

        name = Path(dockerfile_name).name
        try:
            parsed = parse(decode(dockerfile, name), name=name)
            opened = None
            if context is not None:
                root = context.resolve()
                known = self._parts.build_cache.files_under(str(root))
                opened = Context.open(root, dockerfile_name, known)
            build = Build(self._parts, parsed, opened, options, progress, copier)
        except BaseException:
            if copier is not None:
                copier.close()
            raise
        self._parts.spare_monitors(build.runs)
        try:
            image_id = build.run()
            replay = options.replay
            if replay is not None and replay.settled and not build.fetched:
                from berth.build.replay import noted

                with contextlib.suppress(BerthError):  # best effort, as the files' digests
                    made = noted(build, image_id, replay.value)
                    if made is not None:
                        self._parts.build_cache.remember_replay(replay.slot, made)
            return image_id
        finally:
            self._parts.spare_monitors(0)
            if opened is not None and opened.hashes.learned:
                # Best effort (a full disk): never in place of the build's own outcome.
                with contextlib.suppress(BerthError):
                    self._parts.build_cache.remember_files(opened.hashes.learned)

    def prune_cache(self, until: float | None = None) -> tuple[list[str], int]:
        """`builder prune`: forget the build cache (with `until`, a Unix time: the entries
        not used since then, as BuildKit's keep-duration); the collector frees what it held.
        Returns the keys of the entries forgotten and the bytes freed."""
        forgotten = self._parts.build_cache.prune(None if until is None else stamp(until))
        collected = self._parts.image_service.collect()
        return forgotten, collected.layers_bytes + collected.blobs_bytes

    @contextlib.contextmanager
    def _frozen(self, record: ContainerRecord, pause: bool) -> Iterator[None]:
        from berth.container.state import Status

        current = self._parts.containers.refresh(record)
        if not pause or current.status != Status.RUNNING:
            yield
            return
        self._parts.controls.pause(current)
        try:
            yield
        finally:
            self._parts.controls.unpause(current)


def _new_tag(reference: str | None) -> Reference | None:
    """The tag a new image gets (`commit`, `import`), if any; never a digest."""
    if not reference:
        return None
    from berth.reference import parse

    tag = parse(reference)
    if tag.digest is not None:
        raise InvalidArgument("refusing to create a tag with a digest reference")
    return tag


def _apply_changes(config: dict[str, Any], changes: list[str] | tuple[str, ...]) -> None:
    """`commit --change` and `import --change`: each a Dockerfile instruction Docker allows
    there, applied."""
    if not changes:
        return
    from berth.build import config as configs
    from berth.build.dockerfile import parse_triggers
    from berth.build.scope import Scope

    scope = Scope.global_scope({}, {}).stage_scope(config.get("Env") or [])
    for instruction in parse_triggers(list(changes), name="change", allowed=configs.COMMIT_CHANGES):
        configs.apply(instruction, config, scope, {}, cmd_set=True)


def unpack_context(directory: Path, data: bytes | Iterable[bytes]) -> None:
    """A build context's tar (gzip, bzip2 or xz too) unpacked into `directory` by the copy
    helper, chrooted there: nothing in the tar lands outside it."""
    from berth.container.cp import Root
    from berth.container.cp_build import copy_in

    chunks = [data] if isinstance(data, bytes) else data

    def write(out: IO[bytes]) -> None:
        for chunk in chunks:
            out.write(chunk)

    copy_in(Root(str(directory)), "/", write, keep_owners=True)


def _command(record: ContainerRecord) -> str:
    """What the history says made the layer: the container's command, as Docker writes it."""
    words = [*(record.config.get("Entrypoint") or []), *(record.config.get("Cmd") or [])]
    return " ".join(str(word) for word in words)
