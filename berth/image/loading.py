"""Loading an image archive into the store: what `load` and `POST /images/load` do.

The archive is indexed and its documents checked (`archive_read`, `archive_index`); then
each layer the store lacks is staged, several at once: its tar is read once from the archive
and fed to the unpacker (berth.archive: the pull's containment, a fresh process chrooted to
the new layer's directory), and to the layer's blob — a compressed member kept as it is, an
uncompressed one gzip-compressed on a thread of its own (isal, no timestamp: deterministic,
as a built layer's), so a later push or save of the loaded image has a manifest and
compressed blobs to send. A layer already in the store is not unpacked again (the dedup of
pulls); if no image in the store has its blob, the blob alone is made.

Every digest is checked before anything is visible: the documents', each member's (when the
archive names it) and each layer's diff_id. Only then, under the gc lock held shared from the
start, are the blobs and layer directories renamed into the store, then the configs,
manifests, image rows and tags written. A failed load leaves the store as it was; a crash
midway leaves only what the collector sweeps (the scratch directory is an `unpack-` one).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from berth.errors import DataLoss, InvalidArgument, NotFound
from berth.image import making
from berth.image.archive_index import ImageSource, LayerSource, images_in
from berth.image.archive_read import Archive, invalid, opened, sniff_compression
from berth.image.layer_blob import BlobFile, decompressed_digest
from berth.oci import (
    DOCKER_LAYER_FOREIGN,
    DOCKER_LAYER_GZIP,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_LAYER_NONDIST_GZIP,
    OCI_LAYER_TAR,
    OCI_MANIFEST,
    Descriptor,
    compression_of,
    media_type_of,
    parse_config,
    parse_manifest,
    sha256_digest,
    short_id,
)
from berth.snapshot.layers import discard, spool_dir

if TYPE_CHECKING:
    from berth.content import ContentStore
    from berth.db import Database
    from berth.image.records import ImageStore
    from berth.layout import Layout
    from berth.snapshot import LayerStore

PARALLEL = 2  # layers staged at once: each is an unpacker process and a compressing thread
# A loaded image's manifest is OCI's: a stored Docker blob is named with OCI's media type.
_OCI_TYPES = {
    DOCKER_LAYER_GZIP: OCI_LAYER_GZIP,
    DOCKER_LAYER_FOREIGN: OCI_LAYER_NONDIST_GZIP,
    "application/vnd.docker.image.rootfs.diff.tar": OCI_LAYER_TAR,
}


class Loaded(NamedTuple):
    lines: tuple[str, ...]  # Docker's report: `Loaded image: busybox:latest`, ...
    image_ids: tuple[str, ...]


class _Job(NamedTuple):
    source: LayerSource
    unpack: bool  # the layer store lacks it
    make_blob: bool  # no image in the store has its blob


class _Staged(NamedTuple):
    diff_id: str
    unpacked: Path | None  # its directory, to commit
    size: int  # Docker's layer size (its regular files' bytes)
    blob: Descriptor
    blob_file: Path  # the blob, to place in the content store


class Loader:
    def __init__(
        self,
        layout: Layout,
        database: Database,
        content: ContentStore,
        layers: LayerStore,
        records: ImageStore,
    ) -> None:
        self.layout = layout
        self.database = database
        self.content = content
        self.layers = layers
        self.records = records
        self._stop = threading.Event()

    def load(self, source: BinaryIO) -> Loaded:
        # The archive is spooled (a stream, however slow its sender) before the collector is
        # held off: a `docker load` trickling in blocks no `rmi` or prune meanwhile.
        with (
            spool_dir(self.layout) as spool,
            opened(source, spool) as archive,
            making.holding_blobs(self.layout),
            self._scratch() as scratch,
        ):
            images = images_in(archive)
            staged = self._stage_all(archive, images, scratch)
            return self._commit(images, staged)

    @contextmanager
    def _scratch(self) -> Iterator[Path]:
        """A directory for the spooled archive and the blobs made (an `unpack-` directory:
        what a crash leaves of it is swept with the pulls' leftovers)."""
        directory = self.layers.new_unpack_dir()
        try:
            yield directory
        finally:
            discard(directory)

    # -- staging -------------------------------------------------------------------------

    def _jobs(self, images: list[ImageSource]) -> list[_Job]:
        """The layers to stage: each once, none of an image the store has whole. A layer
        the store has needs only its blob, and not even that if an image in the store has
        it — the very blob the archive's manifest names, for an OCI layout's compressed
        layer, so that its manifest is kept byte for byte."""
        jobs: dict[str, _Job] = {}
        stored: dict[str, Descriptor] | None = None
        for image in images:
            if self._complete(image.image_id):
                continue
            for layer in image.layers:
                if layer.diff_id in jobs:
                    continue
                present = self.layers.layer(layer.diff_id) is not None
                if present and stored is None:
                    stored = self._stored_blobs()
                blob = (stored or {}).get(layer.diff_id)
                oci = layer.descriptor
                keep = oci is not None and compression_of(oci.media_type) != "none"
                make_blob = blob is None or (keep and blob.digest != layer.digest)
                jobs[layer.diff_id] = _Job(layer, not present, not present or make_blob)
        return [job for job in jobs.values() if job.make_blob]

    def _stage_all(
        self, archive: Archive, images: list[ImageSource], scratch: Path
    ) -> dict[str, _Staged]:
        jobs = self._jobs(images)
        if not jobs:
            return {}
        pool = ThreadPoolExecutor(min(PARALLEL, len(jobs)))
        futures = [
            pool.submit(self._stage, archive, job, scratch / f"blob-{n}")
            for n, job in enumerate(jobs)
        ]
        try:
            for future in as_completed(futures):
                future.result()  # the first failure, as soon as it happens
        except BaseException:
            self._stop.set()  # the other layers give up at their next chunk
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if self._stop.is_set():
                _discard_staged(futures)
        return {(result := future.result()).diff_id: result for future in futures}

    def _complete(self, image_id: str) -> bool:
        """Whether the store has the image already (its row comes after all its layers)."""
        try:
            self.records.get(image_id)
        except NotFound:
            return False
        return True

    def _stored_blobs(self) -> dict[str, Descriptor]:
        """The blob of each layer that some image in the store has, by diff_id."""
        found: dict[str, Descriptor] = {}
        for record in self.records.all():
            try:
                data = self.content.read(record.manifest_digest)
                manifest = parse_manifest(data, media_type_of(data, None))
                config = parse_config(self.content.read(record.id))
            except (DataLoss, OSError):
                continue
            for blob, diff_id in zip(manifest.layers, config.diff_ids, strict=False):
                if self.content.exists(blob.digest):
                    found.setdefault(diff_id, blob)
        return found

    def _stage(self, archive: Archive, job: _Job, blob_path: Path) -> _Staged:
        layer = job.source
        member = archive.member(layer.member)
        compression = sniff_compression(archive.head(layer.member))
        if layer.descriptor is not None and member.size != layer.descriptor.size:
            raise invalid(f"{layer.member} is {member.size} bytes, its manifest says otherwise")
        unpacked = self.layers.new_unpack_dir() if job.unpack else None
        try:
            blob, digest, diff_id, size = self._copy(
                archive, layer, compression, blob_path, unpacked
            )
            if layer.digest is not None and digest != layer.digest:
                raise invalid(f"{layer.member} does not match its digest: it is {digest}")
            if diff_id != layer.diff_id:
                raise invalid(
                    f"layer {short_id(layer.diff_id)} ({layer.member}) does not match the "
                    f"image's diff_id: its tar is {diff_id}"
                )
        except BaseException:
            if unpacked is not None:
                discard(unpacked)
            raise
        return _Staged(layer.diff_id, unpacked, size, blob, blob_path)

    def _copy(
        self,
        archive: Archive,
        layer: LayerSource,
        compression: str,
        blob_path: Path,
        unpacked: Path | None,
    ) -> tuple[Descriptor, str, str, int]:
        """Read the member once into its blob (and its unpacker): (blob, the member's digest,
        the diff_id, the layer's size)."""
        from berth.archive import start_unpack

        writer = start_unpack(unpacked / "fs", compression) if unpacked is not None else None
        try:
            try:
                with BlobFile(blob_path, compression) as blob:
                    for chunk in archive.open(layer.member).chunks():
                        if self._stop.is_set():
                            raise InvalidArgument("the load was stopped")
                        blob.write(chunk)
                        if writer is not None:
                            writer.write(chunk)
                    descriptor, member_digest, plain_digest = blob.finish()
                applied = writer.finish() if writer is not None else None
            except BaseException:
                if writer is not None:
                    writer.abort()
                raise
        except DataLoss as error:  # the unpacker's verdict on a corrupt or truncated tar
            raise invalid(f"layer {layer.member}: {error.message}") from None
        if applied is not None:
            return descriptor, member_digest, applied.diff_id, applied.size
        diff_id = plain_digest or decompressed_digest(blob_path, compression)
        existing = self.layers.layer(layer.diff_id)
        return descriptor, member_digest, diff_id, existing.size if existing else 0

    # -- committing ----------------------------------------------------------------------

    def _commit(self, images: list[ImageSource], staged: dict[str, _Staged]) -> Loaded:
        """Files first (blobs, layer directories, configs, manifests), then each image's row
        and tags in one transaction."""
        for layer in staged.values():
            self.content.add_file(layer.blob_file, layer.blob.digest)
        for layer in staged.values():
            if layer.unpacked is not None:
                self.layers.commit(layer.unpacked, layer.diff_id, layer.size)
        blobs = {**self._stored_blobs(), **{d: layer.blob for d, layer in staged.items()}}
        lines: list[str] = []
        for image in images:
            manifest = None if self._complete(image.image_id) else self._documents(image, blobs)
            with self.database.transaction():
                if manifest is not None:
                    self._add(image, manifest)
                lines += self._name(image)
        return Loaded(tuple(lines), tuple(image.image_id for image in images))

    def _documents(self, image: ImageSource, blobs: dict[str, Descriptor]) -> str:
        """Store the image's config and manifest (the archive's own if it names the blobs
        stored, else a new OCI one); the manifest's digest."""
        try:
            descriptors = [blobs[layer.diff_id] for layer in image.layers]
        except KeyError as missing:
            raise DataLoss(f"layer {missing} vanished while the image was loaded") from None
        manifest = image.manifest
        if manifest is None or [x.digest for x in image.layers] != [d.digest for d in descriptors]:
            manifest = _manifest(image, descriptors)
        self.content.write(image.image_id, image.config)
        digest = sha256_digest(manifest)
        self.content.write(digest, manifest)
        return digest

    def _add(self, image: ImageSource, manifest_digest: str) -> None:
        chain: str | None = None
        size = 0
        for layer in image.layers:
            chain = self.layers.link(chain, layer.diff_id)
            found = self.layers.layer(layer.diff_id)
            size += found.size if found else 0
        created = image.parsed.created or ""
        self.records.add(
            image.image_id, manifest_digest, chain, size, created, tag=None, repo_digest=None
        )

    def _name(self, image: ImageSource) -> list[str]:
        """Tag the image with its names (moving a tag from another image, as Docker does):
        Docker's lines."""
        if not image.names:
            return [f"Loaded image ID: {image.image_id}"]
        lines = []
        for name in image.names:
            previous = self.records.tagged(str(name))
            if previous is not None and previous != image.image_id:
                lines.append(
                    f"The image {name.familiar()} already exists, renaming the old one with "
                    f"ID {previous} to empty string"
                )
            self.records.tag(image.image_id, name)
            lines.append(f"Loaded image: {name.familiar()}")
        return lines


def _discard_staged(futures: list[Future[_Staged]]) -> None:
    """What the other layers staged before they noticed a failure."""
    for future in futures:
        if future.cancelled() or future.exception() is not None:
            continue
        unpacked = future.result().unpacked
        if unpacked is not None:
            discard(unpacked)


def _manifest(image: ImageSource, layers: list[Descriptor]) -> bytes:
    """An OCI manifest for a loaded image, naming its layers' compressed blobs."""
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": image.image_id, "size": len(image.config)},
        "layers": [
            {
                "mediaType": _OCI_TYPES.get(d.media_type, d.media_type),
                "digest": d.digest,
                "size": d.size,
            }
            for d in layers
        ],
    }
    return json.dumps(document, separators=(",", ":")).encode()
