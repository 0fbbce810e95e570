"""Making an image from new layers: what `commit` and `build` do once a container (or a
COPY) has written a snapshot's upper directory.

A new layer is packed once (`berth.archive.pack`) into the content store, where a push or a
save will read it. The layer store gets it either by taking the upper directory itself (a
build step's container is gone: `Snapshotter.commit` renames it) or, for a container that
lives on (`commit`), by unpacking the blob just written, which also checks that the two agree.
A build step's layer is only measured (its diff_id, which its chain needs) and packed from
the layer store when an image is written with it, as BuildKit leaves its layers uncompressed
until an export: a stage only copied from never costs a compression.
The image is then a config (the base's, with the new config, diff_ids and history) and an OCI
manifest, written as blobs before the image row: the gc lock is held shared meanwhile, so a
collection can't take the blobs before the row names them.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from berth.errors import DataLoss
from berth.oci import (
    DOCKER_LAYER_FOREIGN,
    DOCKER_LAYER_GZIP,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_LAYER_NONDIST_GZIP,
    OCI_MANIFEST,
    Descriptor,
    ImageConfig,
    Platform,
    host_platform,
    parse_manifest,
    sha256_digest,
)

if TYPE_CHECKING:
    from berth.content import ContentStore
    from berth.image.records import ImageRecord, ImageStore
    from berth.layout import Layout
    from berth.reference import Reference
    from berth.snapshot import LayerStore

# What an image config's `config` holds of a container's Config (the OCI fields, and the ones
# Docker adds); the rest (Hostname, Tty, AttachStdin…) belongs to one container.
IMAGE_CONFIG_FIELDS = (
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
    "Healthcheck",
    "OnBuild",
    "Shell",
)
# An OCI manifest names its layers with OCI's media types (the same bytes as Docker's).
_OCI_LAYER_TYPES = {DOCKER_LAYER_GZIP: OCI_LAYER_GZIP, DOCKER_LAYER_FOREIGN: OCI_LAYER_NONDIST_GZIP}


class LayerMade(NamedTuple):
    diff_id: str
    # The gzip blob in the content store; None for a build step's layer only measured so
    # far (`measure_layer`): it is in the layer store, and packed once an image needs it.
    blob: Descriptor | None
    content_size: int  # the regular files' bytes (Docker's layer size)
    epoch: int | None = None  # the time its file times were clamped to (SOURCE_DATE_EPOCH)


class Base(NamedTuple):
    """The image a new one stands on: its config, its layers' blobs and its top chain;
    `None` for FROM scratch."""

    config: ImageConfig
    layers: tuple[Descriptor, ...]
    chain: str | None
    size: int


def image_config(container_config: dict[str, Any]) -> dict[str, Any]:
    """The image's `config` from a container's Config: the fields an image carries."""
    return {k: container_config[k] for k in IMAGE_CONFIG_FIELDS if container_config.get(k)}


def base_of(content: ContentStore, record: ImageRecord) -> Base:
    from berth.oci import media_type_of, parse_config

    data = content.read(record.manifest_digest)
    manifest = parse_manifest(data, media_type_of(data, None))
    config = parse_config(content.read(record.id))
    if len(manifest.layers) != len(config.diff_ids):
        raise DataLoss(f"image {record.id}: its manifest and config disagree on its layers")
    return Base(config, manifest.layers, record.top_chain, record.size)


def pack_layer(
    layout: Layout,
    content: ContentStore,
    upper: Path,
    epoch: int | None,
    stubs: frozenset[str] = frozenset(),
) -> LayerMade:
    """The upper directory as a layer blob in the content store (`stubs`: see `pack`)."""
    from berth.archive.pack import pack

    layout.tmp.mkdir(parents=True, exist_ok=True)
    temporary = layout.tmp / f"layer-{os.urandom(8).hex()}.tar.gz"
    try:
        with open(temporary, "wb") as out:
            packed = pack(str(upper), out, epoch=epoch, stubs=stubs)
            out.flush()
            os.fsync(out.fileno())
        content.add_file(temporary, packed.digest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    blob = Descriptor(OCI_LAYER_GZIP, packed.digest, packed.size)
    return LayerMade(packed.diff_id, blob, packed.content_size)


def measure_layer(upper: Path, epoch: int | None) -> LayerMade:
    """The upper directory's layer as `pack_layer` would make it, not yet packed: its
    diff_id (the tar hashed) and size. A build's steps use it; their directories become
    layers, and most never get a blob: those of stages only copied from, for one."""
    from berth.archive.pack import measure

    measured = measure(str(upper), epoch=epoch)
    return LayerMade(measured.diff_id, None, measured.content_size, epoch)


def packed(layout: Layout, content: ContentStore, layers: LayerStore, made: LayerMade) -> LayerMade:
    """A measured layer with its blob: its directory in the layer store packed again, as it
    was measured (a layer directory never changes; one that packs otherwise is damaged)."""
    if made.blob is not None:
        return made
    stored = layers.layer(made.diff_id)
    if stored is None:
        raise DataLoss(f"layer {made.diff_id} is gone from the layer store")
    blobbed = pack_layer(layout, content, stored.path, made.epoch)
    if blobbed.diff_id != made.diff_id:
        raise DataLoss(
            f"layer {made.diff_id} changed on disk since it was made (it packs to "
            f"{blobbed.diff_id} now)",
            hint="remove the build cache (berth builder prune -a) and build again",
        )
    return blobbed


def unpack_copy(layers: LayerStore, content: ContentStore, made: LayerMade) -> None:
    """The layer store's copy of a new layer, unpacked from its blob (the container keeps
    its own upper directory)."""
    from berth.archive import apply_layer
    from berth.snapshot.layers import discard

    if layers.layer(made.diff_id) is not None:
        return
    if made.blob is None:
        raise DataLoss(f"layer {made.diff_id} has no blob to unpack")
    unpacked = layers.new_unpack_dir()
    try:
        with content.open(made.blob.digest) as blob:
            applied = apply_layer(blob, unpacked / "fs", "gzip")
        if applied.diff_id != made.diff_id:
            raise DataLoss(f"layer {made.diff_id} unpacked to {applied.diff_id}")
        layers.commit(unpacked, made.diff_id, applied.size)
    except BaseException:
        discard(unpacked)
        raise


@contextlib.contextmanager
def reading_blobs(layout: Layout) -> Iterator[None]:
    """`holding_blobs` for a reader (`save`): on a read-only store no collection can run, and
    the lock file can't be made, so none is taken there."""
    import errno

    from berth.sys.filelock import FileLock

    lock = FileLock(layout.locks / "gc.lock", shared=True)
    try:
        lock.acquire()
    except OSError as error:
        if error.errno != errno.EROFS:
            raise
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def holding_blobs(layout: Layout) -> Iterator[None]:
    """Held from the first blob written to the image row added: no collection meanwhile."""
    from berth.sys.filelock import FileLock

    with FileLock(layout.locks / "gc.lock", shared=True):
        yield


