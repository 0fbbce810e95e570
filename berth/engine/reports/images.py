"""Documents in the shapes Docker's clients expect (`docker image inspect` and friends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from berth.container import ContainerRecord
from berth.image import ImageRecord
from berth.layout import Layout
from berth.oci import ImageConfig
from berth.reference import parse
from berth.snapshot import LayerStore

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


def image_inspect(
    record: ImageRecord, config: ImageConfig, layout: Layout, layers: LayerStore
) -> dict[str, Any]:
    graph: dict[str, str] = {}
    if record.top_chain is not None:
        dirs = [str(layer.path) for layer in layers.chain_layers(record.top_chain)]
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


def _mount_document(mount: dict[str, Any], volumes: Path) -> dict[str, Any]:
    """One of inspect's Mounts, as Docker shows it: a volume by name and its data directory,
    a bind by its path, the -v mode as given."""
    kind = mount.get("Type")
    document: dict[str, Any] = {"Type": kind}
    if kind == "volume":
        name = str(mount.get("Source") or "")
        document.update(Name=name, Source=str(volumes / name / "_data"), Driver="local")
    else:
        document["Source"] = str(mount.get("Source") or "")
    document.update(
        Destination=mount.get("Target"),
        Mode=str(mount.get("Mode") or ""),
        RW=not mount.get("ReadOnly"),
        Propagation="rprivate" if kind == "bind" else "",
    )
    return document


def container_inspect(
    record: ContainerRecord, directory: Path, volumes: Path, network_settings: dict[str, Any]
) -> dict[str, Any]:
    """`docker container inspect`'s shape for one container (`volumes`: the volumes' root)."""
    state = dict(record.state)
    args = list(record.config.get("Entrypoint") or []) + list(record.config.get("Cmd") or [])
    mounts = [_mount_document(m, volumes) for m in record.host_config.get("Mounts") or []]
    state_document: dict[str, Any] = {
        "Status": state.get("Status", "created"),
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
        "LogPath": str(directory / f"{record.id}-json.log"),
        "Name": f"/{record.name}",
        "RestartCount": int(state.get("RestartCount") or 0),
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": record.host_config,
        "GraphDriver": {
            "Data": {
                "UpperDir": str(directory / "diff"),
                "WorkDir": str(directory / "work"),
                "MergedDir": str(directory / "rootfs"),
            },
            "Name": "overlay",
        },
        "Mounts": mounts,
        "Config": record.config,
        "NetworkSettings": network_settings,
    }
