"""What create decides before anything is written: Docker's merge of the run options with
the image's config, and the checks Docker makes at create (limits, the command)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.container.signals import signal_number
from berth.errors import InvalidArgument

if TYPE_CHECKING:
    from berth.container.isolation import Lookup

MIN_MEMORY = 6 * 1024 * 1024
RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
INT64_MAX = 2**63 - 1


def merge_image_config(config: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """Docker's merge at create: the image supplies what the run options leave unset."""
    from berth.container.spec import merge_env

    merged = dict(config)
    merged["Env"] = merge_env(image.get("Env") or [], config.get("Env") or [])
    if not config.get("Entrypoint") and config.get("Entrypoint") != []:
        merged["Entrypoint"] = image.get("Entrypoint")
        if not config.get("Cmd"):
            merged["Cmd"] = image.get("Cmd")
    for key in ("WorkingDir", "User", "StopSignal", "Shell"):
        if not merged.get(key) and image.get(key):
            merged[key] = image[key]
    for key in ("ExposedPorts", "Volumes", "Labels"):
        combined = {**(image.get(key) or {}), **(config.get(key) or {})}
        merged[key] = combined or None
    if image.get("Healthcheck"):  # Docker's merge: unset fields come from the image
        own = dict(config.get("Healthcheck") or {})
        merged["Healthcheck"] = {
            **image["Healthcheck"],
            **{k: v for k, v in own.items() if v not in (None, 0, [], "")},
        }
    return merged


def check(
    config: dict[str, Any], host_config: dict[str, Any], lookup: Lookup | None = None
) -> None:
    """What Docker refuses at create, whoever sent the request (the CLI or the API): bad
    limits, a stop signal the kernel lacks, relative paths, malformed extra hosts, rlimits
    above what this host can grant; namespaces, devices and sysctls are checked (and given
    dockerd's defaults, in place) by `isolation.settle`, with `lookup` finding the
    containers whose namespaces are joined."""
    from berth.container import isolation

    isolation.settle(config, host_config, lookup)
    from berth.container import log_config

    log_config.settle(host_config)
    _check_dns(host_config)
    _check_limits(host_config)
    _check_restart_policy(host_config)
    _check_mounts(host_config)
    _check_ports(config, host_config)
    from berth.container.spec import capability_name

    for name in [*(host_config.get("CapAdd") or []), *(host_config.get("CapDrop") or [])]:
        capability_name(str(name))
    stop_signal = config.get("StopSignal")
    if stop_signal:
        signal_number(str(stop_signal))
    workdir = str(config.get("WorkingDir") or "")
    if workdir and not workdir.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{workdir}' is invalid, it needs to be an absolute path"
        )
    for target in host_config.get("Tmpfs") or {}:
        if not str(target).startswith("/"):
            raise InvalidArgument(f"invalid tmpfs mount point {target!r}: must be absolute")
    for entry in host_config.get("ExtraHosts") or []:
        _check_extra_host(str(entry))
    for ulimit in host_config.get("Ulimits") or []:
        _check_ulimit(ulimit)


def _check_limits(host_config: dict[str, Any]) -> None:
    for key in ("Memory", "MemoryReservation", "MemorySwap", "NanoCpus", "CpuShares"):
        value = host_config.get(key) or 0
        if not isinstance(value, int) or value > INT64_MAX or value < (-1 if "Swap" in key else 0):
            raise InvalidArgument(f"invalid {key}: {value!r}")
    memory = int(host_config.get("Memory") or 0)
    if memory and memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    swap = int(host_config.get("MemorySwap") or 0)
    if memory and not swap:  # dockerd's default: as much swap as memory
        host_config["MemorySwap"] = swap = memory * 2
    if swap > 0 and memory and swap < memory:
        raise InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if swap and not memory:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    nano_cpus = int(host_config.get("NanoCpus") or 0)
    available = os.cpu_count() or 1
    if nano_cpus and not 10_000_000 <= nano_cpus <= available * 1_000_000_000:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {available}.00, as there are only {available} "
            "CPUs available"
        )


