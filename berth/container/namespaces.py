"""The namespaces a container gets at start, from its HostConfig modes (settled at create by
`berth.container.isolation`): its own, the host's, or another running container's, and its
/dev/shm to go with the IPC namespace.

`--ipc shareable` keeps /dev/shm on the host, as dockerd does: a tmpfs mounted in the
container's directory (`ContainerPaths.shm`), bound into the container and into every
container started with `--ipc container:<it>`, which also joins its IPC namespace. A mount
namespace can't lend one of its mounts to another one (a bind from /proc/PID/root fails
with EINVAL), so the shared tmpfs must live in the host's. The monitor unmounts it when the
container is done; `release` does too (a start that failed, a removal).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from berth.errors import BerthError, Conflict

if TYPE_CHECKING:
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord

HOST_SHM = "/dev/shm"
SHM_OPTIONS = ("nosuid", "noexec", "nodev", "mode=1777")


class Shared(NamedTuple):
    """What a start found: namespaces to join by path, and where /dev/shm comes from."""

    paths: Mapping[str, str]  # "ipc" / "pid" -> /proc/<pid>/ns/... of the joined container
    shm: str | None  # a host directory bound at /dev/shm; None: a tmpfs of its own (or none)


def prepare(
    record: ContainerRecord, paths: ContainerPaths, lookup: Callable[[str], ContainerRecord]
) -> Shared:
    """The joined containers' namespaces (each must be running) and the /dev/shm source;
    mounts the host-side tmpfs of a shareable IPC namespace."""
    host_config = record.host_config
    joined: dict[str, str] = {}
    shm: str | None = None
    ipc = str(host_config.get("IpcMode") or "private")
    if ipc == "host":
        shm = HOST_SHM
    elif ipc == "shareable":
        shm = str(_mount_shm(paths.shm(record.id), int(host_config.get("ShmSize") or 0)))
    elif ipc.startswith("container:"):
        other = _running(lookup, ipc, True)
        mode = str(other.host_config.get("IpcMode") or "")
        if mode == "host":
            shm = HOST_SHM  # the host's namespace, which this one has by not unsharing
        elif mode != "shareable":
            raise Conflict(
                f"can't join IPC of container {other.id}: non-shareable IPC (hint: use "
                "IpcMode:shareable for the donor container)"
            )
        else:
            joined["ipc"] = _namespace(other, "ipc")
            shm = str(paths.shm(other.id))
    pid = str(host_config.get("PidMode") or "")
    if pid.startswith("container:"):
        other = _running(lookup, pid, False)
        if str(other.host_config.get("PidMode") or "") != "host":
            joined["pid"] = _namespace(other, "pid")
    _check_sysctls(record, lookup, ipc_is_host=ipc.startswith("container:") and shm == HOST_SHM)
    return Shared(joined, shm)


def _check_sysctls(
    record: ContainerRecord, lookup: Callable[[str], ContainerRecord], *, ipc_is_host: bool
) -> None:
    """Sysctls never reach the host's kernel through a joined container that has the
    host's namespace (create checked `host` itself, `isolation.check_sysctls`)."""
    from berth.container.isolation import check_sysctls

    sysctls = record.host_config.get("Sysctls")
    if not sysctls:
        return
    network = str(record.host_config.get("NetworkMode") or "")
    if network.startswith("container:"):
        other = lookup(network.partition(":")[2])
        network = "host" if other.host_config.get("NetworkMode") == "host" else network
    ipc = "host" if ipc_is_host else ""
    check_sysctls({"Sysctls": sysctls, "NetworkMode": network, "IpcMode": ipc})


def _running(lookup: Callable[[str], ContainerRecord], mode: str, ipc: bool) -> ContainerRecord:
    from berth.container.state import Status

    other = lookup(mode.partition(":")[2])
    if other.status != Status.RUNNING or not other.state.get("Pid"):
        reason = f"container {other.id} is not running"  # dockerd's words, for each kind
        raise Conflict(f"can't join IPC of container {other.id}: {reason}" if ipc else reason)
    return other


def _namespace(other: ContainerRecord, kind: str) -> str:
    return f"/proc/{int(other.state['Pid'])}/ns/{kind}"


def _mount_shm(target: Path, size: int) -> Path:
    """The shareable /dev/shm on the host (kept across a restart of the container)."""
    from berth.sys import MS_NODEV, MS_NOEXEC, MS_NOSUID, mount

    if not os.path.ismount(target):
        target.mkdir(exist_ok=True)
        data = f"mode=1777,size={size}" if size else "mode=1777"
        mount("shm", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data)
    return target


def release(paths: ContainerPaths, container_id: str) -> None:
    """Unmount the shareable /dev/shm, if the container has one mounted."""
    from berth.sys import MNT_DETACH, umount

    target = paths.shm(container_id)
    if os.path.ismount(target):
        with contextlib.suppress(BerthError):
            umount(target, MNT_DETACH)


def spec_namespaces(
    host_config: Mapping[str, Any], netns: str | None, joined: Mapping[str, str]
) -> list[dict[str, str]]:
    """The OCI linux.namespaces: none for what is the host's, a path for what is joined.

    A HostConfig from before these modes existed gets what berth gave then (every
    namespace of its own)."""
    shared_with_host = {
        "pid": host_config.get("PidMode") == "host",
        "ipc": host_config.get("IpcMode") == "host"
        or (str(host_config.get("IpcMode") or "").startswith("container:") and "ipc" not in joined),
        "uts": host_config.get("UTSMode") == "host",
        "cgroup": host_config.get("CgroupnsMode") == "host",
    }
    if str(host_config.get("PidMode") or "").startswith("container:") and "pid" not in joined:
        shared_with_host["pid"] = True  # the joined container has the host's
    namespaces = [{"type": "mount"}]
    for kind in ("pid", "ipc", "uts", "cgroup"):
        if shared_with_host[kind]:
            continue
        namespaces.append({"type": kind, **({"path": joined[kind]} if kind in joined else {})})
    if netns != "host":
        namespaces.append({"type": "network", **({"path": netns} if netns else {})})
    return namespaces


def shm_mount(host_config: Mapping[str, Any], shm: str | None) -> dict[str, Any] | None:
    """The /dev/shm mount: the shared directory bound, a tmpfs of ShmSize bytes (Docker's
    64 MiB by default), or none at all for `--ipc none`."""
    if host_config.get("IpcMode") == "none":
        return None
    if shm is not None:
        return {
            "destination": "/dev/shm",
            "type": "bind",
            "source": shm,
            "options": ["rbind", "rprivate", "nosuid", "noexec", "nodev"],
        }
    size = int(host_config.get("ShmSize") or 0)
    return {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "shm",
        "options": [*SHM_OPTIONS, f"size={size}" if size else "size=65536k"],
    }
