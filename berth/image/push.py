"""Pushing an image: its layers in parallel (asked for first, mounted from another repository
of the registry that has them, else uploaded), then its config, then its manifest.

What goes up are the stored bytes: the blobs and manifest a pull kept (so a pulled image
keeps its digests byte for byte) or a build packed once (so a second push finds every blob
and uploads nothing). Nothing in the store changes but the repo digest noted at the end.

Blobs larger than one chunk go up in chunks; after each, the session's next `Location` is
noted under the store's `content/uploads/`, so a push that is killed resumes where the
registry's last answer left it (what a chunk in flight had sent is sent again), and one that
loses its connection does so at once. A noted session the registry refuses (distribution
refuses one that got part of a chunk) is started again from the beginning.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from berth.content import ContentStore
from berth.errors import BerthError, DataLoss, InvalidArgument, NotFound, Unavailable
from berth.image.progress import (
    LAYER_EXISTS,
    MOUNTED_FROM,
    PUSHED,
    PUSHING,
    ProgressEvent,
    Reporter,
    push_begun,
)
from berth.image.records import ImageRecord, ImageStore
from berth.layout import Layout
from berth.oci import (
    FOREIGN_LAYER_TYPES,
    MANIFEST_TYPES,
    Descriptor,
    media_type_of,
    parse_config,
    parse_manifest,
    short_id,
)
from berth.reference import Reference, parse
from berth.registry import Registry
from berth.registry.upload import FileSpan, Pushing, Session

CHUNK_SIZE = 16 << 20  # larger blobs go up in chunks of this size, each a point to resume from
UPLOAD_ATTEMPTS = 3
MOUNT_ATTEMPTS = 3  # candidate repositories asked per blob, as Docker bounds them
_REPORT_INTERVAL = 0.1


class PushResult(NamedTuple):
    reference: Reference
    digest: str  # the manifest's
    size: int  # the manifest's bytes


class _Layer(NamedTuple):
    blob: Descriptor
    ident: str  # the short diff_id Docker shows


class _Stopped(Exception):
    """Another layer failed: this upload stops early (a noted session stays resumable)."""


class Pusher:
    def __init__(
        self,
        layout: Layout,
        content: ContentStore,
        images: ImageStore,
        registry: Registry,
        *,
        max_concurrent_uploads: int = 5,
        report: Reporter,
    ) -> None:
        if max_concurrent_uploads < 1:
            raise InvalidArgument("--max-concurrent-uploads must be at least 1")
        self.layout = layout
        self.content = content
        self.images = images
        self.registry = registry
        self.concurrency = max_concurrent_uploads
        self.report = report
        self._stop = threading.Event()

    def push(self, record: ImageRecord, reference: Reference) -> PushResult:
        if reference.tag is None:
            raise InvalidArgument(f"cannot push {reference.familiar()}: a push needs a tag")
        data = self.content.read(record.manifest_digest)
        media_type = media_type_of(data, None)
        if media_type not in MANIFEST_TYPES:
            raise DataLoss(f"image {record.id}: its stored manifest is a {media_type}")
        manifest = parse_manifest(data, media_type)
        config = self.content.read(record.id)
        diff_ids = parse_config(config).diff_ids
        if len(diff_ids) != len(manifest.layers):
            raise DataLoss(f"image {record.id}: its manifest and config disagree on its layers")
        layers = [
            _Layer(blob, short_id(diff_id))
            for blob, diff_id in zip(manifest.layers, diff_ids, strict=True)
            if blob.media_type
            not in FOREIGN_LAYER_TYPES  # a foreign layer is fetched from its URLs
        ]
        for layer in layers:
            if not self.content.exists(layer.blob.digest):
                raise NotFound(
                    f"layer {layer.ident} of {reference.familiar()} is not in the store as "
                    f"the blob its manifest names ({layer.blob.digest}): it can't be pushed",
                    hint="pull the image again with `berth pull` from where it came from",
                )
        endpoint = self.registry.push_endpoint(reference.domain)
        target = Pushing(self.registry, endpoint, reference)
        layers.reverse()  # top first, as Docker lists them
        push_begun(self.report, reference.name, [layer.ident for layer in layers], self.concurrency)
        self._layers(target, layers, self._sources(reference))
        if not target.has_blob(record.id):
            self._upload(target, Descriptor("", record.id, len(config)))
        target.put_manifest(reference.tag, media_type, data, record.manifest_digest)
        self.images.add(
            record.id,
            record.manifest_digest,
            record.top_chain,
            record.size,
            record.created,
            tag=None,
            repo_digest=f"{reference.name}@{record.manifest_digest}",
        )
        return PushResult(reference, record.manifest_digest, len(data))

    # -- layers -----------------------------------------------------------------------------

    def _layers(self, target: Pushing, layers: list[_Layer], sources: dict[str, list[str]]) -> None:
        """Push the layers, `concurrency` at a time; the first failure stops the others and
        is raised."""
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="push") as pool:
            futures = [pool.submit(self._layer, target, layer, sources) for layer in layers]
            failure: BaseException | None = None
            for future in futures:
                error = future.exception()
                if error is not None and not isinstance(error, _Stopped) and failure is None:
                    failure = error
                    self._stop.set()
        if failure is not None:
            raise failure

    def _layer(self, target: Pushing, layer: _Layer, sources: dict[str, list[str]]) -> None:
        if self._stop.is_set():
            raise _Stopped
        digest = layer.blob.digest
        if target.has_blob(digest):
            self.report(ProgressEvent(layer.ident, LAYER_EXISTS))
            return
        session: Session | None = None
        for source in sources.get(digest, [])[:MOUNT_ATTEMPTS]:
            opened = target.mount(digest, source)
            if session is not None:
                target.cancel(session)
            if opened is None:
                self.report(ProgressEvent(layer.ident, f"{MOUNTED_FROM} {source}"))
                return
            session = opened
        self._upload(target, layer.blob, layer.ident, session)
        self.report(ProgressEvent(layer.ident, PUSHED))

    def _sources(self, reference: Reference) -> dict[str, list[str]]:
        """For each blob, the other repositories of the registry known to hold it: those
        the store's images were pulled from or pushed to (their repo digests)."""
        found: dict[str, list[str]] = {}
        for record in self.images.all():
            repositories = []
            for name in record.digests:
                source = parse(name)
                if source.domain == reference.domain and source.path != reference.path:
                    repositories.append(source.path)
            if not repositories:
                continue
            try:
                data = self.content.read(record.manifest_digest)
                manifest = parse_manifest(data, media_type_of(data, None))
            except (BerthError, OSError):
                continue
            for blob in manifest.layers:
                known = found.setdefault(blob.digest, [])
                known += [r for r in repositories if r not in known]
        return found

    # -- uploads ----------------------------------------------------------------------------

    def _upload(
        self, target: Pushing, blob: Descriptor, ident: str = "", session: Session | None = None
    ) -> None:
        """Upload a blob of the content store, resuming a noted session; `ident`: the
        layer's, for progress (a config goes up silently)."""
        path = str(self.content.path(blob.digest))
        size = os.stat(path).st_size
        if blob.size and size != blob.size:
            raise DataLoss(f"blob {blob.digest}: {size} bytes stored, {blob.size} expected")
        note = _Note(self.layout.uploads, target, blob.digest)
        sent = self._progress(ident, size)
        for attempt in range(UPLOAD_ATTEMPTS):
            if session is None:
                session = note.resume(target)
            if session is None or session.offset > size:
                session = target.start()
            try:
                while size - session.offset > CHUNK_SIZE:
                    session = target.patch(session, path, session.offset + CHUNK_SIZE, sent)
                    note.save(session)
                target.finish(session, blob.digest, FileSpan(path, session.offset, size, sent))
            except Unavailable:
                if attempt == UPLOAD_ATTEMPTS - 1 or self._stop.is_set():
                    raise
                session = None  # the noted session, if the registry still takes it
                continue
            note.clear()
            return

    def _progress(self, ident: str, size: int) -> Callable[[int], None]:
        last = [0.0]

        def sent(position: int) -> None:
            if self._stop.is_set():
                raise _Stopped
            now = time.monotonic()
            if ident and (now - last[0] >= _REPORT_INTERVAL or position == size):
                last[0] = now
                self.report(ProgressEvent(ident, PUSHING, position, size))

        return sent


class _Note:
    """An upload's session noted on disk between chunks: `{"location": URL}` in a file named
    for the registry, the repository and the blob. Written by rename; not synced, since a
    lost note only costs sending the blob again."""

    def __init__(self, directory: Path, target: Pushing, digest: str) -> None:
        key = f"{target.endpoint.url}\n{target.ref.path}\n{digest}".encode()
        self.path = directory / hashlib.sha256(key).hexdigest()

    def resume(self, target: Pushing) -> Session | None:
        try:
            location = json.loads(self.path.read_text())["location"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(location, str):
            return None
        return target.status(location)

    def save(self, session: Session) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps({"location": session.location}))
        os.replace(partial, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
