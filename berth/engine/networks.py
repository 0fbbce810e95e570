"""The network service: Docker's networks (bridge, host, none and user-defined bridges), a
container's attachments to them, and what start and exit do to the host for them.

At start, in this order, so a failure leaves nothing half-configured: reserve the published
host ports (bound sockets), create the container's network namespace (a mount under the
runroot), then per network: the bridge if it is not up yet, an address (IPAM, in one SQLite
transaction), a veth pair; then berth's nft table is rendered whole from the store and
swapped in one transaction. At exit (the monitor's cleanup command, or whichever berth
command first notices the container is gone) all of it is undone; a bridge goes when its last
container does, the table when no container needs it. Everything is derived from the rows,
so a crash is repaired by the next start: endpoints of containers that are not running are
released first (`_reconcile`).

Every change to the host's network happens under one file lock (reentrant in-process), so
concurrent berth commands see and render consistent states.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from berth.db import now
from berth.errors import BerthError, Conflict, InvalidArgument, NotFound, PermissionDenied
from berth.layout import DEFAULT_ROOT
from berth.network.records import (
    DEFAULT_NETWORK,
    PREDEFINED,
    Endpoint,
    NetworkRecord,
    NetworkStore,
    PortMapping,
)
from berth.oci import sha256_digest

if TYPE_CHECKING:
    from berth.container import ContainerRecord
    from berth.engine.engine import Engine
    from berth.network.ports import Reserved
    from berth.sys.filelock import FileLock

DNS_ADDRESS = "127.0.0.11"  # Docker's embedded resolver, inside each container's namespace
NAMES_FILE = "names.json"


class NetworkSetup(NamedTuple):
    """What start needs from the network: where the container's namespace is, what goes in
    its /etc files, and the sockets its monitor must hold (ports, DNS)."""

    netns: str | None  # None: a new empty one (none); "host"; or a namespace path to join
    address: str | None  # the first network's address, for /etc/hosts
    dns: bool  # resolv.conf names the embedded resolver
    held: list[socket.socket]  # open while the container runs; the caller closes its copies
    dns_fds: tuple[int, int] | None  # (udp, tcp) listening on 127.0.0.11:53 inside
    names_files: list[str]  # per-network name tables the resolver reads
    shared_etc: Path | None  # container:<other>: that container's directory


def network_mode(host_config: dict[str, Any]) -> str:
    mode = str(host_config.get("NetworkMode") or "default")
    return DEFAULT_NETWORK if mode == "default" else mode


class NetworkService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.layout = engine.layout
        self.records = NetworkStore(engine.database)
        self._lock_depth = 0  # reentrant in-process: setup -> reconcile -> teardown
        self._lock: FileLock | None = None

    # -- names on the host ---------------------------------------------------------------

    @property
    def instance(self) -> str:
        """berth's name on the host: "berth" for the default store; a store elsewhere (tests,
        the demo) gets its own table and default bridge, so two stores never clash."""
        if self.layout.root == DEFAULT_ROOT:
            return "berth"
        return "berth-" + sha256_digest(str(self.layout.root).encode())[7:15]

    def device(self, network: NetworkRecord) -> str:
        if network.name == DEFAULT_NETWORK:
            return "berth0" if self.instance == "berth" else self.instance
        return f"br-{network.id[:12]}"

    def netns_path(self, container_id: str) -> Path:
        return self.layout.runroot / "netns" / container_id

    def _names_file(self, network_id: str) -> Path:
        return self.layout.runroot / "networks" / network_id / NAMES_FILE

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from berth.sys.filelock import FileLock

        if self._lock_depth == 0:
            self._lock = FileLock(self.layout.locks / "network.lock")
            self._lock.acquire()
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock is not None:
                self._lock.release()
                self._lock = None

    # -- networks ------------------------------------------------------------------------

    def ensure_predefined(self) -> None:
        if self.records.database.query("SELECT 1 FROM networks WHERE name = ?", ("bridge",)):
            return
        from berth.network import ipam

        with self._locked():
            if self.records.database.query("SELECT 1 FROM networks WHERE name = 'bridge'"):
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
        from berth.container import names
        from berth.network import ipam

        if driver != "bridge":
            raise InvalidArgument(f"plugin {driver!r} not found: berth has the bridge driver")
        if name in PREDEFINED:
            raise PermissionDenied(f"{name} is a pre-defined network and cannot be created")
        names.check_name(name)
        self.ensure_predefined()
        with self._locked():
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
            )
            self.records.add(record)
        return record

    def containers_of(self, network: NetworkRecord) -> list[ContainerRecord]:
        found = []
        for endpoint in self.records.endpoints(network_id=network.id):
            with contextlib.suppress(NotFound):
                found.append(self.engine.containers.records.get(endpoint.container_id))
        return found

    def remove(self, network: NetworkRecord) -> None:
        if network.predefined:
            raise PermissionDenied(f"{network.name} is a pre-defined network and cannot be removed")
        with self._locked():
            self._reconcile()
            active = [e for e in self.records.endpoints(network_id=network.id) if e.address]
            if active:
                raise Conflict(
                    f"error while removing network: network {network.name} id {network.id} "
                    "has active endpoints"
                )
            self.records.delete(network.id)
            self._sync_host()

    def unused(self) -> list[NetworkRecord]:
        return [
            n
            for n in self.all()
            if not n.predefined and not self.records.endpoints(network_id=n.id)
        ]

    # -- a container's attachments ---------------------------------------------------------

    def register(self, container_id: str, host_config: dict[str, Any], aliases: list[str]) -> None:
        """At create: the container's endpoint on the network its mode names."""
        mode = network_mode(host_config)
        if mode in ("host", "none") or mode.startswith("container:"):
            if aliases:
                raise InvalidArgument(
                    "network-scoped aliases are only supported for user-defined networks"
                )
            return
        network = self.lookup(mode)
        if network.driver != "bridge":
            raise InvalidArgument(f"container cannot be connected to network {network.name}")
        if aliases and not network.user_defined:
            raise InvalidArgument(
                "network-scoped aliases are only supported for user-defined networks"
            )
        self.records.add_endpoint(network.id, container_id, aliases)

    def forget(self, container_id: str) -> None:
        """At rm: the container's endpoints and ports go with it."""
        self.records.remove_container(container_id)

    def connect(self, network: NetworkRecord, record: ContainerRecord, aliases: list[str]) -> None:
        mode = network_mode(record.host_config)
        if mode in ("host", "none") or mode.startswith("container:") or network.driver != "bridge":
            raise Conflict(
                f"container {record.name} cannot be connected to network {network.name}: "
                f"its network mode is {mode}"
            )
        if aliases and not network.user_defined:
            raise InvalidArgument(
                "network-scoped aliases are only supported for user-defined networks"
            )
        with self._locked():
            self.records.add_endpoint(network.id, record.id, aliases)
            if self.engine.containers.refresh(record).status in ("running", "paused"):
                taken = {e.interface for e in self.records.endpoints(container_id=record.id)}
                interface = next(f"eth{n}" for n in range(len(taken) + 1) if f"eth{n}" not in taken)
                try:
                    self._attach(network, record, interface, default_route=False)
                    self._sync_host()
                except BaseException:
                    self._detach(network.id, record.id)
                    self.records.remove_endpoint(network.id, record.id)
                    self._resync()
                    raise

    def disconnect(self, network: NetworkRecord, record: ContainerRecord) -> None:
        endpoints = self.records.endpoints(network_id=network.id, container_id=record.id)
        if not endpoints:
            raise NotFound(f"container {record.id} is not connected to network {network.name}")
        with self._locked():
            self._detach(network.id, record.id)
            self.records.remove_endpoint(network.id, record.id)
            self._sync_host()

    # -- start and exit ------------------------------------------------------------------

    def setup(self, record: ContainerRecord) -> NetworkSetup:
        mode = network_mode(record.host_config)
        if mode == "host":
            return NetworkSetup("host", None, False, [], None, [], None)
        if mode == "none":
            return NetworkSetup(None, None, False, [], None, [], None)
        if mode.startswith("container:"):
            return self._joined(mode.partition(":")[2])
        endpoints = self.records.endpoints(container_id=record.id)
        if not endpoints:  # disconnected from everything: lo only, as in Docker
            self.lookup(mode)  # ... unless its network was removed: Docker's "not found"
            return NetworkSetup(None, None, False, [], None, [], None)
        from berth.network import netns, ports

        with self._locked():
            self._reconcile()
            self._teardown(record.id)  # what an earlier run of this container left (a crash)
            reserved = ports.reserve(
                ports.wanted(
                    record.host_config.get("PortBindings"),
                    record.config.get("ExposedPorts"),
                    bool(record.host_config.get("PublishAllPorts")),
                )
            )
            held = [item.sock for item in reserved]
            try:
                netns.create(self.netns_path(record.id))
                first: Endpoint | None = None
                dns = False
                for index, endpoint in enumerate(endpoints):
                    network = self.records.get(endpoint.network_id)
                    attached = self._attach(
                        network, record, f"eth{index}", default_route=index == 0
                    )
                    first = first or attached
                    dns = dns or network.user_defined
                self._publish(record.id, reserved, first)
                dns_fds = self._dns_sockets(record.id, held) if dns else None
                self._sync_host()
            except BaseException:
                for sock in held:  # the port reservations and the resolver's sockets
                    sock.close()
                self._teardown(record.id)
                self._resync()  # a bridge this start brought up goes again
                raise
        names = [str(self._names_file(e.network_id)) for e in endpoints]
        return NetworkSetup(
            str(self.netns_path(record.id)),
            first.address if first else None,
            dns,
            held,
            dns_fds,
            names,
            None,
        )

    def _joined(self, text: str) -> NetworkSetup:
        other = self.engine.containers.lookup(text)
        if other.status != "running":
            raise Conflict(f"cannot join network of a non running container: {other.id}")
        path = self.netns_path(other.id)
        if not path.exists():
            path = Path(f"/proc/{int(other.state.get('Pid') or 0)}/ns/net")
        return NetworkSetup(
            str(path), None, False, [], None, [], self.engine.containers.directory(other.id)
        )

    def _attach(
        self, network: NetworkRecord, record: ContainerRecord, interface: str, default_route: bool
    ) -> Endpoint:
        from berth.network import ipam, links

        device = self.device(network)
        if not links.exists(device):
            network = self._still_free(network)
        assert network.subnet and network.gateway
        subnet = ipaddress.IPv4Network(network.subnet)
        gateway = network.gateway

        def choose(used: set[str]) -> tuple[str, str]:
            address = ipam.free_address(subnet, gateway, used)
            return address, ipam.mac_for(address)

        links.ensure_bridge(device, gateway, subnet.prefixlen)
        # A restart's old pair may still be going away with its old namespace.
        links.remove_device(links.host_device(record.id, network.id), settle=2.0)
        endpoint = self.records.assign(network, record.id, choose, interface)
        assert endpoint.address and endpoint.mac
        links.attach(
            links.Attachment(
                bridge=device,
                host_device=links.host_device(record.id, network.id),
                interface=interface,
                address=endpoint.address,
                prefix=subnet.prefixlen,
                gateway=gateway,
                mac=endpoint.mac,
                default_route=default_route and not network.internal,
            ),
            self.netns_path(record.id),
        )
        return endpoint

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

    def _dns_sockets(self, container_id: str, held: list[socket.socket]) -> tuple[int, int]:
        """Docker's 127.0.0.11 resolver: sockets bound inside the container's namespace,
        served by its monitor from the host's namespace (which also reaches the host's own
        loopback resolvers for names that are not the network's)."""
        from berth.network import netns

        with netns.entered(self.netns_path(container_id)):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held += [udp, tcp]
        for sock in (udp, tcp):
            sock.set_inheritable(True)
            sock.bind((DNS_ADDRESS, 53))
        tcp.listen(16)
        return udp.fileno(), tcp.fileno()

    def teardown(self, record: ContainerRecord) -> None:
        """Undo `setup` (idempotent; a no-op for a container that has nothing set up)."""
        if not self.netns_path(record.id).exists() and not any(
            e.address for e in self.records.endpoints(container_id=record.id)
        ):
            return
        with self._locked():
            self._teardown(record.id)
            self._sync_host()

    def renamed(self, container_id: str) -> None:
        """A running container's new name resolves at once on its user-defined networks."""
        if any(e.address for e in self.records.endpoints(container_id=container_id)):
            with self._locked():
                self._sync_host()

    def _teardown(self, container_id: str) -> None:
        """Free a container's addresses and drop its namespace. Its veth pairs go with the
        namespace, which the kernel frees in the background once nothing holds it: deleting
        each device here would wait for an RCU grace period (15-30 ms each, measured)."""
        from berth.network import netns

        self.records.unassign(container_id)
        netns.remove(self.netns_path(container_id))

    def _detach(self, network_id: str, container_id: str) -> None:
        from berth.network import links

        links.remove_device(links.host_device(container_id, network_id))
        self.records.unassign(container_id, network_id)

    def _reconcile(self) -> None:
        """Release what containers that no longer run still hold (a crash, a reboot, an exit
        nobody cleaned up after)."""
        holders = {e.container_id for e in self.records.endpoints() if e.address}
        holders |= {p.container_id for p in self.records.ports()}
        for container_id in holders:
            if self.engine.containers.starting(container_id):
                continue  # its start holds what it set up so far
            try:
                record = self.engine.containers.refresh(
                    self.engine.containers.records.get(container_id)
                )
            except NotFound:
                self._teardown(container_id)
                self.records.remove_container(container_id)
                continue
            if record.status not in ("running", "paused", "restarting"):
                self._teardown(container_id)

    def _resync(self) -> None:
        """`_sync_host` on a failure path: the original error is the one to report."""
        with contextlib.suppress(BerthError):
            self._sync_host()

    def _sync_host(self) -> None:
        """Make the host match the rows: bridges of networks in use, nothing else; the nft
        table; the name tables of the embedded resolver."""
        from berth.network import links, nft

        active: dict[str, list[Endpoint]] = {}
        for endpoint in self.records.endpoints():
            if endpoint.address:
                active.setdefault(endpoint.network_id, []).append(endpoint)
        bridges, forwards = [], []
        for network in self.records.all():
            if network.driver != "bridge" or not network.subnet:
                continue
            device = self.device(network)
            if network.id not in active:
                links.remove_device(device)
                with contextlib.suppress(OSError):
                    self._names_file(network.id).unlink()
                continue
            bridges.append(nft.Bridge(device, network.subnet, network.internal))
            self._write_names(network, active[network.id])
        targets: dict[str, str | None] = {}
        for endpoints in active.values():
            for endpoint in endpoints:
                targets.setdefault(endpoint.container_id, endpoint.address)
        for mapping in self.records.ports():
            address = targets.get(mapping.container_id)
            if address:
                forwards.append(
                    nft.Forward(
                        mapping.protocol,
                        mapping.host_ip,
                        mapping.host_port,
                        address,
                        mapping.container_port,
                    )
                )
        nft.apply(nft.render(self.instance, bridges, forwards))

    def _write_names(self, network: NetworkRecord, endpoints: list[Endpoint]) -> None:
        """name -> addresses for the network's resolver: each container's name, short id and
        aliases (Docker's DNSNames)."""
        table: dict[str, list[str]] = {}
        for endpoint in endpoints:
            try:
                record = self.engine.containers.records.get(endpoint.container_id)
            except NotFound:
                continue
            for name in (record.name, record.short_id, *endpoint.aliases):
                addresses = table.setdefault(name.lower(), [])
                if endpoint.address and endpoint.address not in addresses:
                    addresses.append(endpoint.address)
        path = self._names_file(network.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(table))
        temporary.replace(path)

    # -- reports -------------------------------------------------------------------------

    def published(self, container_id: str) -> list[PortMapping]:
        return self.records.ports(container_id)

    def endpoints_of(self, container_id: str) -> list[tuple[NetworkRecord, Endpoint]]:
        found = []
        for endpoint in self.records.endpoints(container_id=container_id):
            with contextlib.suppress(NotFound):
                found.append((self.records.get(endpoint.network_id), endpoint))
        return found

    def endpoint_id(self, network_id: str, container_id: str) -> str:
        return sha256_digest(f"endpoint:{network_id}:{container_id}".encode())[7:]

    def settings(self, record: ContainerRecord) -> dict[str, Any]:
        """A container's NetworkSettings, shaped as Docker's inspect shows them."""
        mappings = self.records.ports(record.id)
        ports: dict[str, list[dict[str, str]] | None] = {
            key: None for key in record.config.get("ExposedPorts") or {}
        }
        for m in mappings:
            binding = {"HostIp": m.host_ip, "HostPort": str(m.host_port)}
            ports.setdefault(f"{m.container_port}/{m.protocol}", [])
            listed = ports[f"{m.container_port}/{m.protocol}"]
            ports[f"{m.container_port}/{m.protocol}"] = [*(listed or []), binding]
        networks: dict[str, Any] = {}
        top = {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}
        mode = network_mode(record.host_config)
        if mode in ("host", "none"):
            network = self.lookup(mode)
            networks[mode] = self._endpoint_document(network, None, record.id)
        for network, endpoint in self.endpoints_of(record.id):
            document = self._endpoint_document(network, endpoint, record.id)
            networks[network.name] = document
            if network.name == DEFAULT_NETWORK:
                top = {k: document[k] for k in top}
        running = self.netns_path(record.id).exists()
        return {
            "Bridge": "",
            "SandboxID": self.endpoint_id("sandbox", record.id) if running else "",
            "SandboxKey": str(self.netns_path(record.id)) if running else "",
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
            "Networks": networks,
        }

    def _endpoint_document(
        self, network: NetworkRecord, endpoint: Endpoint | None, container_id: str
    ) -> dict[str, Any]:
        active = endpoint is not None and bool(endpoint.address)
        prefix = ipaddress.IPv4Network(network.subnet).prefixlen if network.subnet else 0
        return {
            "IPAMConfig": None,
            "Links": None,
            "Aliases": (endpoint.aliases or None) if endpoint else None,
            "MacAddress": (endpoint.mac or "") if endpoint else "",
            "NetworkID": network.id,
            "EndpointID": self.endpoint_id(network.id, container_id) if active else "",
            "Gateway": (network.gateway or "") if active else "",
            "IPAddress": (endpoint.address or "") if endpoint else "",
            "IPPrefixLen": prefix if active else 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DriverOpts": None,
            "DNSNames": None,
        }

    def inspect(self, network: NetworkRecord) -> dict[str, Any]:
        """A network, shaped as Docker's `network inspect` shows it."""
        containers: dict[str, Any] = {}
        for endpoint in self.records.endpoints(network_id=network.id):
            if not endpoint.address:
                continue
            try:
                name = self.engine.containers.records.get(endpoint.container_id).name
            except NotFound:
                continue
            prefix = ipaddress.IPv4Network(str(network.subnet)).prefixlen
            containers[endpoint.container_id] = {
                "Name": name,
                "EndpointID": self.endpoint_id(network.id, endpoint.container_id),
                "MacAddress": endpoint.mac or "",
                "IPv4Address": f"{endpoint.address}/{prefix}",
                "IPv6Address": "",
            }
        options = dict(network.options)
        if network.name == DEFAULT_NETWORK:
            options.setdefault("com.docker.network.bridge.name", self.device(network))
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
