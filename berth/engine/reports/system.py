"""Docker's `/version` and `/info` documents (what `docker version` and `docker info` show)."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any, NamedTuple

from berth import __version__

_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}


class Counts(NamedTuple):
    running: int
    paused: int
    stopped: int
    images: int


class Host(NamedTuple):
    """Facts of this host the documents name."""

    cgroup_version: int
    cpus: int
    memory: int
    operating_system: str
    os_version: str


def host(cgroup_version: int) -> Host:
    release = _os_release()
    return Host(
        cgroup_version,
        os.cpu_count() or 1,
        _memory_total(),
        release.get("PRETTY_NAME", "Linux"),
        release.get("VERSION_ID", ""),
    )


def version(api_version: str, min_api_version: str) -> dict[str, Any]:
    uname = os.uname()
    arch = _ARCHITECTURES.get(uname.machine, uname.machine)
    details = {
        "ApiVersion": api_version,
        "MinAPIVersion": min_api_version,
        "GitCommit": "",
        "GoVersion": f"python{platform.python_version()}",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": uname.release,
        "BuildTime": "",
    }
    return {
        "Platform": {"Name": f"berth {__version__}"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__,
        "Experimental": False,
        **details,
    }


def info(counts: Counts, facts: Host, root: str) -> dict[str, Any]:
    uname = os.uname()
    return {
        "ID": "",
        "Containers": counts.running + counts.paused + counts.stopped,
        "ContainersRunning": counts.running,
        "ContainersPaused": counts.paused,
        "ContainersStopped": counts.stopped,
        "Images": counts.images,
        "Driver": "overlay2",
        "DriverStatus": [],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "none"],
            "Authorization": None,
            "Log": ["json-file"],
        },
        "MemoryLimit": True,
        "SwapLimit": True,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "OomKillDisable": facts.cgroup_version == 1,
        "IPv4Forwarding": _read("/proc/sys/net/ipv4/ip_forward") == "1",
        # Read as they are: clients before API 1.48 warn when these are off.
        "BridgeNfIptables": _read("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1",
        "BridgeNfIp6tables": _read("/proc/sys/net/bridge/bridge-nf-call-ip6tables") == "1",
        "Debug": False,
        "NFd": _open_fds(),
        "NGoroutines": 0,
        "SystemTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": str(facts.cgroup_version or ""),
        "NEventsListener": 0,
        "KernelVersion": uname.release,
        "OperatingSystem": facts.operating_system,
        "OSVersion": facts.os_version,
        "OSType": "linux",
        "Architecture": uname.machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "IndexConfigs": {
                "docker.io": {
                    "Name": "docker.io",
                    "Mirrors": [],
                    "Secure": True,
                    "Official": True,
                }
            },
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "Mirrors": [],
        },
        "NCPU": facts.cpus,
        "MemTotal": facts.memory,
        "GenericResources": None,
        "DockerRootDir": root,
        "HttpProxy": os.environ.get("HTTP_PROXY", ""),
        "HttpsProxy": os.environ.get("HTTPS_PROXY", ""),
        "NoProxy": os.environ.get("NO_PROXY", ""),
        "Name": uname.nodename,
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {"runc": {"path": "berth"}},
        "DefaultRuntime": "runc",
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        # Daemonless: containers outlive the API server, as with dockerd's live-restore.
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": ""},
        "RuncCommit": {"ID": ""},
        "InitCommit": {"ID": ""},
        "SecurityOptions": ["name=seccomp,profile=builtin"]
        + (["name=cgroupns"] if facts.cgroup_version == 2 else []),
        "CDISpecDirs": [],
        "Warnings": None,
    }


def _os_release() -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        with open("/etc/os-release", encoding="utf-8", errors="replace") as release:
            for line in release:
                key, eq, value = line.strip().partition("=")
                if eq:
                    values[key] = value.strip().strip('"')
    except OSError:
        pass
    return values


def _memory_total() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as file:
            return file.read().strip()
    except OSError:
        return ""


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0
