"""Images rebuilt from the content store, for `system check --repair` after the database
was lost: every image manifest whose config and layers are all in the store becomes an
image again. Names are not in the blobs: the images come back untagged."""

from __future__ import annotations

from berth.content import ContentStore
from berth.errors import BerthError
from berth.image.records import ImageStore
from berth.oci import MANIFEST_TYPES, media_type_of, parse_config, parse_manifest
from berth.snapshot import LayerStore

MAX_DOCUMENT = 4 << 20  # manifests are small; layers are not read


def recover_images(content: ContentStore, layers: LayerStore, images: ImageStore) -> list[str]:
    """The ids of the images recovered."""
    recovered: list[str] = []
    for blob in content.walk():
        if blob.size > MAX_DOCUMENT:
            continue
        try:
            data = content.read(blob.digest)
            media_type = media_type_of(data, None)
            if media_type not in MANIFEST_TYPES:
                continue
            manifest = parse_manifest(data, media_type)
            config = parse_config(content.read(manifest.config.digest))
        except (BerthError, OSError, ValueError):
            continue  # not a manifest, or one whose config is gone
        found = [layers.layer(diff_id) for diff_id in config.diff_ids]
        if any(layer is None for layer in found) or manifest.config.digest in recovered:
            continue
        top: str | None = None
        for diff_id in config.diff_ids:
            top = layers.link(top, diff_id)
        size = sum(layer.size for layer in found if layer is not None)
        images.add(
            manifest.config.digest,
            blob.digest,
            top,
            size,
            config.created or "",
            tag=None,
            repo_digest=None,
        )
        recovered.append(manifest.config.digest)
    return recovered
