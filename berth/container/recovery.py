"""A container's record beside its files: `containers/<id>/container.json` holds what its
row holds but its state (name, image, Config, HostConfig), rewritten when those change, so
`system check --repair` can rebuild the row from the store when the database is lost or
the row is damaged."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from berth.container.records import ContainerRecord
from berth.container.state import initial_state

RECORD_FILE = "container.json"


def save(directory: Path, record: ContainerRecord) -> None:
    """Write the record file atomically (a crash leaves the old one or the new one)."""
    document = {
        "Id": record.id,
        "Name": record.name,
        "Image": record.image_id,
        "ImageName": record.image_name,
        "Created": record.created,
        "Config": record.config,
        "HostConfig": record.host_config,
    }
    staged = directory / f".{RECORD_FILE}.{os.getpid()}"
    staged.write_text(json.dumps(document))
    os.replace(staged, directory / RECORD_FILE)


def load(directory: Path) -> ContainerRecord | None:
    """The record a container's directory holds (as a container never started: its state
    died with the row), or None when there is none or it is damaged."""
    try:
        document: Any = json.loads((directory / RECORD_FILE).read_text())
        record = ContainerRecord(
            id=str(document["Id"]),
            name=str(document["Name"]),
            image_id=str(document["Image"]),
            image_name=str(document["ImageName"]),
            created=str(document["Created"]),
            config=dict(document["Config"]),
            host_config=dict(document["HostConfig"]),
            state=initial_state(),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if record.id == directory.name else None
