"""The networks facade: what the CLI's network commands and the API's /networks routes
call — Docker's list filters and documents over berth.network, and a container's
NetworkSettings for inspect."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from berth import humanize
from berth.engine.reports import networks as report
from berth.errors import InvalidArgument, NotFound
from berth.network.records import NetworkRecord
from berth.network.setup import network_mode

if TYPE_CHECKING:
    from berth.container.records import ContainerRecord, ContainerStore
    from berth.filters import Filters
    from berth.network.host import HostNetwork
    from berth.network.networks import Networks as NetworkService
    from berth.network.records import NetworkStore

LIST_FILTERS = ("name", "id", "driver", "label", "type", "dangling", "scope")
PRUNE_FILTERS = ("until", "label", "label!")


class Networks:
    def __init__(
        self,
        service: NetworkService,
        records: NetworkStore,
        host: HostNetwork,
        containers: ContainerStore,
    ) -> None:
        self.service = service
        self.records = records
        self.host = host
        self.containers = containers

    def lookup(self, text: str) -> NetworkRecord:
        return self.service.lookup(text)

    def create(self, name: str, **options: Any) -> NetworkRecord:
        return self.service.create(name, **options)

    def remove(self, network: NetworkRecord) -> None:
        self.service.remove(network)

    def matching(self, filters: Filters) -> list[NetworkRecord]:
        filters.only(LIST_FILTERS)
        for value in filters.get("type"):
            if value not in ("custom", "builtin"):
                raise InvalidArgument(f"invalid filter: 'type'='{value}'")
        records = self.service.all()
        unused = {n.id for n in self.service.unused()} if "dangling" in filters else set()
        dangling = filters.boolean("dangling")

        def selected(record: NetworkRecord) -> bool:
            kind = "builtin" if record.predefined else "custom"
            return (
                filters.match("name", record.name)
                and filters.any("id", record.id.startswith)
                and filters.any("driver", lambda v: record.driver == v)
                and filters.any("type", lambda v: kind == v)
                and filters.any("scope", lambda v: v == "local")
                and filters.labels(record.labels)
                and (dangling is None or (record.id in unused) == dangling)
            )

        return [r for r in records if selected(r)]

    def prune(self, filters: Filters) -> list[str]:
        """Remove the user-defined networks no container is attached to (their names are
        returned), and take down the default bridge if no container uses it."""
        filters.only(PRUNE_FILTERS)
        until = filters.time("until")
        removed = []
        for network in self.service.unused():
            if not filters.labels(network.labels):
                continue
            if until is not None and humanize.timestamp(network.created) >= until:
                continue
            self.service.remove(network)
            removed.append(network.name)
        with self.host.locked():  # the kept default bridge goes too, if nothing uses it
            self.host.sync(drop_idle_default=True)
        return removed

    def inspect(self, network: NetworkRecord, *, containers: bool = True) -> dict[str, Any]:
        """Docker's document; without `containers`, its Containers map is left empty (as in
        the API's list since 1.28), which spares a query per network."""
        attached = []
        for endpoint in self.records.endpoints(network_id=network.id) if containers else ():
            if not endpoint.address:
                continue
            try:
                name = self.containers.get(endpoint.container_id).name
            except NotFound:
                continue
            attached.append((endpoint, name))
        return report.inspect(network, attached, self.host.device(network))

    def settings(self, record: ContainerRecord) -> dict[str, Any]:
        """A container's NetworkSettings (inspect)."""
        mode = network_mode(record.host_config)
        pseudo = self.service.lookup(mode) if mode in ("host", "none") else None
        endpoints = []
        for endpoint in self.records.endpoints(container_id=record.id):
            try:
                endpoints.append((self.records.get(endpoint.network_id), endpoint))
            except NotFound:
                continue
        netns = self.host.netns_path(record.id)
        sandbox = report.Sandbox(
            mode,
            pseudo,
            endpoints,
            self.records.ports(record.id),
            str(netns) if netns.exists() else None,
        )
        return report.settings(record.id, record.config.get("ExposedPorts"), sandbox)

    def published(self, container_id: str) -> list[Any]:
        return self.records.ports(container_id)
