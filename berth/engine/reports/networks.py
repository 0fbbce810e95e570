"""Networks as Docker's API shows them: `GET /networks/{id}` (inspect, what `network ls`
formats too) and a container's NetworkSettings."""

import functools
import ipaddress
from typing import Any, NamedTuple

from berth.network.host import endpoint_id
from berth.network.records import Endpoint, NetworkRecord, PortMapping
from berth.network.setup import DEFAULT_NETWORK


class Sandbox(NamedTuple):
    """What a container's NetworkSettings are made of."""

    mode: str  # its network mode ("bridge", a network's name, "host", "none", "container:…")
    pseudo: NetworkRecord | None  # the host or none network, for those modes
    endpoints: list[tuple[NetworkRecord, Endpoint]]
    mappings: list[PortMapping]
    netns: str | None  # its namespace's path while it runs


@functools.lru_cache(maxsize=64)
def _prefix_length(subnet: str) -> int:
    """A subnet's prefix length; parsed once per subnet (the list shows one per container)."""
    return ipaddress.IPv4Network(subnet).prefixlen


def _endpoint(
    network: NetworkRecord, endpoint: Endpoint | None, container_id: str
) -> dict[str, Any]:
    active = endpoint is not None and bool(endpoint.address)
    prefix = _prefix_length(network.subnet) if network.subnet else 0
    requested = endpoint.requested if endpoint else None
    return {
        "IPAMConfig": {"IPv4Address": requested} if requested else None,
        "Links": None,
        "Aliases": (endpoint.aliases or None) if endpoint else None,
        "MacAddress": (endpoint.mac or "") if endpoint else "",
        "NetworkID": network.id,
        "EndpointID": endpoint_id(network.id, container_id) if active else "",
        "Gateway": (network.gateway or "") if active else "",
        "IPAddress": (endpoint.address or "") if endpoint else "",
        "IPPrefixLen": prefix if active else 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DriverOpts": None,
        "DNSNames": None,
    }


def networks(container_id: str, sandbox: Sandbox) -> dict[str, Any]:
    """NetworkSettings.Networks, which inspect and the list (`GET /containers/json`) both
    show: the host or none network for those modes, else each network joined, by name."""
    documents: dict[str, Any] = {}
    if sandbox.pseudo is not None:
        documents[sandbox.mode] = _endpoint(sandbox.pseudo, None, container_id)
    for network, endpoint in sandbox.endpoints:
        documents[network.name] = _endpoint(network, endpoint, container_id)
    return documents


def settings(container_id: str, exposed: dict[str, Any] | None, sandbox: Sandbox) -> dict[str, Any]:
    """A container's NetworkSettings, shaped as Docker's inspect shows them."""
    ports: dict[str, list[dict[str, str]] | None] = {key: None for key in exposed or {}}
    for m in sandbox.mappings:
        key = f"{m.container_port}/{m.protocol}"
        ports[key] = [*(ports.get(key) or []), {"HostIp": m.host_ip, "HostPort": str(m.host_port)}]
    attached = networks(container_id, sandbox)
    top = {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}
    if DEFAULT_NETWORK in attached:
        top = {k: attached[DEFAULT_NETWORK][k] for k in top}
    running = sandbox.netns is not None
    return {
        "Bridge": "",
        "SandboxID": endpoint_id("sandbox", container_id) if running else "",
        "SandboxKey": sandbox.netns or "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports if running else {},
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        **top,
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPv6Gateway": "",
        "Networks": attached,
    }


def inspect(
    network: NetworkRecord, attached: list[tuple[Endpoint, str]], device: str
) -> dict[str, Any]:
    """A network, shaped as Docker's `network inspect` shows it; `attached`: the endpoints in
    use, each with its container's name."""
    containers: dict[str, Any] = {}
    for endpoint, name in attached:
        prefix = _prefix_length(str(network.subnet))
        containers[endpoint.container_id] = {
            "Name": name,
            "EndpointID": endpoint_id(network.id, endpoint.container_id),
            "MacAddress": endpoint.mac or "",
            "IPv4Address": f"{endpoint.address}/{prefix}",
            "IPv6Address": "",
        }
    options = dict(network.options)
    if network.name == DEFAULT_NETWORK:
        options.setdefault("com.docker.network.bridge.name", device)
    return {
        "Name": network.name,
        "Id": network.id,
        "Created": network.created,
        "Scope": "local",
        "Driver": network.driver,
        "EnableIPv6": False,
        "IPAM": {
            "Driver": "default",
            "Options": None,
            "Config": [{"Subnet": network.subnet, "Gateway": network.gateway}]
            if network.subnet
            else [],
        },
        "Internal": network.internal,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": options,
        "Labels": network.labels,
    }
