"""A volume as Docker's API shows it (`GET /volumes/{name}`, each of `GET /volumes`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from berth.volume import VolumeRecord


def inspect(
    record: VolumeRecord, mountpoint: Path, usage: tuple[int, int] | None = None
) -> dict[str, Any]:
    """`usage`: (size, how many containers mount it), for `system df`'s UsageData."""
    document: dict[str, Any] = {
        "CreatedAt": record.created,
        "Driver": record.driver,
        "Labels": record.labels or None,  # Docker prints null for none
        "Mountpoint": str(mountpoint),
        "Name": record.name,
        "Options": record.options or None,
        "Scope": "local",
    }
    if usage is not None:
        document["UsageData"] = {"Size": usage[0], "RefCount": usage[1]}
    return document
