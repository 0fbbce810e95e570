"""The OCI runtime spec (config.json) for a container, built from its Docker-shaped Config and
HostConfig the way Docker builds it: default capabilities, mounts, masked and read-only paths,
namespaces, seccomp and rlimits. Pure code: the caller supplies what it read from disk.
"""

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from berth.container.user import User
from berth.errors import InvalidArgument
from berth.runtime.capabilities import ALL_CAPABILITIES, DOCKER_DEFAULT

OCI_VERSION = "1.0.2"

DEFAULT_CAPABILITIES = DOCKER_DEFAULT

MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_RLIMITS = {
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
    "as",
}


def capability_name(text: str) -> str:
    name = text.strip().upper()
    if name == "ALL":
        return name
    name = name if name.startswith("CAP_") else f"CAP_{name}"
    if name not in ALL_CAPABILITIES:
        raise InvalidArgument(f"invalid capability: {text}")
    return name


def capabilities(add: Sequence[str], drop: Sequence[str], privileged: bool) -> list[str]:
    """Docker's rule: start from the defaults (all with --privileged), drop, then add."""
    if privileged:
        return list(ALL_CAPABILITIES)
    added = [capability_name(c) for c in add]
    dropped = [capability_name(c) for c in drop]
    chosen = [] if "ALL" in dropped else [c for c in DEFAULT_CAPABILITIES if c not in dropped]
    if "ALL" in added:
        return list(ALL_CAPABILITIES)
    return chosen + [c for c in added if c not in chosen]


def parse_ulimit(text: str) -> dict[str, Any]:
    """`nofile=1024:2048` -> the OCI rlimit object."""
    name, eq, values = text.partition("=")
    soft_text, _, hard_text = values.partition(":")
    if not eq or name not in _RLIMITS or not soft_text:
        raise InvalidArgument(f"invalid ulimit argument: {text}")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        raise InvalidArgument(f"invalid ulimit argument: {text}") from None
    if soft > hard:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {text}")
    return {"type": f"RLIMIT_{name.upper()}", "soft": soft, "hard": hard}


def merge_env(*layers: Sequence[str]) -> list[str]:
    """Later KEY=VALUE entries replace earlier ones with the same key, keeping first order."""
    merged: dict[str, str] = {}
    for layer in layers:
        for item in layer:
            key = item.partition("=")[0]
            merged[key] = item
    return list(merged.values())


class SpecInputs(NamedTuple):
    """What the spec needs beyond the container's own Config and HostConfig."""

    rootfs: Path
    user: User
    etc_files: Mapping[str, Path]  # /etc/hostname, /etc/hosts, /etc/resolv.conf -> host file
    netns: str | None  # None: a new one; "host": the host's; else a path to join
    seccomp: Mapping[str, Any] | None
    binds: Sequence[Mapping[str, Any]] = ()  # extra OCI mounts (volumes, -v, --tmpfs)
    init_binary: Path | None = None  # --init: a static init (tini) to run as pid 1
    joined: Mapping[str, str] = {}  # namespace kind -> path (--ipc/--pid container:X)
    shm: str | None = None  # a host directory for /dev/shm (berth.container.namespaces)
    devices: Sequence[Mapping[str, Any]] = ()  # berth.container.devices.for_container


# /dev/shm when nothing else is asked for: a private tmpfs of Docker's default size.
SHM_DEFAULT = {
    "destination": "/dev/shm",
    "type": "tmpfs",
    "source": "shm",
    "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
}


