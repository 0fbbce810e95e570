"""A container's network at start when it is on bridge networks (the default one or
user-defined ones): the host ports it publishes, its endpoints brought up by the network
service, then what its legacy links give it (berth.container.links)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from berth.container import links

if TYPE_CHECKING:
    from berth.container.records import ContainerRecord
    from berth.container.services import Network
    from berth.network.setup import NetworkSetup


def setup(
    record: ContainerRecord, network: Network, mode: str, lookup: Callable[[str], ContainerRecord]
) -> NetworkSetup:
    from berth.network import ports

    wanted = ports.wanted(
        record.host_config.get("PortBindings"),
        record.config.get("ExposedPorts"),
        bool(record.host_config.get("PublishAllPorts")),
    )
    ready = network.setup(record.id, mode, wanted)
    return links.resolve(record, ready, lookup, network.address_on)
