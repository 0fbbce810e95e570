"""Pulling an image: resolve, verify, then fetch and unpack the missing layers in parallel.

Per layer, cheapest first: a chain already committed or a layer already unpacked (even on
another parent) is "Already exists"; a blob already in the content store is unpacked
without a download; otherwise the blob streams from the registry into a resumable ingest
and, at the same time, into the unpacker, so download, hashing, decompression and extraction
overlap. Both digests are checked at EOF; nothing is committed before they match.

The image (its chains, row, tag and repo digest) is committed in one transaction after every
layer is in place, so a half-pulled image is never listed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from berth.archive import LayerWriter, apply_layer, start_unpack
from berth.content import ContentStore
from berth.content.ingest import Ingest
from berth.db import Database
from berth.errors import DataLoss, Unavailable
from berth.image import progress
from berth.image.progress import ProgressEvent, Reporter
from berth.image.records import ImageStore
from berth.layout import Layout
from berth.oci import (
    INDEX_TYPES,
    Descriptor,
    ImageConfig,
    Manifest,
    Platform,
    chain_ids,
    choose_platform,
    compression_of,
    parse_config,
    parse_index,
    parse_manifest,
    short_id,
)
from berth.reference import Reference
from berth.registry import Registry
from berth.snapshot import LayerStore
from berth.snapshot.layers import discard
from berth.sys.filelock import FileLock

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 5
_REPORT_INTERVAL = 0.1
_REPLAY_CHUNK = 1 << 20


class _Stopped(Exception):
    """Another layer failed: this download stops early (its partial bytes stay resumable)."""


@dataclass(frozen=True, slots=True)
class PullResult:
    reference: Reference
    image_id: str
    digest: str  # the digest the reference resolved to (an index's, for multi-platform images)
    up_to_date: bool
    bytes_downloaded: int


@dataclass(frozen=True, slots=True)
class _LayerJob:
    index: int
    blob: Descriptor
    diff_id: str
    chain_id: str

    @property
    def short(self) -> str:
        return short_id(self.blob.digest)


class Puller:
    def __init__(
        self,
        layout: Layout,
        database: Database,
        content: ContentStore,
        layers: LayerStore,
        images: ImageStore,
        registry: Registry,
        *,
        max_concurrent_downloads: int = 3,
        report: Reporter = progress.ignore,
    ) -> None:
        self.layout = layout
        self.database = database
        self.content = content
        self.layers = layers
        self.images = images
        self.registry = registry
        self.max_concurrent_downloads = max(1, max_concurrent_downloads)
        self.report = report
        self._downloaded = 0
        self._downloaded_lock = threading.Lock()
        self._stop = threading.Event()

    # -- documents -------------------------------------------------------------------------

    def _manifest(self, reference: Reference, platform: Platform) -> tuple[str, str, Manifest]:
        """Resolve the reference to (resolved digest, platform manifest digest, manifest)."""
        resolved = self.registry.resolve(reference)
        self.content.write(resolved.digest, resolved.data)
        digest, media_type, data = resolved.digest, resolved.media_type, resolved.data
        if media_type in INDEX_TYPES:
            entry = choose_platform(parse_index(data, media_type), platform)
            data = self._document(reference, entry.digest)
            digest, media_type = entry.digest, entry.media_type
        return resolved.digest, digest, parse_manifest(data, media_type)

    def _document(self, reference: Reference, digest: str) -> bytes:
        if self.content.exists(digest):
            return self.content.read(digest)
        data = self.registry.fetch_manifest(reference, digest)
        self.content.write(digest, data)
        return data

    def _config(self, reference: Reference, descriptor: Descriptor) -> ImageConfig:
        if self.content.exists(descriptor.digest):
            data = self.content.read(descriptor.digest)
        else:
            data = self.registry.fetch_blob(reference, descriptor.digest, descriptor.size)
            self.content.write(descriptor.digest, data)
        return parse_config(data)

    # -- the pull --------------------------------------------------------------------------

    def pull(self, reference: Reference, platform: Platform) -> PullResult:
        self.report(
            ProgressEvent("", f"{reference.tag or reference.digest}: Pulling from {reference.path}")
        )
        resolved_digest, manifest_digest, manifest = self._manifest(reference, platform)
        config = self._config(reference, manifest.config)
        if len(config.diff_ids) != len(manifest.layers):
            raise DataLoss(
                f"image config lists {len(config.diff_ids)} layers but the manifest has "
                f"{len(manifest.layers)}"
            )
        chains = chain_ids(config.diff_ids)
        jobs = [
            _LayerJob(i, blob, diff_id, chain)
            for i, (blob, diff_id, chain) in enumerate(
                zip(manifest.layers, config.diff_ids, chains, strict=True)
            )
        ]
        with FileLock(self.layout.locks / "gc.lock", shared=True):
            sizes = self._fetch_layers(reference, jobs)
            image_id = manifest.config.digest
            # Up to date (Docker's words) when the tag, or the repository's digest, named
            # this image already.
            named = self.images.tagged if reference.tag else self.images.digested
            previous = named(str(reference))
            self._commit(reference, resolved_digest, manifest_digest, config, image_id, jobs, sizes)
        return PullResult(
            reference, image_id, resolved_digest, previous == image_id, self._downloaded
        )

    def _fetch_layers(self, reference: Reference, jobs: list[_LayerJob]) -> list[int]:
        pending = [job for job in jobs if not self._exists(job)]
        for job in jobs:
            if job not in pending:
                self.report(ProgressEvent(job.short, progress.ALREADY_EXISTS))
        for job in pending:
            self.report(ProgressEvent(job.short, progress.PULLING_FS_LAYER))
        for job in pending[self.max_concurrent_downloads :]:
            self.report(ProgressEvent(job.short, progress.WAITING))
        if pending:
            pool = ThreadPoolExecutor(self.max_concurrent_downloads)
            try:
                futures = [pool.submit(self._ensure_layer, reference, job) for job in pending]
                for future in as_completed(futures):
                    error = future.exception()
                    if error is not None:
                        raise error
            except BaseException:
                self._stop.set()  # the other downloads give up at their next chunk
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        sizes = []
        for job in jobs:
            layer = self.layers.layer(job.diff_id)
            if layer is None:
                raise DataLoss(f"layer {job.diff_id} vanished during the pull")
            sizes.append(layer.size)
        return sizes

    def _exists(self, job: _LayerJob) -> bool:
        return self.layers.has_chain(job.chain_id) or self.layers.layer(job.diff_id) is not None

    def _ensure_layer(self, reference: Reference, job: _LayerJob) -> None:
        lock = FileLock(self.layout.locks / f"layer-{job.diff_id.removeprefix('sha256:')}")
        with lock:
            if self.layers.layer(job.diff_id) is not None:
                self.report(ProgressEvent(job.short, progress.ALREADY_EXISTS))
                return
            compression = compression_of(job.blob.media_type)
            ingest = self.content.ingest(job.blob.digest, job.blob.size)
            try:
                if ingest.complete:
                    self._unpack_stored(job, compression)
                else:
                    self._download_and_unpack(reference, job, compression, ingest)
            except (Unavailable, _Stopped, KeyboardInterrupt):
                raise  # the bytes so far are the blob's: the next pull resumes from them
            except BaseException:
                # What arrived is not the blob, or could not be kept (a full disk): the next
                # pull must not resume from it.
                ingest.discard()
                raise
            finally:
                ingest.close()

    def _unpack_stored(self, job: _LayerJob, compression: str) -> None:
        """The blob is here already (e.g. the same layer under another parent): no download."""
        self.report(ProgressEvent(job.short, progress.EXTRACTING, 0, job.blob.size))
        with self._unpack_dir() as directory, self.content.open(job.blob.digest) as source:
            applied = apply_layer(source, directory / "fs", compression)
            self._check_diff_id(job, applied.diff_id)
            self.layers.commit(directory, job.diff_id, applied.size)
        self.report(ProgressEvent(job.short, progress.PULL_COMPLETE))

    @contextmanager
    def _unpack_dir(self) -> Iterator[Path]:
        directory = self.layers.new_unpack_dir()
        try:
            yield directory
        finally:
            discard(directory)  # gone already if committed (renamed into snapshots/)

    def _download_and_unpack(
        self, reference: Reference, job: _LayerJob, compression: str, ingest: Ingest
    ) -> None:
        with self._unpack_dir() as directory:
            writer = start_unpack(directory / "fs", compression)
            try:
                writer = self._download(reference, job, compression, ingest, writer, directory)
                self.report(ProgressEvent(job.short, progress.VERIFYING))
                ingest.commit()
                self.report(ProgressEvent(job.short, progress.DOWNLOAD_COMPLETE))
                self.report(
                    ProgressEvent(job.short, progress.EXTRACTING, job.blob.size, job.blob.size)
                )
                applied = writer.finish()
            except BaseException:
                writer.abort()
                raise
            self._check_diff_id(job, applied.diff_id)
            self.layers.commit(directory, job.diff_id, applied.size)
        self.report(ProgressEvent(job.short, progress.PULL_COMPLETE))

    def _download(
        self,
        reference: Reference,
        job: _LayerJob,
        compression: str,
        ingest: Ingest,
        writer: LayerWriter,
        directory: Path,
    ) -> LayerWriter:
        """Stream the blob into the ingest and the unpacker, resuming where bytes stopped.

        Returns the writer in use (a new one if the server ignored a Range request and the
        stream had to start over).
        """
        if ingest.offset:
            self._replay(ingest, writer)
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                with self.registry.open_blob(reference, job.blob.digest, ingest.offset) as blob:
                    if blob.offset != ingest.offset:
                        ingest.truncate()
                        writer.abort()
                        discard(directory / "fs")
                        (directory / "fs").mkdir()
                        writer = start_unpack(directory / "fs", compression)
                    last = 0.0
                    for chunk in blob.iter_chunks():
                        if self._stop.is_set():
                            raise _Stopped
                        ingest.write(chunk)
                        writer.write(chunk)
                        self._count(len(chunk))
                        if (moment := time.monotonic()) - last >= _REPORT_INTERVAL:
                            last = moment
                            self.report(
                                ProgressEvent(
                                    job.short, progress.DOWNLOADING, ingest.offset, job.blob.size
                                )
                            )
                if ingest.offset < job.blob.size:
                    raise Unavailable(
                        f"the registry closed the download of {job.short} after "
                        f"{ingest.offset} of {job.blob.size} bytes"
                    )
                self.report(
                    ProgressEvent(job.short, progress.DOWNLOADING, ingest.offset, job.blob.size)
                )
                return writer
            except Unavailable as error:
                if attempt == DOWNLOAD_ATTEMPTS:
                    raise
                log.debug("download of %s failed (%s); resuming", job.blob.digest, error)
                self.report(ProgressEvent(job.short, f"{progress.RETRYING} in {attempt} seconds"))
                time.sleep(attempt)
        raise AssertionError("unreachable")

    def _replay(self, ingest: Ingest, writer: LayerWriter) -> None:
        """Feed the bytes a killed pull left behind to the new unpacker."""
        with open(ingest.read_partial(), "rb") as partial:
            remaining = ingest.offset
            while remaining and (chunk := partial.read(min(_REPLAY_CHUNK, remaining))):
                writer.write(chunk)
                remaining -= len(chunk)

    def _count(self, size: int) -> None:
        with self._downloaded_lock:
            self._downloaded += size

    @staticmethod
    def _check_diff_id(job: _LayerJob, actual: str) -> None:
        if actual != job.diff_id:
            raise DataLoss(
                f"layer {job.short} unpacked to diff_id {actual}, but the image config "
                f"says {job.diff_id}"
            )

    def _commit(
        self,
        reference: Reference,
        resolved_digest: str,
        manifest_digest: str,
        config: ImageConfig,
        image_id: str,
        jobs: list[_LayerJob],
        sizes: list[int],
    ) -> None:
        with self.database.transaction():
            parent: str | None = None
            for job in jobs:
                parent = self.layers.link(parent, job.diff_id)
            self.images.add(
                image_id,
                manifest_digest,
                parent,
                sum(sizes),
                config.created or "",
                tag=reference if reference.tag is not None else None,
                repo_digest=f"{reference.name}@{resolved_digest}",
            )
