"""A container as Docker's API shows it: `GET /containers/json`'s summary (what `ps`
formats) and `GET /containers/{id}/json` (inspect)."""

from pathlib import Path
from typing import Any, NamedTuple

from berth import humanize
from berth.container import ContainerRecord
from berth.container.state import Status
from berth.container.summary import command, ports, status_text
from berth.network.records import PortMapping


class Storage(NamedTuple):
    """Where a container's filesystem lives: its directory, its snapshot's upper and work
    directories (None when it has no snapshot), the volumes' root, and the image's layer
    directories under the upper (topmost first)."""

    directory: Path
    upper: Path | None
    work: Path | None
    volumes: Path
    lowers: tuple[str, ...] = ()


def _words(config: dict[str, Any]) -> list[str]:
    return list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])


def mount(entry: dict[str, Any], volumes: Path) -> dict[str, Any]:
    """One of the Mounts, as Docker shows it: a volume by name and its data directory, a
    bind by its path, the -v mode as given."""
    kind = entry.get("Type")
    document: dict[str, Any] = {"Type": kind}
    if kind == "volume":
        name = str(entry.get("Source") or "")
        document.update(Name=name, Source=str(volumes / name / "_data"), Driver="local")
    else:
        document["Source"] = str(entry.get("Source") or "")
    document.update(
        Destination=entry.get("Target"),
        Mode=str(entry.get("Mode") or ""),
        RW=not entry.get("ReadOnly"),
        Propagation="rprivate" if kind == "bind" else "",
    )
    return document


def summary(
    record: ContainerRecord,
    mappings: list[PortMapping],
    volumes: Path,
    now: float,
    sizes: tuple[int, int] | None = None,  # (written, the image's) when asked for
    networks: dict[str, Any] | None = None,  # NetworkSettings.Networks, when asked for
) -> dict[str, Any]:
    """One entry of `GET /containers/json`. Its networks are what clients read a container's
    address and gateway from without an inspect (testcontainers, `docker ps`'s Networks)."""
    active = record.status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)
    created = humanize.parse_time(record.created)
    document: dict[str, Any] = {
        "Id": record.id,
        "Names": [f"/{record.name}"],
        "Image": record.image_name,
        "ImageID": record.image_id,
        "Command": command(_words(record.config)),
        "Created": int(created.timestamp()) if created else 0,
        "Ports": ports(record.config.get("ExposedPorts") or {}, mappings) if active else [],
        "Labels": dict(record.config.get("Labels") or {}),
        "State": str(record.status),
        "Status": status_text(record.state, now),
        "HostConfig": {"NetworkMode": str(record.host_config.get("NetworkMode") or "")},
        "Mounts": [mount(m, volumes) for m in record.host_config.get("Mounts") or []],
    }
    if networks is not None:
        document["NetworkSettings"] = {"Networks": networks}
    if sizes is not None:
        document["SizeRw"] = sizes[0]
        document["SizeRootFs"] = sizes[0] + sizes[1]
    return document


def inspect(
    record: ContainerRecord, storage: Storage, network_settings: dict[str, Any]
) -> dict[str, Any]:
    """`docker container inspect`'s document."""
    from berth.container.log_config import DEFAULT_DRIVER
    from berth.engine.reports import host_config

    state = dict(record.state)
    args = _words(record.config)
    directory = storage.directory
    state_document: dict[str, Any] = {
        "Status": str(state.get("Status", Status.CREATED)),
        "Running": bool(state.get("Running")),
        "Paused": bool(state.get("Paused")),
        "Restarting": bool(state.get("Restarting")),
        "OOMKilled": bool(state.get("OOMKilled")),
        "Dead": bool(state.get("Dead")),
        "Pid": int(state.get("Pid") or 0),
        "ExitCode": int(state.get("ExitCode") or 0),
        "Error": str(state.get("Error") or ""),
        "StartedAt": state.get("StartedAt"),
        "FinishedAt": state.get("FinishedAt"),
    }
    if state.get("Health"):  # as Docker: only once a container with a probe has started
        state_document["Health"] = state["Health"]
    if state.get("LogRecordsDropped"):  # berth's: log records a full disk cost
        state_document["LogRecordsDropped"] = state["LogRecordsDropped"]
    return {
        "Id": record.id,
        "Created": record.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": state_document,
        "Image": record.image_id,
        "ResolvConfPath": str(directory / "resolv.conf"),
        "HostnamePath": str(directory / "hostname"),
        "HostsPath": str(directory / "hosts"),
        # Docker names the file of its json-file driver only (berth keeps `local`'s as one).
        "LogPath": str(directory / f"{record.id}-json.log")
        if (record.host_config.get("LogConfig") or {}).get("Type", DEFAULT_DRIVER) == DEFAULT_DRIVER
        else "",
        "Name": f"/{record.name}",
        "RestartCount": int(state.get("RestartCount") or 0),
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config.host_config(record),
        "GraphDriver": {
            "Data": {
                "LowerDir": ":".join(storage.lowers),
                "MergedDir": str(directory / "rootfs"),
                "UpperDir": str(storage.upper or ""),
                "WorkDir": str(storage.work or ""),
            },
            "Name": "overlay2",  # overlay with a directory per layer, as Docker's overlay2
        },
        "Mounts": [mount(m, storage.volumes) for m in record.host_config.get("Mounts") or []],
        "Config": host_config.config(record),
        "NetworkSettings": network_settings,
    }