def default_mounts(
    privileged: bool, shm: Mapping[str, Any] | None = SHM_DEFAULT
) -> list[dict[str, Any]]:
    """Docker's /proc, /dev, /sys, cgroups, mqueue; `shm` is the /dev/shm mount, if any."""
    sys_options = ["nosuid", "noexec", "nodev"] + ([] if privileged else ["ro"])
    mounts = [
        {
            "destination": "/proc",
            "type": "proc",
            "source": "proc",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["ro", "nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
    ]
    return mounts + ([dict(shm)] if shm is not None else [])


# Docker's default device rules: any node may be made (CAP_MKNOD), only these opened.
ALLOWED_DEVICES = (
    ("c", 1, 3),  # null
    ("c", 1, 5),  # zero
    ("c", 1, 7),  # full
    ("c", 1, 8),  # random
    ("c", 1, 9),  # urandom
    ("c", 5, 0),  # tty
    ("c", 5, 1),  # console
    ("c", 5, 2),  # ptmx
    ("c", 136, -1),  # the pts
)


def device_rules(
    privileged: bool, devices: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """The spec's linux.resources.devices: everything for --privileged, else Docker's list
    and a rule for each of `devices` (--device, berth.container.devices).

    runc enforces them with the devices cgroup (a BPF program on v2); berth's runtime with
    nodev mounts (`berth.runtime.mounts.confines_devices`).
    """
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    rules: list[dict[str, Any]] = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "access": "m"},
        {"allow": True, "type": "b", "access": "m"},
    ]
    for kind, major, minor in ALLOWED_DEVICES:
        rule: dict[str, Any] = {"allow": True, "type": kind, "major": major, "access": "rwm"}
        if minor >= 0:
            rule["minor"] = minor
        rules.append(rule)
    from berth.container.devices import allow_rules

    return rules + allow_rules(devices)


def process_args(config: Mapping[str, Any]) -> list[str]:
    args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not args:
        raise InvalidArgument("No command specified")
    return args


INIT_PATH = "/sbin/docker-init"  # where Docker mounts its init, so images expecting it work


def _with_init(args: list[str], host_config: Mapping[str, Any], inputs: SpecInputs) -> list[str]:
    """With --init, pid 1 is a small init that reaps zombies and forwards signals."""
    if not host_config.get("Init"):
        return args
    if inputs.init_binary is None:
        raise InvalidArgument("--init needs a static init binary (apt-get install tini)")
    return [INIT_PATH, "--", *args]


def build(
    config: Mapping[str, Any], host_config: Mapping[str, Any], inputs: SpecInputs
) -> dict[str, Any]:
    from berth.container import devices, namespaces

    privileged = bool(host_config.get("Privileged"))
    caps = capabilities(
        host_config.get("CapAdd") or [], host_config.get("CapDrop") or [], privileged
    )
    env = merge_env(
        [f"PATH={DEFAULT_PATH}"],
        [f"HOSTNAME={config.get('Hostname', '')}"],
        ["TERM=xterm"] if config.get("Tty") else [],
        config.get("Env") or [],
    )
    if not any(item.startswith("HOME=") for item in env):
        env.append(f"HOME={inputs.user.home}")
    security = [str(o) for o in host_config.get("SecurityOpt") or []]
    process: dict[str, Any] = {
        "terminal": bool(config.get("Tty")),
        "user": {
            "uid": inputs.user.uid,
            "gid": inputs.user.gid,
            "additionalGids": list(inputs.user.additional_gids),
        },
        "args": _with_init(process_args(config), host_config, inputs),
        "env": env,
        "cwd": config.get("WorkingDir") or "/",
        "capabilities": {
            "bounding": caps,
            "effective": caps,
            "permitted": caps,
            "inheritable": [],
            "ambient": [],
        },
        "rlimits": [
            parse_ulimit(f"{u['Name']}={u['Soft']}:{u['Hard']}")
            for u in host_config.get("Ulimits") or []
        ],
        "noNewPrivileges": any(
            re.fullmatch(r"no-new-privileges(:true|=true)?", o) for o in security
        ),
    }
    mounts = default_mounts(privileged, namespaces.shm_mount(host_config, inputs.shm))
    etc_options = ["rbind", "rprivate", *(["ro"] if host_config.get("ReadonlyRootfs") else [])]
    for destination, source in inputs.etc_files.items():
        mounts.append(
            {
                "destination": destination,
                "type": "bind",
                "source": str(source),
                "options": list(etc_options),  # read-only with the rootfs, as Docker's
            }
        )
    mounts += [dict(m) for m in inputs.binds]
    if host_config.get("Init") and inputs.init_binary is not None:
        mounts.append(
            {
                "destination": INIT_PATH,
                "type": "bind",
                "source": str(inputs.init_binary),
                "options": ["bind", "ro"],
            }
        )
    linux: dict[str, Any] = {
        "namespaces": namespaces.spec_namespaces(host_config, inputs.netns, inputs.joined)
    }
    linux["resources"] = {"devices": device_rules(privileged, inputs.devices)}
    if inputs.devices:
        linux["devices"] = devices.spec_devices(inputs.devices)
    if host_config.get("Sysctls"):
        linux["sysctl"] = {str(k): str(v) for k, v in host_config["Sysctls"].items()}
    if not privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    if inputs.seccomp is not None:
        linux["seccomp"] = dict(inputs.seccomp)
    return {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": str(inputs.rootfs), "readonly": bool(host_config.get("ReadonlyRootfs"))},
        # The host's UTS namespace keeps the host's name (runc refuses a hostname there).
        "hostname": "" if host_config.get("UTSMode") == "host" else config.get("Hostname", ""),
        "mounts": mounts,
        "linux": linux,
    }