def write_image(
    content: ContentStore,
    records: ImageStore,
    layers: LayerStore,
    base: Base | None,
    additions: Sequence[tuple[LayerMade | None, dict[str, Any]]],
    config: dict[str, Any],
    created: str,
    *,
    tag: Reference | None = None,
    extra: dict[str, Any] | None = None,
    platform: Platform | None = None,
) -> str:
    """Write the image of `base` plus `additions` (each a new layer or None for a step that
    made none, with its history entry) and return its id. `extra`: top-level config fields
    (author, comment, container…); `platform`: an image without a base is the host's unless
    this says otherwise (`import --platform`)."""
    new = [made for made, _ in additions if made is not None]
    history = [*(base.config.history if base else [])]
    for made, entry in additions:
        history.append({**entry, **({} if made else {"empty_layer": True})})
    document: dict[str, Any] = {}
    if base is not None:
        document.update(base.config.raw)
    else:
        platform = platform or host_platform()
        document.update(architecture=platform.architecture, os=platform.os)
        if platform.variant:
            document["variant"] = platform.variant
    for stale in ("container", "container_config", "docker_version", "author", "comment"):
        document.pop(stale, None)
    document.update(extra or {})
    document.update(
        created=created,
        config=config,
        rootfs={
            "type": "layers",
            "diff_ids": [*(base.config.diff_ids if base else ()), *(m.diff_id for m in new)],
        },
        history=history,
    )
    config_data = _encode(document)
    config_digest = sha256_digest(config_data)
    content.write(config_digest, config_data)
    blobs = [*(base.layers if base else ())]
    for made in new:
        if made.blob is None:
            raise DataLoss(f"layer {made.diff_id} has no blob: it was never packed")
        blobs.append(made.blob)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_data)},
        "layers": [
            {
                "mediaType": _OCI_LAYER_TYPES.get(b.media_type, b.media_type),
                "digest": b.digest,
                "size": b.size,
            }
            for b in blobs
        ],
    }
    manifest_data = _encode(manifest)
    manifest_digest = sha256_digest(manifest_data)
    content.write(manifest_digest, manifest_data)
    chain = base.chain if base else None
    for made in new:
        chain = layers.link(chain, made.diff_id)
    size = (base.size if base else 0) + sum(m.content_size for m in new)
    records.add(config_digest, manifest_digest, chain, size, created, tag=tag, repo_digest=None)
    return config_digest


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
