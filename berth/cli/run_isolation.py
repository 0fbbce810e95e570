"""The `run`/`create` flags of namespaces, devices and kernel parameters: --ipc, --pid,
--uts, --userns, --cgroupns, --device, --sysctl, --shm-size, --group-add,
--memory-swappiness and --oom-kill-disable, parsed into the HostConfig keys Docker's CLI
sends, with its CLI's own checks and words; the engine checks the rest, as it checks an API
client's (berth.container.isolation). Kept apart from `run_options`, one screen of flags."""

from __future__ import annotations

import argparse
import posixpath
from typing import Any

from berth.errors import InvalidArgument

# The docker CLI's checks of the mode flags (the daemon allows no more).
MODES = {
    "pid": ("PID", ("", "host")),
    "uts": ("UTS", ("", "host")),
    "userns": ("USER", ("", "host")),
    "cgroupns": ("CGROUP", ("", "host", "private")),
}


def add_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--ipc", default="", help="IPC mode to use")
    add("--pid", default="", help="PID namespace to use")
    add("--uts", default="", help="UTS namespace to use")
    add("--userns", default="", help="User namespace to use")
    add("--cgroupns", default="", help='Cgroup namespace to use ("host" or "private")')
    add("--device", action="append", default=[], help="Add a host device to the container")
    add("--sysctl", action="append", default=[], help="Sysctl options")
    add("--shm-size", help="Size of /dev/shm")
    add("--group-add", action="append", default=[], help="Add additional groups to join")
    add(
        "--memory-swappiness",
        type=int,
        default=-1,
        help="Tune container memory swappiness (0 to 100)",
    )
    add("--oom-kill-disable", action="store_true", help="Disable OOM Killer")


def apply(args: argparse.Namespace, host_config: dict[str, Any]) -> None:
    """Put what these flags say into the HostConfig `run_options.build_documents` made."""
    from berth.cli.run_options import parse_size
    from berth.container.isolation import check_sysctl_name

    for flag, (word, allowed) in MODES.items():
        value = str(getattr(args, flag))
        if value not in allowed and not (flag == "pid" and _container_mode(value)):
            raise InvalidArgument(f"--{flag}: invalid {word} mode")
    sysctls = {}
    for item in args.sysctl:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(
                f'invalid argument "{item}" for "--sysctl" flag: sysctl \'{item}\' is not '
                "whitelisted"
            )
        try:
            check_sysctl_name(key, value)
        except InvalidArgument as error:
            raise InvalidArgument(
                f'invalid argument "{item}" for "--sysctl" flag: {error.message}'
            ) from None
        sysctls[key] = value
    swappiness = args.memory_swappiness
    if swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidArgument(
            f"invalid value: {swappiness}. Valid memory swappiness range is 0-100"
        )
    host_config.update(
        IpcMode=args.ipc,
        PidMode=args.pid,
        UTSMode=args.uts,
        UsernsMode=args.userns,
        CgroupnsMode=args.cgroupns,
        Devices=[device(text) for text in args.device],
        ShmSize=parse_size(args.shm_size, "--shm-size") if args.shm_size else 0,
        GroupAdd=list(args.group_add) or None,
        MemorySwappiness=None if swappiness == -1 else swappiness,
        OomKillDisable=args.oom_kill_disable,
    )
    if sysctls:
        host_config["Sysctls"] = sysctls
    if args.oom_kill_disable and not args.memory:
        import sys

        print(  # the docker CLI's warning, word for word
            "WARNING: Disabling the OOM killer on containers without setting a "
            "'-m/--memory' limit may be dangerous.",
            file=sys.stderr,
        )


def _container_mode(value: str) -> bool:
    return value.startswith("container:") and len(value) > len("container:")


def device(text: str) -> dict[str, str]:
    """`HOST[:CONTAINER][:PERMISSIONS]` as the docker CLI reads it (a second part made of
    r, w and m is the permissions)."""
    from berth.container.isolation import valid_permissions

    parts = text.split(":")
    if len(parts) > 3 or not parts[0]:
        raise InvalidArgument(f"bad format for path: {text}")
    host, inside, permissions = parts[0], "", "rwm"
    if len(parts) == 3:
        inside, permissions = parts[1], parts[2]
        if not valid_permissions(permissions):
            raise InvalidArgument(f"bad mode specified: {permissions}")
    elif len(parts) == 2:
        if valid_permissions(parts[1]):
            permissions = parts[1]
        else:
            inside = parts[1]
    inside = posixpath.normpath(inside) if inside else host
    if not inside.startswith("/"):
        raise InvalidArgument(f"{inside} is not an absolute path")
    return {"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": permissions}
