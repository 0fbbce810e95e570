"""Docker's legacy links at start (`--link NAME:ALIAS`, stored as HostConfig.Links
`NAME:ALIAS`). On the default bridge each linked container must be running there: the
linking one gets an /etc/hosts line for it (`ADDRESS\tALIAS HOSTNAME NAME`) and the
environment Docker derives from it (`ALIAS_PORT_80_TCP_ADDR=…`, `ALIAS_ENV_…`,
`ALIAS_NAME=/linking/alias`). On a user-defined network a link is an alias the linking
container's resolver answers with the linked container's address there (Docker's endpoint
links); nothing else.

Light: lifecycle imports it, and `ps` imports lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from berth.container.state import Status
from berth.errors import Conflict
from berth.network.setup import DEFAULT_NETWORK, Links, NetworkSetup, network_mode

if TYPE_CHECKING:
    from berth.container.records import ContainerRecord


def resolve(
    record: ContainerRecord,
    setup: NetworkSetup,
    lookup: Callable[[str], ContainerRecord],
    address_on: Callable[[str, str], str | None],
) -> NetworkSetup:
    """`setup` with what the container's links give it; `address_on(id, network)` is a
    running container's address on a network."""
    wanted = [str(link).partition(":")[::2] for link in record.host_config.get("Links") or []]
    if not wanted:
        return setup
    if network_mode(record.host_config) != DEFAULT_NETWORK:
        return setup._replace(links=Links(aliases={alias: name for name, alias in wanted}))
    hosts, env = [], []
    for name, alias in wanted:
        child = lookup(name)
        if child.status != Status.RUNNING:
            raise Conflict(
                f"Cannot link to a non running container: /{child.name} AS /{record.name}/{alias}"
            )
        address = address_on(child.id, DEFAULT_NETWORK)
        if not address:
            raise Conflict(
                f"Cannot link to /{child.name}, as it does not belong to the default network"
            )
        hostname = str(child.config.get("Hostname") or child.id[:12])
        names = f"{alias} {hostname}" + ("" if alias == child.name else f" {child.name}")
        hosts.append((address, names))
        env += environment(f"/{record.name}/{alias}", address, child.config)
    return setup._replace(links=Links(hosts=tuple(hosts), env=tuple(env)))


def environment(link_name: str, address: str, child: Mapping[str, Any]) -> list[str]:
    """Docker's link variables (moby daemon/links): the first port (tcp before others, by
    number) as ALIAS_PORT; each port's URL, address, number and protocol; a run of
    consecutive ports also as _START/_END; the link's name; the linked container's own
    environment as ALIAS_ENV_* (but HOME and PATH)."""
    alias = link_name.rsplit("/", 1)[-1].upper().replace("-", "_")
    ports = sorted(
        (_port(key) for key in child.get("ExposedPorts") or {}),
        key=lambda p: (p[1] != "tcp", p[1], p[0]),
    )
    env: list[str] = []
    start = end = ports[0] if ports else (0, "")
    for index, (number, protocol) in enumerate(ports):
        if index == 0:
            env.append(f"{alias}_PORT={protocol}://{address}:{number}")
        prefix = f"{alias}_PORT_{number}_{protocol.upper()}"
        env += [
            f"{prefix}={protocol}://{address}:{number}",
            f"{prefix}_ADDR={address}",
            f"{prefix}_PORT={number}",
            f"{prefix}_PROTO={protocol}",
        ]
        if number == end[0] + 1 and protocol == end[1]:
            end = (number, protocol)
            if index < len(ports) - 1:
                continue
        if end != start:
            first = f"{alias}_PORT_{start[0]}_{start[1].upper()}"
            env += [
                f"{first}_START={start[1]}://{address}:{start[0]}",
                f"{first}_PORT_START={start[0]}",
                f"{first}_END={end[1]}://{address}:{end[0]}",
                f"{first}_PORT_END={end[0]}",
            ]
        start = end = (number, protocol)
    env.append(f"{alias}_NAME={link_name}")
    for item in child.get("Env") or []:
        key, eq, value = str(item).partition("=")
        if eq and key not in ("HOME", "PATH"):
            env.append(f"{alias}_ENV_{key}={value}")
    return env


def _port(key: str) -> tuple[int, str]:
    number, _, protocol = str(key).partition("/")
    return int(number), protocol or "tcp"
