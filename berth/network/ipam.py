"""Address management: which subnet a new network gets, which address a container gets, and
the MAC address that goes with it. Pure functions over the `ipaddress` module.

Subnets come from Docker's default pools (172.17-31.0.0/16, then 192.168.0-240.0/20), skipping
any that overlap a route of the host or another network, so a berth network never hides a
network the host can already reach.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from collections.abc import Iterable, Iterator

from berth.errors import Conflict, InvalidArgument, SystemFailure

IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "/sbin/ip"
Network = ipaddress.IPv4Network


def default_pools() -> Iterator[Network]:
    for second in range(17, 32):
        yield ipaddress.IPv4Network(f"172.{second}.0.0/16")
    for third in range(0, 256, 16):
        yield ipaddress.IPv4Network(f"192.168.{third}.0/20")


def host_routes() -> list[Network]:
    """The IPv4 destinations the host routes somewhere (not the default route)."""
    try:
        result = subprocess.run(
            [IP, "-json", "-4", "route", "show", "table", "all"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise SystemFailure(f"cannot read the host's routes: {error}") from None
    found = []
    for route in json.loads(result.stdout or "[]"):
        destination = str(route.get("dst") or "")
        if destination in ("", "default") or route.get("type") in ("broadcast", "local"):
            continue
        try:
            found.append(ipaddress.IPv4Network(destination, strict=False))
        except ValueError:
            continue
    return found


def choose_subnet(taken: Iterable[Network]) -> Network:
    """The first pool subnet that overlaps nothing in `taken`."""
    used = list(taken)
    for candidate in default_pools():
        if not any(candidate.overlaps(other) for other in used):
            return candidate
    raise Conflict("could not find an available, non-overlapping IPv4 address pool")


def parse_subnet(text: str) -> Network:
    try:
        subnet = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid subnet {text}: an IPv4 CIDR is expected") from None
    if text.split("/", maxsplit=1)[0] != str(subnet.network_address):
        raise InvalidArgument(f"invalid subnet {text}: it should be {subnet}")
    if subnet.prefixlen > 30:
        raise InvalidArgument(f"invalid subnet {text}: it leaves no room for containers")
    return subnet


def gateway_for(subnet: Network, requested: str | None = None) -> str:
    """The bridge's own address: the one asked for, or the subnet's first host address."""
    if not requested:
        return str(next(subnet.hosts()))
    try:
        gateway = ipaddress.IPv4Address(requested)
    except ValueError:
        raise InvalidArgument(f"invalid gateway {requested}") from None
    if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgument(f"no matching subnet for gateway {requested}")
    return str(gateway)


def free_address(subnet: Network, gateway: str, used: Iterable[str]) -> str:
    """The lowest address of `subnet` that is neither the gateway nor in use."""
    taken = {ipaddress.IPv4Address(a) for a in used} | {ipaddress.IPv4Address(gateway)}
    for host in subnet.hosts():
        if host not in taken:
            return str(host)
    raise Conflict(f"no available IPv4 addresses on this network's address pool: {subnet}")


def mac_for(address: str) -> str:
    """Docker's scheme: 02:42 (locally administered) followed by the four address bytes, so
    the MAC is unique wherever the address is."""
    octets = ipaddress.IPv4Address(address).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in octets)