def _check_dns(host_config: dict[str, Any]) -> None:
    """Dns, DnsSearch and DnsOptions as resolv.conf can hold them (Docker's CLI checks):
    addresses, domain names (or `.`, no search at all), options without blanks."""
    import ipaddress
    import re

    for server in host_config.get("Dns") or []:
        try:
            ipaddress.ip_address(str(server))
        except ValueError:
            raise InvalidArgument(f"IP address is not correctly formatted: {server}") from None
    label = r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?"
    for domain in host_config.get("DnsSearch") or []:
        text = str(domain)
        valid = re.fullmatch(rf"{label}(\.{label})*\.?", text) and re.search("[a-zA-Z]", text)
        if text != "." and not (valid and len(text) < 255):
            raise InvalidArgument(f"{text} is not a valid domain")
    for option in host_config.get("DnsOptions") or []:
        if not str(option) or any(c.isspace() for c in str(option)):
            raise InvalidArgument(f"invalid DNS option: {option!r}")
    for key in ("Dns", "DnsSearch", "DnsOptions"):  # dockerd's: empty lists, never null
        host_config[key] = list(host_config.get(key) or [])


def _check_restart_policy(host_config: dict[str, Any]) -> None:
    """Docker's policy names; a retry count only for on-failure; none with AutoRemove."""
    policy = host_config.get("RestartPolicy") or {}
    name = str(policy.get("Name") or "")
    retries = policy.get("MaximumRetryCount") or 0
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'")
    if not isinstance(retries, int) or retries < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count can't be negative")
    if retries and name != "on-failure":
        raise InvalidArgument(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        )
    if name not in ("", "no") and host_config.get("AutoRemove"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")


def _check_mounts(host_config: dict[str, Any]) -> None:
    """Each HostConfig.Mounts entry as the start will read it: a known type, an absolute
    target, a bind's absolute source, a volume's valid name."""
    from berth.names import check_name

    for entry in host_config.get("Mounts") or []:
        kind = entry.get("Type")
        target = str(entry.get("Target") or "")
        source = str(entry.get("Source") or "")
        if kind not in ("bind", "volume", "tmpfs"):
            raise InvalidArgument(f"invalid mount config: mount type unknown: {kind!r}")
        if not target.startswith("/"):
            raise InvalidArgument(
                f"invalid mount config for type {kind!r}: the mount target {target!r} must be "
                "an absolute path"
            )
        if kind == "bind" and not source.startswith(("/", ".")):
            raise InvalidArgument(
                f'invalid mount config for type "bind": invalid mount path: {source!r} mount '
                "path must be absolute"
            )
        if kind == "volume" and source:
            check_name(source, "volume")
        if kind == "tmpfs" and source:
            raise InvalidArgument('invalid mount config for type "tmpfs": Source must not be set')


def _check_ports(config: dict[str, Any], host_config: dict[str, Any]) -> None:
    """Port keys, host ports and ranges as the start will bind them."""
    from berth.network.ports import port_key, wanted

    for key in config.get("ExposedPorts") or {}:
        port_key(str(key))
    wanted(
        host_config.get("PortBindings"),
        config.get("ExposedPorts"),
        bool(host_config.get("PublishAllPorts")),
    )


def _check_extra_host(entry: str) -> None:
    """Docker's `NAME:ADDRESS` (IPv6 addresses keep their colons; `host-gateway` too)."""
    import ipaddress

    name, colon, address = entry.partition(":")
    if colon and name and address == "host-gateway":
        return
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise InvalidArgument(f'bad format for add-host: "{entry}"') from None
    if not name:
        raise InvalidArgument(f'bad format for add-host: "{entry}"')


def _check_ulimit(ulimit: dict[str, Any]) -> None:
    """Soft at most hard, and hard at most what this host grants berth: root here may lack
    CAP_SYS_RESOURCE (no raising a hard limit), and nofile can't pass fs.nr_open."""
    import resource

    name = str(ulimit.get("Name") or "")
    soft, hard = int(ulimit.get("Soft") or 0), int(ulimit.get("Hard") or 0)
    if soft > hard:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {name}")
    number = getattr(resource, f"RLIMIT_{name.upper()}", None)
    if number is None:
        raise InvalidArgument(f"invalid ulimit argument: {name}")
    ceiling = resource.getrlimit(number)[1]
    if name == "nofile":
        try:
            nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            nr_open = ceiling
        ceiling = nr_open if ceiling == resource.RLIM_INFINITY else min(ceiling, nr_open)
    if ceiling != resource.RLIM_INFINITY and hard > ceiling:
        raise InvalidArgument(
            f"ulimit {name}={soft}:{hard} is above what this host allows ({ceiling})"
        )
