"""Garbage collection: mark what images reference, sweep everything else.

Marks come from image rows (their manifests, configs, layer blobs and the indexes their
repo digests name); pulls in flight hold the gc lock shared, so a collection waits for them
rather than deleting a layer a pull is about to reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from berth.content import ContentStore
from berth.errors import BerthError
from berth.image.records import ImageStore
from berth.layout import Layout
from berth.oci import INDEX_TYPES, MANIFEST_TYPES, media_type_of, parse_index, parse_manifest
from berth.snapshot import LayerStore
from berth.snapshot.layers import discard_counted
from berth.sys.filelock import FileLock


@dataclass(frozen=True, slots=True)
class Collected:
    chains: tuple[str, ...]
    blobs_bytes: int
    layers_bytes: int
    scratch_bytes: int  # partial downloads and abandoned unpack directories


def referenced_blobs(content: ContentStore, images: ImageStore) -> set[str]:
    """Every blob some image needs: manifests, configs, layers, and indexes pulled by digest."""
    keep: set[str] = set()
    for record in images.all():
        keep.update((record.id, record.manifest_digest))
        keep.update(_document_blobs(content, record.manifest_digest))
        for name in record.digests:
            digest = name.rpartition("@")[2]
            keep.add(digest)
            keep.update(_document_blobs(content, digest))
    return keep


def _document_blobs(content: ContentStore, digest: str) -> set[str]:
    try:
        data = content.read(digest)
        media_type = media_type_of(data, None)
        if media_type in MANIFEST_TYPES:
            manifest = parse_manifest(data, media_type)
            return {manifest.config.digest, *(layer.digest for layer in manifest.layers)}
        if media_type in INDEX_TYPES:
            return {entry.digest for entry in parse_index(data, media_type).manifests}
    except BerthError:
        pass
    return set()


Roots = tuple[list[str], set[str]]  # chains and blobs something other than an image keeps


def collect(
    layout: Layout,
    content: ContentStore,
    layers: LayerStore,
    images: ImageStore,
    roots: Roots = ([], set()),
) -> Collected:
    """`roots`: what else is kept (the build cache's chains and layer blobs)."""
    with FileLock(layout.locks / "gc.lock"):
        keep_chains = [r.top_chain for r in images.all() if r.top_chain is not None]
        removed_chains, removed_layers = layers.collect([*keep_chains, *roots[0]])
        keep = referenced_blobs(content, images) | roots[1]
        blobs_bytes = 0
        for blob in content.walk():
            if blob.digest not in keep:
                content.delete(blob.digest)
                blobs_bytes += blob.size
        scratch_bytes = _sweep_ingests(layout) + layers.sweep()
    return Collected(
        chains=tuple(removed_chains),
        blobs_bytes=blobs_bytes,
        layers_bytes=sum(layer.size for layer in removed_layers),
        scratch_bytes=scratch_bytes,
    )


def _sweep_ingests(layout: Layout) -> int:
    """Delete partial downloads nobody is writing (a writer holds the ingest's lock); the
    bytes freed."""
    if not layout.ingests.is_dir():
        return 0
    freed = 0
    for entry in os.scandir(layout.ingests):
        lock = FileLock(layout.ingests / entry.name / "lock")
        if lock.acquire(blocking=False):
            try:
                freed += discard_counted(Path(entry.path))
            finally:
                lock.release()
    return freed
