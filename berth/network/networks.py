"""Docker's networks: the predefined bridge, host and none, and user-defined bridges —
created with a subnet from Docker's pools that overlaps none of the host's routes, removed
when no running container has an endpoint on them."""

from __future__ import annotations

import ipaddress
import os

from berth.db import now
from berth.errors import Conflict, InvalidArgument, PermissionDenied
from berth.events import Journal
from berth.names import check_name
from berth.network.host import HostNetwork
from berth.network.records import PREDEFINED, NetworkRecord, NetworkStore

_DEFAULT = "bridge"


class Networks:
    def __init__(self, host: HostNetwork, records: NetworkStore, journal: Journal) -> None:
        self.host = host
        self.records = records
        self.journal = journal

    def ensure_predefined(self) -> None:
        """bridge, host and none exist from a store's first use of networks on."""
        if self.records.named(_DEFAULT):
            return
        from berth.network import ipam

        with self.host.locked():
            if self.records.named(_DEFAULT):
                return
            subnet = ipam.choose_subnet(self._taken_subnets())
            for name, driver in PREDEFINED.items():
                bridge = driver == "bridge"
                self.records.add(
                    NetworkRecord(
                        id=os.urandom(32).hex(),
                        name=name,
                        driver=driver,
                        subnet=str(subnet) if bridge else None,
                        gateway=ipam.gateway_for(subnet) if bridge else None,
                        internal=False,
                        labels={},
                        options={},
                        created=now(),
                    )
                )

    def _taken_subnets(self) -> list[ipaddress.IPv4Network]:
        from berth.network import ipam

        own = [ipaddress.IPv4Network(n.subnet) for n in self.records.all() if n.subnet]
        return own + ipam.host_routes()

    def all(self) -> list[NetworkRecord]:
        self.ensure_predefined()
        return self.records.all()

    def lookup(self, text: str) -> NetworkRecord:
        self.ensure_predefined()
        return self.records.lookup(text)

    def create(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> NetworkRecord:
        from berth.network import ipam

        if driver != "bridge":
            raise InvalidArgument(f"plugin {driver!r} not found: berth has the bridge driver")
        if name in PREDEFINED:
            raise PermissionDenied(f"{name} is a pre-defined network and cannot be created")
        check_name(name, "network")
        self.ensure_predefined()
        with self.host.locked():
            if subnet:
                chosen = ipam.parse_subnet(subnet)
                for other in self.records.all():
                    if other.subnet and chosen.overlaps(ipaddress.IPv4Network(other.subnet)):
                        raise Conflict(
                            f"invalid pool request: Pool overlaps with other one on this "
                            f"address space ({other.subnet} of network {other.name})"
                        )
            elif gateway:
                raise InvalidArgument("a --gateway needs a --subnet")
            else:
                chosen = ipam.choose_subnet(self._taken_subnets())
            record = NetworkRecord(
                id=os.urandom(32).hex(),
                name=name,
                driver=driver,
                subnet=str(chosen),
                gateway=ipam.gateway_for(chosen, gateway),
                internal=internal,
                labels=dict(labels or {}),
                options=dict(options or {}),
                created=now(),
                configured=bool(subnet),
            )
            self.records.add(record)
        self.announce("create", record)
        return record

    def announce(self, action: str, network: NetworkRecord, container_id: str = "") -> None:
        """A network event: create, destroy, connect and disconnect (with the container)."""
        attributes = {"name": network.name, "type": network.driver}
        if container_id:
            attributes["container"] = container_id
        self.journal.record("network", action, network.id, attributes)

    def remove(self, network: NetworkRecord) -> None:
        if network.predefined:
            raise PermissionDenied(f"{network.name} is a pre-defined network and cannot be removed")
        with self.host.locked():
            self.host.reconcile()
            active = [e for e in self.records.endpoints(network_id=network.id) if e.address]
            if active:
                raise Conflict(
                    f"error while removing network: network {network.name} id {network.id} "
                    "has active endpoints"
                )
            self.records.delete(network.id)
            self.host.sync()
        self.announce("destroy", network)

    def unused(self) -> list[NetworkRecord]:
        """User-defined networks no container is attached to."""
        return [
            n
            for n in self.all()
            if not n.predefined and not self.records.endpoints(network_id=n.id)
        ]
