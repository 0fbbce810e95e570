"""A container's network sandbox: its endpoints on bridge networks, and what its start and
exit do to the host for them.

At start, in this order, so a failure leaves nothing half-configured: reserve the published
host ports (bound sockets), create the container's network namespace (a mount under the
runroot), then per network: the bridge if it is not up yet, an address (IPAM, in one SQLite
transaction), a veth pair; then berth's nft table is rendered whole from the rows and swapped
in. At exit (the monitor's cleanup command, or whichever berth command first notices the
container is gone) all of it is undone; a bridge goes when its last container does. All is
derived from the rows, so a crash is repaired by the next start (`HostNetwork.reconcile`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.network.host import HostNetwork
from berth.network.networks import Networks
from berth.network.records import (
    Endpoint,
    NetworkRecord,
    NetworkStore,
    PortMapping,
)
from berth.network.setup import DEFAULT_NETWORK, NetworkSetup, is_bridged, isolated

if TYPE_CHECKING:
    from berth.network.ports import Reserved, Wanted

DNS_ADDRESS = "127.0.0.11"  # Docker's embedded resolver, inside each container's namespace
USER_NETWORKS_ONLY = "user specified IP address is supported on user defined networks only"


class Sandboxes:
    def __init__(self, host: HostNetwork, records: NetworkStore, networks: Networks) -> None:
        self.host = host
        self.records = records
        self.networks = networks

    def netns_path(self, container_id: str) -> Path:
        return self.host.netns_path(container_id)

    # -- endpoints, from create to rm -------------------------------------------------------

    def register(
        self, container_id: str, mode: str, aliases: list[str], address: str | None = None
    ) -> None:
        """At create: the container's endpoint on the network its mode names, with the
        address it asks for (`--ip`), which its start will then give it."""
        if not is_bridged(mode):
            if aliases:
                raise InvalidArgument(
                    "network-scoped aliases are only supported for user-defined networks"
                )
            if address:
                raise InvalidArgument(USER_NETWORKS_ONLY)
            return
        network = self.networks.lookup(mode)
        if network.driver != "bridge":
            raise InvalidArgument(f"container cannot be connected to network {network.name}")
        if aliases and not network.user_defined:
            raise InvalidArgument(
                "network-scoped aliases are only supported for user-defined networks"
            )
        if address:
            _check_requested(network, address)
        self.records.add_endpoint(network.id, container_id, aliases, address or None)

    def address_on(self, container_id: str, network_name: str) -> str | None:
        """The running container's address on the network of that name, if it has one."""
        for endpoint in self.records.endpoints(container_id=container_id):
            if endpoint.address and self.records.get(endpoint.network_id).name == network_name:
                return endpoint.address
        return None

    def forget(self, container_id: str) -> None:
        """At rm: the container's endpoints and ports go with it."""
        self.records.remove_container(container_id)

    def connect(
        self,
        network: NetworkRecord,
        container_id: str,
        name: str,
        mode: str,
        aliases: list[str],
        running: Callable[[], bool],
    ) -> None:
        """`network connect`: a running container (as `running()` says, asked under the
        network lock) comes up on the network at once."""
        if not is_bridged(mode) or network.driver != "bridge":
            raise Conflict(
                f"container {name} cannot be connected to network {network.name}: "
                f"its network mode is {mode}"
            )
        if aliases and not network.user_defined:
            raise InvalidArgument(
                "network-scoped aliases are only supported for user-defined networks"
            )
        with self.host.locked():
            self.records.add_endpoint(network.id, container_id, aliases)
            if not running():
                return
            taken = {e.interface for e in self.records.endpoints(container_id=container_id)}
            interface = next(f"eth{n}" for n in range(len(taken) + 1) if f"eth{n}" not in taken)
            try:
                self._attach(network, container_id, interface, default_route=False)
                self.host.sync()
            except BaseException:
                self._detach(network.id, container_id)
                self.records.remove_endpoint(network.id, container_id)
                self.host.resync()
                raise

    def disconnect(self, network: NetworkRecord, container_id: str) -> None:
        endpoints = self.records.endpoints(network_id=network.id, container_id=container_id)
        if not endpoints:
            raise NotFound(f"container {container_id} is not connected to network {network.name}")
        with self.host.locked():
            self._detach(network.id, container_id)
            self.records.remove_endpoint(network.id, container_id)
            self.host.sync()

    def renamed(self, container_id: str) -> None:
        """A running container's new name resolves at once on its user-defined networks."""
        if any(e.address for e in self.records.endpoints(container_id=container_id)):
            with self.host.locked():
                self.host.sync()

    # -- start and exit ----------------------------------------------------------------------

    def setup(self, container_id: str, mode: str, wanted: list[Wanted]) -> NetworkSetup:
        """Bring a container up on its bridge networks, publishing `wanted` ports."""
        endpoints = self.records.endpoints(container_id=container_id)
        if not endpoints:  # disconnected from everything: lo only, as in Docker
            self.networks.lookup(mode)  # ... unless its network was removed: "not found"
            return isolated()
        from berth.network import netns, ports

        netns_path = self.host.netns_path(container_id)
        with self.host.locked():
            self.host.reconcile()
            self.host.release(container_id)  # what an earlier run of this container left
            reserved = ports.reserve(wanted)
            held = [item.sock for item in reserved]
            try:
                netns.create(netns_path)
                first: Endpoint | None = None
                dns = False
                for index, endpoint in enumerate(endpoints):
                    network = self.records.get(endpoint.network_id)
                    attached = self._attach(
                        network, container_id, f"eth{index}", default_route=index == 0
                    )
                    first = first or attached
                    dns = dns or network.user_defined
                self._publish(container_id, reserved, first)
                dns_fds = self._dns_sockets(netns_path, held) if dns else None
                self.host.sync()
            except BaseException:
                for sock in held:  # the port reservations and the resolver's sockets
                    sock.close()
                self.host.release(container_id)
                self.host.resync()  # a bridge this start brought up goes again
                raise
        return NetworkSetup(
            str(netns_path),
            first.address if first else None,
            dns,
            held,
            dns_fds,
            [str(self.host.names_file(e.network_id)) for e in endpoints],
            None,
        )

    def teardown(self, container_id: str) -> None:
        """Undo `setup` (idempotent; a no-op for a container that has nothing set up)."""
        if not self.host.netns_path(container_id).exists() and not any(
            e.address for e in self.records.endpoints(container_id=container_id)
        ):
            return
        with self.host.locked():
            self.host.release(container_id)
            self.host.sync()

    def _attach(
        self, network: NetworkRecord, container_id: str, interface: str, default_route: bool
    ) -> Endpoint:
        from berth.network import ipam, links

        device = self.host.device(network)
        if not links.exists(device):
            network = self._still_free(network)
        assert network.subnet and network.gateway
        subnet = ipaddress.IPv4Network(network.subnet)
        gateway = network.gateway
        endpoints = self.records.endpoints(network_id=network.id)
        wanted = next((e.requested for e in endpoints if e.container_id == container_id), None)
        # Addresses others asked for are not handed out to containers that asked for none.
        kept = {e.requested for e in endpoints if e.requested and e.container_id != container_id}

        def choose(used: set[str]) -> tuple[str, str]:
            if wanted and (wanted in used or wanted == gateway):
                raise Conflict("Address already in use")
            address = wanted or ipam.free_address(subnet, gateway, used | kept)
            return address, ipam.mac_for(address)

        links.ensure_bridge(device, gateway, subnet.prefixlen)
        # A restart's old pair may still be going away with its old namespace.
        links.remove_device(links.host_device(container_id, network.id), settle=2.0)
        endpoint = self.records.assign(network, container_id, choose, interface)
        assert endpoint.address and endpoint.mac
        links.attach(
            links.Attachment(
                bridge=device,
                host_device=links.host_device(container_id, network.id),
                interface=interface,
                address=endpoint.address,
                prefix=subnet.prefixlen,
                gateway=gateway,
                mac=endpoint.mac,
                default_route=default_route and not network.internal,
            ),
            self.host.netns_path(container_id),
        )
        return endpoint

    def _detach(self, network_id: str, container_id: str) -> None:
        from berth.network import links

        links.remove_device(links.host_device(container_id, network_id))
        self.records.unassign(container_id, network_id)

    def _still_free(self, network: NetworkRecord) -> NetworkRecord:
        """Before a bridge comes up: its subnet must still be free on the host (Docker may
        have taken it since berth chose it). The default network moves to a free subnet, as
        nothing of it exists while its bridge is down; a user-defined one's subnet was the
        user's choice, so that is an error."""
        from berth.network import ipam

        assert network.subnet
        own = ipaddress.IPv4Network(network.subnet)
        clash = next((r for r in ipam.host_routes() if r.overlaps(own)), None)
        if clash is None:
            return network
        if network.name != DEFAULT_NETWORK:
            raise Conflict(
                f"network {network.name}'s subnet {own} overlaps the host's route to {clash}",
                hint="remove the network and create it again on another subnet",
            )
        others = [ipaddress.IPv4Network(n.subnet) for n in self.records.all() if n.subnet]
        subnet = ipam.choose_subnet([*others, *ipam.host_routes()])
        moved = network._replace(subnet=str(subnet), gateway=ipam.gateway_for(subnet))
        self.records.move(moved)
        return moved

    def _publish(self, container_id: str, reserved: list[Reserved], first: Endpoint | None) -> None:
        if not reserved:
            return
        if first is None or not first.address:
            raise InvalidArgument("published ports need a bridge network")
        self.records.add_ports(
            [
                PortMapping(container_id, r.protocol, r.container_port, r.host_ip, r.host_port)
                for r in reserved
            ]
        )

    def _dns_sockets(self, netns_path: Path, held: list[socket.socket]) -> tuple[int, int]:
        """Docker's 127.0.0.11 resolver: sockets bound inside the container's namespace,
        served by its monitor from the host's namespace (which also reaches the host's own
        loopback resolvers for names that are not the network's)."""
        from berth.network import netns

        with netns.entered(netns_path):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held += [udp, tcp]
        for sock in (udp, tcp):
            sock.set_inheritable(True)
            sock.bind((DNS_ADDRESS, 53))
        tcp.listen(16)
        return udp.fileno(), tcp.fileno()


def _check_requested(network: NetworkRecord, address: str) -> None:
    """Docker's checks of an address asked for at create: a user-defined network whose
    subnet the user chose, an IPv4 address for a container inside that subnet."""
    if not network.user_defined:
        raise InvalidArgument(USER_NETWORKS_ONLY)
    if not network.configured or not network.subnet:
        raise InvalidArgument(
            "user specified IP address is supported only when connecting to networks with "
            "user configured subnets"
        )
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise InvalidArgument(f"invalid IPv4 address: {address}") from None
    subnet = ipaddress.IPv4Network(network.subnet)
    if ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgument(
            f"Invalid address {address}: It does not belong to any of this network's subnets"
        )
