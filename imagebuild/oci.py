"""A minimal OCI image-layout writer for the Debian-built images (benchmark and walkthrough).

The images are pushed by an independent tool (skopeo), so all this needs is a layout on disk:
blobs by digest, one manifest and config per tag, `index.json` naming the tags.
Must not import `berth`: the images must not depend on the code they exercise.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
CREATED = "2026-01-01T00:00:00Z"  # fixed, so a recipe always yields the same config digest


@dataclass(frozen=True, slots=True)
class Layer:
    """One compressed layer blob and what the image config must say about it."""

    path: Path  # the .tar.gz file
    digest: str  # sha256 of the compressed blob (the manifest's descriptor)
    size: int  # compressed bytes (what a pull downloads)
    diff_id: str  # sha256 of the uncompressed tar (the config's rootfs.diff_ids)
    uncompressed_size: int
    entries: int  # tar members: files, dirs, links
    created_by: str
    versions: tuple[tuple[str, str], ...] = ()  # (package, installed version) the recipe names


def sha256_file(path: Path) -> str:
    """Digest of a file, read in large chunks (hashlib releases the GIL on big updates)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class LayoutWriter:
    """Write an OCI layout: add blobs and images, then `close()` writes index.json."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self._manifests: list[dict[str, Any]] = []

    def _put_bytes(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        target = self.blobs / digest.removeprefix("sha256:")
        if not target.exists():
            target.write_bytes(data)
        return digest

    def _put_file(self, path: Path, digest: str) -> None:
        target = self.blobs / digest.removeprefix("sha256:")
        if target.exists():
            return
        try:
            os.link(path, target)  # the layer cache and the layout share one filesystem
        except OSError:
            shutil.copyfile(path, target)

    def add_image(
        self,
        tag: str,
        layers: list[Layer],
        *,
        cmd: list[str] | None = None,
        labels: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Add one linux/amd64 image under tag; return its manifest digest.

        `extra` adds or replaces keys of the image's run config (`Env`, `Entrypoint`,
        `ExposedPorts`, `StopSignal`...), in Docker's spelling.
        """
        run_config: dict[str, Any] = {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": cmd or ["bash"],
            "Labels": labels or {},
            **(extra or {}),
        }
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": CREATED,
            "config": run_config,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [{"created": CREATED, "created_by": layer.created_by} for layer in layers],
        }
        config_bytes = _canonical(config)
        config_digest = self._put_bytes(config_bytes)
        for layer in layers:
            self._put_file(layer.path, layer.digest)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {
                "mediaType": MEDIA_CONFIG,
                "digest": config_digest,
                "size": len(config_bytes),
            },
            "layers": [
                {"mediaType": MEDIA_LAYER_GZIP, "digest": layer.digest, "size": layer.size}
                for layer in layers
            ],
        }
        manifest_bytes = _canonical(manifest)
        manifest_digest = self._put_bytes(manifest_bytes)
        self._manifests.append(
            {
                "mediaType": MEDIA_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "annotations": {REF_NAME: tag},
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        )
        return manifest_digest

    def close(self) -> None:
        """Write index.json last, so a half-written layout has no index and is not used."""
        index = {"schemaVersion": 2, "manifests": self._manifests}
        (self.root / "index.json").write_bytes(_canonical(index))
