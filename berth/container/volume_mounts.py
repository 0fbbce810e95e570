"""A container's volumes, as its HostConfig.Mounts names them: made at create (named ones
that don't exist yet, anonymous ones for `-v /path` and the image's VOLUMEs), filled from
the image on first use, removed with the container when anonymous (`rm -v`, `--rm`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from berth.volume import VolumeRecord


class VolumeService(Protocol):
    """What the container lifecycle uses of the volume service."""

    def create(self, name: str | None = None) -> VolumeRecord: ...

    def create_anonymous(self) -> VolumeRecord: ...

    def remove_if_anonymous(self, name: str) -> None: ...

    def fill(self, name: str, source: str) -> None: ...

    def data(self, name: str) -> Path: ...


def volume_names(host_config: Mapping[str, Any]) -> list[str]:
    """The named volumes a container's HostConfig mounts."""
    return [
        str(m.get("Source"))
        for m in host_config.get("Mounts") or []
        if m.get("Type") == "volume" and m.get("Source")
    ]


def mount_events(
    host_config: Mapping[str, Any], container_id: str
) -> list[tuple[str, dict[str, str]]]:
    """A volume `mount` event's (name, attributes) for each named volume a starting
    container mounts, as dockerd journals them."""
    return [
        (
            str(m["Source"]),
            {
                "container": container_id,
                "destination": str(m.get("Target") or ""),
                "driver": "local",
                "propagation": "",
                "read/write": "false" if m.get("ReadOnly") else "true",
            },
        )
        for m in host_config.get("Mounts") or []
        if m.get("Type") == "volume" and m.get("Source")
    ]


def register(
    volumes: VolumeService, host_config: dict[str, Any], image_volumes: Iterable[str] = ()
) -> list[str]:
    """Create every named volume a new container mounts that does not exist yet, and an
    anonymous one (a random name, Docker's anonymous label) for each `-v /path` and each of
    the image's VOLUMEs nothing else is mounted on; their names are written into
    `host_config`. Returns the anonymous ones."""
    mounts = list(host_config.get("Mounts") or [])
    taken = {str(m.get("Target")) for m in mounts}
    mounts += [
        {"Type": "volume", "Source": "", "Target": path, "ReadOnly": False}
        for path in image_volumes
        if path not in taken
    ]
    anonymous = []
    for entry in mounts:
        if entry.get("Type") == "volume" and not entry.get("Source"):
            entry["Source"] = volumes.create_anonymous().name
            anonymous.append(entry["Source"])
    if mounts:
        host_config["Mounts"] = mounts
    for name in volume_names(host_config):
        volumes.create(name)
    return anonymous


def remove_anonymous(volumes: VolumeService, host_config: Mapping[str, Any]) -> None:
    """The container's anonymous volumes that no other container uses; named ones stay."""
    for name in volume_names(host_config):
        volumes.remove_if_anonymous(name)


def copy_up(volumes: VolumeService, host_config: Mapping[str, Any], rootfs: Path) -> None:
    """Fill each empty volume from the image's directory at its mount path, unless the mount
    says nocopy (Docker's). Runs in the host's namespace before the container starts, on its
    mounted rootfs; the path is resolved inside the rootfs, never through a link out."""
    from berth.sys.rootpath import resolve_in_root

    for entry in host_config.get("Mounts") or []:
        if entry.get("Type") != "volume" or not entry.get("Source"):
            continue
        if (entry.get("VolumeOptions") or {}).get("NoCopy"):
            continue
        name = str(entry["Source"])
        volumes.data(name).mkdir(parents=True, exist_ok=True)
        source = resolve_in_root(str(rootfs), str(entry["Target"]))
        if os.path.isdir(source) and not os.path.islink(source):
            volumes.fill(name, source)
