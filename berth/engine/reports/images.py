"""An image as Docker's API shows it: `GET /images/json`'s summary (what `images`
formats), `GET /images/{name}/json` (inspect), its history, and what a registry says of it
(`GET /distribution/{name}/json`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from berth import humanize
from berth.engine.reports.config import CONFIG_DEFAULTS
from berth.image.records import ImageRecord
from berth.image.service import HistoryEntry
from berth.oci import ImageConfig, Platform
from berth.reference import parse


def familiar(name: str) -> str:
    return parse(name).familiar()


def summary(
    record: ImageRecord,
    labels: dict[str, str] | None,
    names: tuple[list[str], list[str]] | None = None,
    *,
    shared_size: int = -1,
    containers: int = -1,
) -> dict[str, Any]:
    """One entry of `GET /images/json`; `names`: the (tags, digests) to show, when a
    reference filter chose some (all of the image's otherwise)."""
    tags, digests = names if names is not None else (list(record.tags), list(record.digests))
    created = humanize.parse_time(record.created)
    return {
        "Id": record.id,
        "ParentId": "",
        "RepoTags": [familiar(name) for name in tags],
        "RepoDigests": [familiar(name) for name in digests],
        "Created": int(created.timestamp()) if created else 0,
        "Size": record.size,
        "SharedSize": shared_size,
        "VirtualSize": record.size,
        "Labels": labels or {},
        "Containers": containers,
    }


def inspect(record: ImageRecord, config: ImageConfig, layer_dirs: list[str]) -> dict[str, Any]:
    """`docker image inspect`'s document; `layer_dirs`: its layers' directories, top first."""
    graph: dict[str, str] = {}
    if layer_dirs:
        dirs = layer_dirs
        graph["UpperDir"] = dirs[0]
        if len(dirs) > 1:
            graph["LowerDir"] = ":".join(dirs[1:])
    document: dict[str, Any] = {
        "Id": record.id,
        "RepoTags": [familiar(name) for name in record.tags],
        "RepoDigests": [familiar(name) for name in record.digests],
        "Parent": "",
        "Comment": str(config.raw.get("comment") or ""),
        "Created": record.created or None,
        "DockerVersion": str(config.raw.get("docker_version") or ""),
        "Author": str(config.raw.get("author") or ""),
        "Config": {**CONFIG_DEFAULTS, **dict(config.config)},
        "Architecture": config.platform.architecture,
        "Os": config.platform.os,
        "Size": record.size,
        "GraphDriver": {"Data": graph or None, "Name": "overlay"},
        "RootFS": {"Type": "layers", "Layers": list(config.diff_ids)},
        "Metadata": {"LastTagTime": record.last_tagged or "0001-01-01T00:00:00Z"},
    }
    if config.platform.variant:
        document["Variant"] = config.platform.variant
    if config.raw.get("os.version"):
        document["OsVersion"] = config.raw["os.version"]
    return document


def history(entries: Sequence[HistoryEntry], tags: Sequence[str]) -> list[dict[str, Any]]:
    """`GET /images/{name}/history`: newest first; entries that are no image of their own
    (every one below the top, for a pulled image) have the id `<missing>` and no tags."""
    names = [familiar(name) for name in tags] or None
    documents = []
    for entry in entries:
        created = humanize.parse_time(entry.created)
        documents.append(
            {
                "Id": entry.image_id or "<missing>",
                "Created": int(created.timestamp()) if created else 0,
                "CreatedBy": entry.created_by,
                "Tags": names if entry.image_id else None,
                "Size": entry.size,
                "Comment": entry.comment,
            }
        )
    return documents


def distribution(
    media_type: str, digest: str, size: int, platforms: Sequence[Platform]
) -> dict[str, Any]:
    """`GET /distribution/{name}/json`: the descriptor of what the registry serves for a
    reference, and the platforms it offers (an index's entries, or one image's config)."""
    documents = []
    for platform in platforms:
        document = {"architecture": platform.architecture, "os": platform.os}
        if platform.variant:
            document["variant"] = platform.variant
        documents.append(document)
    return {
        "Descriptor": {"mediaType": media_type, "digest": digest, "size": size},
        "Platforms": documents,
    }
