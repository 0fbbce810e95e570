"""Host devices a container is given at start: HostConfig.Devices (`--device`), and with
`--privileged` every device node of the host's /dev, as dockerd gives them: the node's
type, numbers, mode and owner read from the host now (devices come and go), each as an OCI
linux.devices entry plus the rule that allows it in linux.resources.devices.

Enforcement: berth's runtime confines devices with nodev mounts, on cgroup v1 and v2 alike
(`berth.runtime.mounts.confines_devices`); a listed node is a mount of its own without
nodev, so it can be opened. It uses no devices cgroup (v1) and no BPF device program (v2),
so a CgroupPermissions narrower than `rwm` is recorded in the spec's rule (runc would
enforce it) but not enforced by berth's runtime: an allowed node can be read and written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from berth.errors import InvalidArgument

# Docker's HostDevices skips these under /dev: mounts of their own, and the console.
SKIPPED_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})
SKIPPED_NODES = frozenset({"/dev/console", "/dev/ptmx"})  # berth's /dev has its own


def _node(path: str, inside: str, permissions: str) -> dict[str, Any] | None:
    """The OCI device for the host node at `path` (not followed), or None if not a device."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISCHR(info.st_mode):
        kind = "c"
    elif stat.S_ISBLK(info.st_mode):
        kind = "b"
    else:
        return None
    return {
        "path": inside,
        "type": kind,
        "major": os.major(info.st_rdev),
        "minor": os.minor(info.st_rdev),
        "fileMode": stat.S_IMODE(info.st_mode),
        "uid": info.st_uid,
        "gid": info.st_gid,
        "access": permissions,  # taken out for the rule (not an OCI device field)
    }


def _walk(directory: str) -> Iterator[str]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not (root == "/dev" and d in SKIPPED_DIRS))
        for name in sorted(files):
            yield os.path.join(root, name)


def mapped(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One HostConfig.Devices entry as OCI devices: a node (a symlink to one is followed),
    or every node under a directory (`--device /dev/snd`), as dockerd's devicesFromPath."""
    host = str(entry["PathOnHost"])
    inside = str(entry.get("PathInContainer") or host)
    permissions = str(entry.get("CgroupPermissions") or "rwm")
    resolved = os.path.realpath(host) if os.path.islink(host) else host
    node = _node(resolved, inside, permissions)
    if node is not None:
        return [node]
    found = []
    if os.path.isdir(resolved):
        for path in _walk(resolved):
            child = _node(path, inside + path[len(resolved) :], permissions)
            if child is not None:
                found.append(child)
    if found:
        return found
    reason = "not a device node" if os.path.lexists(host) else "no such file or directory"
    raise InvalidArgument(
        f'error gathering device information while adding custom device "{host}": {reason}'
    )


def host_devices() -> list[dict[str, Any]]:
    """Every device node of the host's /dev, for a privileged container."""
    nodes = []
    for path in _walk("/dev"):
        if path not in SKIPPED_NODES:
            node = _node(path, path, "rwm")
            if node is not None:
                nodes.append(node)
    return nodes


def for_container(host_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The devices of a container about to start (each still carrying its `access`)."""
    devices = host_devices() if host_config.get("Privileged") else []
    seen = {d["path"] for d in devices}
    for entry in host_config.get("Devices") or []:
        for device in mapped(entry):
            if device["path"] in seen:  # --device over a privileged container's own node
                devices = [d for d in devices if d["path"] != device["path"]]
            seen.add(device["path"])
            devices.append(device)
    return devices


def spec_devices(devices: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """linux.devices: the entries without their rule's access."""
    return [{k: v for k, v in d.items() if k != "access"} for d in devices]


def allow_rules(devices: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The linux.resources.devices rules that let the container use each device."""
    return [
        {
            "allow": True,
            "type": d["type"],
            "major": d["major"],
            "minor": d["minor"],
            "access": d["access"],
        }
        for d in devices
    ]
