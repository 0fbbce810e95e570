"""A container's Config and HostConfig as `docker inspect` shows them: every key dockerd
has, with dockerd's value for what the container was not given (compared with a dockerd
20.10's inspect), so a template on any documented field prints a value, never an error.

What berth keeps differently is shown in Docker's shape: `-v` binds (Mounts entries with
a Mode) as HostConfig.Binds, the rest as HostConfig.Mounts; mounts inherited with
--volumes-from only in the container's Mounts (as Docker's); links as `/NAME:/THIS/ALIAS`;
a restart policy of none as `no`.
"""

from typing import Any

from berth.container import ContainerRecord
from berth.container.references import INHERITED
from berth.container.spec import MASKED_PATHS, READONLY_PATHS
from berth.engine.reports.config import CONFIG_DEFAULTS as IMAGE_CONFIG_DEFAULTS

HOST_CONFIG_DEFAULTS: dict[str, Any] = {
    "Binds": None,
    "ContainerIDFile": "",
    "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "bridge",
    "PortBindings": {},
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "AutoRemove": False,
    "VolumeDriver": "",
    "VolumesFrom": None,
    "ConsoleSize": [0, 0],
    "CapAdd": None,
    "CapDrop": None,
    "CgroupnsMode": "host",
    "Dns": [],
    "DnsOptions": [],
    "DnsSearch": [],
    "ExtraHosts": None,
    "GroupAdd": None,
    "IpcMode": "private",
    "Cgroup": "",
    "Links": None,
    "OomScoreAdj": 0,
    "PidMode": "",
    "Privileged": False,
    "PublishAllPorts": False,
    "ReadonlyRootfs": False,
    "SecurityOpt": None,
    "UTSMode": "",
    "UsernsMode": "",
    "ShmSize": 64 * 1024 * 1024,
    "Runtime": "runc",
    "Isolation": "",
    "CpuShares": 0,
    "Memory": 0,
    "NanoCpus": 0,
    "CgroupParent": "",
    "BlkioWeight": 0,
    "BlkioWeightDevice": [],
    "BlkioDeviceReadBps": None,
    "BlkioDeviceWriteBps": None,
    "BlkioDeviceReadIOps": None,
    "BlkioDeviceWriteIOps": None,
    "CpuPeriod": 0,
    "CpuQuota": 0,
    "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0,
    "CpusetCpus": "",
    "CpusetMems": "",
    "Devices": [],
    "DeviceCgroupRules": None,
    "DeviceRequests": None,
    "KernelMemory": 0,
    "KernelMemoryTCP": 0,
    "MemoryReservation": 0,
    "MemorySwap": 0,
    "MemorySwappiness": None,
    "OomKillDisable": False,
    "PidsLimit": None,
    "Ulimits": None,
    "CpuCount": 0,
    "CpuPercent": 0,
    "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0,
    "MaskedPaths": None,  # Docker's lists unless privileged: filled in below
    "ReadonlyPaths": None,
}
# Keys dockerd leaves out when they are empty (`omitempty`).
OMITTED_WHEN_EMPTY = ("Mounts", "Tmpfs", "Init", "Sysctls", "StorageOpt", "Annotations")
# A container's Config has the image Config's keys; its Labels print as {} (an image's: null).
CONFIG_DEFAULTS: dict[str, Any] = {**IMAGE_CONFIG_DEFAULTS, "Labels": {}}
# A HostConfig.Mounts entry's keys, as Docker's Mount has them.
MOUNT_KEYS = (
    "Type",
    "Source",
    "Target",
    "ReadOnly",
    "Consistency",
    "BindOptions",
    "VolumeOptions",
    "TmpfsOptions",
)


def config(record: ContainerRecord) -> dict[str, Any]:
    stored = record.config
    document = {key: stored.get(key, value) for key, value in CONFIG_DEFAULTS.items()}
    return {**document, **stored}


def host_config(record: ContainerRecord) -> dict[str, Any]:
    stored = record.host_config
    document: dict[str, Any] = {}
    for key, default in HOST_CONFIG_DEFAULTS.items():
        value = stored.get(key)
        document[key] = default if value is None else value
    for key, value in stored.items():
        if key not in document and (value or key not in OMITTED_WHEN_EMPTY):
            document[key] = value
    policy = dict(document["RestartPolicy"])
    document["RestartPolicy"] = {**policy, "Name": policy.get("Name") or "no"}
    if not document["Privileged"]:
        document["MaskedPaths"] = stored.get("MaskedPaths") or list(MASKED_PATHS)
        document["ReadonlyPaths"] = stored.get("ReadonlyPaths") or list(READONLY_PATHS)
    own = [m for m in stored.get("Mounts") or [] if INHERITED not in m]
    binds = [_bind(m) for m in own if "Mode" in m]
    document["Binds"] = binds or None
    document.pop("Mounts", None)
    mounts = [
        {key: m[key] for key in MOUNT_KEYS if m.get(key) not in (None, "", False, {})}
        for m in own
        if "Mode" not in m
    ]
    if mounts:
        document["Mounts"] = mounts
    links = [str(link).partition(":")[::2] for link in stored.get("Links") or []]
    document["Links"] = [f"/{name}:/{record.name}/{alias}" for name, alias in links] or None
    return document


def _bind(entry: dict[str, Any]) -> str:
    """A `-v` entry as Docker's Binds shows it: SOURCE:TARGET[:MODE] (a volume's implied
    `z` mode left out, as it was never typed)."""
    text = f"{entry.get('Source')}:{entry.get('Target')}"
    mode = str(entry.get("Mode") or "")
    if entry.get("Type") == "volume" and mode == "z":
        mode = ""
    return f"{text}:{mode}" if mode else text
