"""What a container shares with the host or another container, checked at create as dockerd
checks it, whoever sent the HostConfig (the CLI or an API client): the namespace modes
(IpcMode, PidMode, UTSMode, UsernsMode, CgroupnsMode), Devices, Sysctls, ShmSize, GroupAdd
and the v1 memory extras (MemorySwappiness, OomKillDisable).

`settle` also fills in dockerd's defaults, so `inspect` shows what the container gets:
IpcMode `private`, ShmSize 64 MiB, CgroupnsMode `host` on cgroup v1 (a v1 hierarchy has no
use for a cgroup namespace; systemd in a container expects the host's view) and `private`
on v2, OomKillDisable false; `container:NAME` becomes `container:<id>`, so a rename of the
other container keeps the two joined. A joined container is looked for at start
(`berth.container.namespaces`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from berth.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from berth.container.records import ContainerRecord

DEFAULT_SHM_SIZE = 64 * 1024 * 1024
IPC_MODES = ("none", "private", "shareable", "host")
# Docker's CLI lets only these through: the kernel keeps them per IPC or network namespace.
IPC_SYSCTLS = frozenset(
    {
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    }
)
DEVICE_PERMISSIONS = frozenset("rwm")

Lookup = Callable[[str], "ContainerRecord"]


def settle(config: dict[str, Any], host_config: dict[str, Any], lookup: Lookup | None) -> None:
    """Check these keys of `host_config` (in place: defaults filled, container names made
    ids); `lookup` finds a container by name or id (None: nothing to join is checked)."""
    _modes(config, host_config, lookup)
    shm_size = host_config.get("ShmSize") or 0
    if not isinstance(shm_size, int) or shm_size < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    host_config["ShmSize"] = shm_size or DEFAULT_SHM_SIZE
    check_sysctls(host_config)
    host_config["Devices"] = [device_mapping(d) for d in host_config.get("Devices") or []]
    for group in host_config.get("GroupAdd") or []:
        if not isinstance(group, str) or not group:
            raise InvalidArgument(f"invalid GroupAdd entry {group!r}: a group name or number")
    swappiness = host_config.get("MemorySwappiness")
    if swappiness == -1:
        swappiness = None  # the docker CLI's "unset"
    if swappiness is not None and not (isinstance(swappiness, int) and 0 <= swappiness <= 100):
        raise InvalidArgument(
            f"Invalid value: {swappiness}, valid memory swappiness range is 0-100"
        )
    host_config["MemorySwappiness"] = swappiness
    host_config["OomKillDisable"] = bool(host_config.get("OomKillDisable"))


def _modes(config: dict[str, Any], host_config: dict[str, Any], lookup: Lookup | None) -> None:
    ipc = str(host_config.get("IpcMode") or "private")
    if ipc not in IPC_MODES and not _joins(ipc):
        raise InvalidArgument(f"Invalid IPC mode: {ipc}")
    pid = str(host_config.get("PidMode") or "")
    if pid not in ("", "host") and not _joins(pid):
        raise InvalidArgument(f"invalid PID mode: {pid}")
    uts = str(host_config.get("UTSMode") or "")
    if uts not in ("", "host"):
        raise InvalidArgument(f"invalid UTS mode: {uts}")
    if uts == "host" and config.get("Hostname"):
        raise InvalidArgument("conflicting options: hostname and the UTS mode")
    userns = str(host_config.get("UsernsMode") or "")
    if userns not in ("", "host"):
        raise InvalidArgument(
            f"invalid user namespace mode: {userns}: berth runs containers in the host's "
            'user namespace only ("host", the default)'
        )
    cgroupns = str(host_config.get("CgroupnsMode") or _default_cgroupns())
    if cgroupns not in ("host", "private"):
        raise InvalidArgument(f"invalid cgroup namespace mode: {cgroupns}")
    if lookup is not None:
        ipc, pid = _resolved(ipc, lookup), _resolved(pid, lookup)
    host_config.update(
        IpcMode=ipc, PidMode=pid, UTSMode=uts, UsernsMode=userns, CgroupnsMode=cgroupns
    )


def _joins(mode: str) -> bool:
    return mode.startswith("container:") and len(mode) > len("container:")


def _resolved(mode: str, lookup: Lookup) -> str:
    """`container:NAME` as `container:<id>`. No such container is a bad request (400), as
    dockerd's: a 404 from create means "no such image" to the docker CLI, which would pull."""
    if not _joins(mode):
        return mode
    try:
        return f"container:{lookup(mode.partition(':')[2]).id}"
    except NotFound as error:
        raise InvalidArgument(error.message) from None


def _default_cgroupns() -> str:
    """dockerd's default: the host's cgroup namespace on v1 (and hybrid), a private one on v2."""
    from berth.cgroups import detect

    try:
        version = detect().version
    except OSError:
        version = 1
    return "private" if version == 2 else "host"


def check_sysctl_name(key: str, value: str) -> None:
    """Docker's list of namespaced kernel parameters (its CLI's words for the others)."""
    if key in IPC_SYSCTLS or key.startswith(("net.", "fs.mqueue.")):
        return
    raise InvalidArgument(f"sysctl '{key}={value}' is not whitelisted")


def check_sysctls(host_config: dict[str, Any]) -> None:
    """Each of Sysctls is namespaced, and the namespace it belongs to is the container's
    own (runc's checks: none of them may change the host's kernel)."""
    network = str(host_config.get("NetworkMode") or "")
    ipc = str(host_config.get("IpcMode") or "")
    for key, value in (host_config.get("Sysctls") or {}).items():
        check_sysctl_name(str(key), str(value))
        if key.startswith("net.") and network == "host":
            raise InvalidArgument(f'sysctl "{key}" not allowed in host network namespace')
        if (key in IPC_SYSCTLS or key.startswith("fs.mqueue.")) and ipc == "host":
            raise InvalidArgument(f'sysctl "{key}" is not allowed in the hosts ipc namespace')
        if "/" in key or ".." in key or not key.strip("."):
            raise InvalidArgument(f"invalid sysctl name {key!r}")


def device_mapping(entry: Any) -> dict[str, str]:
    """A HostConfig.Devices entry with Docker's defaults (the same path inside, `rwm`)."""
    if not isinstance(entry, dict):
        raise InvalidArgument("invalid Devices entry: expected an object")
    host = str(entry.get("PathOnHost") or "")
    inside = str(entry.get("PathInContainer") or host)
    permissions = str(entry.get("CgroupPermissions") or "rwm")
    if not host.startswith("/"):
        raise InvalidArgument(f"invalid device path on the host {host!r}: must be absolute")
    if not inside.startswith("/"):
        raise InvalidArgument(f"{inside} is not an absolute path")
    if not valid_permissions(permissions):
        raise InvalidArgument(f"bad mode specified: {permissions}")
    return {"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": permissions}


def valid_permissions(text: str) -> bool:
    """r, w and m, each at most once (Docker's validDeviceMode)."""
    return bool(text) and set(text) <= DEVICE_PERMISSIONS and len(set(text)) == len(text)
