"""An image as Docker's API shows it: `GET /images/json`'s summary (what `images`
formats) and `GET /images/{name}/json` (inspect)."""

from __future__ import annotations

from typing import Any

from berth import humanize
from berth.image import ImageRecord
from berth.oci import ImageConfig
from berth.reference import parse

# The keys Docker always prints in an image's Config, with its defaults.
_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


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
        "Config": {**_CONFIG_DEFAULTS, **dict(config.config)},
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
