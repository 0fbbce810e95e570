"""The host's side of berth's networks, derived from the rows: the bridges of networks in
use, berth's nft table (rendered whole and swapped in one transaction), the name tables the
embedded resolvers read, and the release of what containers that no longer run still hold.

Every change to the host's network happens under one file lock (reentrant in-process, and
per thread: `berth serve` runs many), so concurrent berth commands see and render consistent
states. Whether a container still runs is the containers' business: asked through
`ContainerView`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from berth.errors import BerthError
from berth.layout import DEFAULT_ROOT, Layout
from berth.network.records import Endpoint, NetworkRecord, NetworkStore
from berth.network.setup import DEFAULT_NETWORK
from berth.oci import sha256_digest

if TYPE_CHECKING:
    from berth.sys.filelock import FileLock

NAMES_FILE = "names.json"


class ContainerView(Protocol):
    """What the network asks of the containers."""

    def name(self, container_id: str) -> str | None:
        """The container's name; None when there is no such container."""
        ...

    def holds_network(self, container_id: str) -> bool:
        """Whether the container is starting or running (its endpoints are in use)."""
        ...


class HostNetwork:
    def __init__(self, layout: Layout, records: NetworkStore, containers: ContainerView) -> None:
        self.layout = layout
        self.records = records
        self.containers = containers
        import _thread

        self._guard = _thread.RLock()  # threads of one process take the file lock in turn
        self._depth = 0
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

    def names_file(self, network_id: str) -> Path:
        return self.layout.runroot / "networks" / network_id / NAMES_FILE

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        from berth.sys.filelock import FileLock

        with self._guard:
            if self._depth == 0:
                self._lock = FileLock(self.layout.locks / "network.lock")
                self._lock.acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock is not None:
                    self._lock.release()
                    self._lock = None

    # -- a container's share -----------------------------------------------------------------

    def release(self, container_id: str) -> None:
        """Free a container's addresses and ports and drop its namespace. Its veth pairs go
        with the namespace, which the kernel frees in the background once nothing holds it:
        deleting each device here would wait for an RCU grace period (15-30 ms each)."""
        from berth.network import netns

        self.records.unassign(container_id)
        netns.remove(self.netns_path(container_id))

    def reconcile(self) -> None:
        """Release what containers that no longer run still hold (a crash, a reboot, an exit
        nobody cleaned up after)."""
        holders = {e.container_id for e in self.records.endpoints() if e.address}
        holders |= {p.container_id for p in self.records.ports()}
        for container_id in holders:
            if self.containers.holds_network(container_id):
                continue
            self.release(container_id)
            if self.containers.name(container_id) is None:
                self.records.remove_container(container_id)

    # -- the host made to match the rows ---------------------------------------------------

    def resync(self) -> None:
        """`sync` on a failure path: the original error is the one to report."""
        with contextlib.suppress(BerthError):
            self.sync()

    def sync(self, *, drop_idle_default: bool = False) -> None:
        """Make the host match the rows: bridges of networks in use, and the default bridge
        once made (kept, as Docker keeps docker0, until `drop_idle_default`: `network prune`
        removes it when no container uses it); the nft table; the name tables of the
        embedded resolver."""
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
            bridge = nft.Bridge(device, network.subnet, network.internal)
            if network.id not in active:
                kept = network.name == DEFAULT_NETWORK and not drop_idle_default
                if kept and links.exists(device):
                    bridges.append(bridge)
                    continue
                links.remove_device(device)
                with contextlib.suppress(OSError):
                    self.names_file(network.id).unlink()
                continue
            bridges.append(bridge)
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
        script = nft.render(self.instance, bridges, forwards)
        if not self._applied(script):
            nft.apply(script)
            self._note_applied(script)

    def _applied_file(self) -> Path:
        # Per table: two stores may share a runroot (tests put a small store beside another).
        return self.layout.runroot / "networks" / f"{self.instance}.nft-applied"

    def _applied(self, script: str) -> bool:
        """Whether the table is already what `script` makes: the last script applied (noted
        in the runroot, under the network lock) and a table that is there exactly when the
        script makes one. Applying it again would cost ~16 ms (the kernel replaces the
        table) for nothing, at every start and exit of a container without ports."""
        from berth.network import nft

        try:
            noted = self._applied_file().read_text()
        except OSError:
            return False
        return noted == sha256_digest(script.encode()) and nft.has_table(
            self.instance
        ) == nft.makes_table(script)

    def _note_applied(self, script: str) -> None:
        path = self._applied_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(sha256_digest(script.encode()))
        temporary.replace(path)

    def _write_names(self, network: NetworkRecord, endpoints: list[Endpoint]) -> None:
        """name -> addresses for the network's resolver: each container's name, short id and
        aliases (Docker's DNSNames)."""
        table: dict[str, list[str]] = {}
        for endpoint in endpoints:
            name = self.containers.name(endpoint.container_id)
            if name is None:
                continue
            for each in (name, endpoint.container_id[:12], *endpoint.aliases):
                addresses = table.setdefault(each.lower(), [])
                if endpoint.address and endpoint.address not in addresses:
                    addresses.append(endpoint.address)
        path = self.names_file(network.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(table))
        temporary.replace(path)


def endpoint_id(network_id: str, container_id: str) -> str:
    """A stable endpoint id, as Docker's inspect shows one."""
    return sha256_digest(f"endpoint:{network_id}:{container_id}".encode())[7:]
