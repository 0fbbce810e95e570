"""Network, endpoint and published-port rows (schema v4), and the one place that reads and
writes them. Allocation (an address, a host port) happens inside a write transaction, so two
berth processes starting containers at once never hand out the same address or port.

Lookup follows Docker: full id, then exact name, then a unique id prefix.
"""

import json
import sqlite3
from collections.abc import Callable
from typing import Any, NamedTuple

from berth.db import Database
from berth.db.columns import decoded
from berth.errors import AlreadyExists, Conflict, InvalidArgument, NotFound

PREDEFINED = {"bridge": "bridge", "host": "host", "none": "null"}  # name -> driver


class NetworkRecord(NamedTuple):
    id: str  # 64 hex characters
    name: str
    driver: str  # "bridge", or "host"/"null" for the predefined pseudo-networks
    subnet: str | None  # "172.18.0.0/16"; None for host and none
    gateway: str | None
    internal: bool
    labels: dict[str, str]
    options: dict[str, str]
    created: str
    configured: bool = False  # the user chose the subnet: containers may ask for addresses

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED

    @property
    def user_defined(self) -> bool:
        """Docker's embedded DNS serves user-defined networks only, never the default bridge."""
        return not self.predefined


class Endpoint(NamedTuple):
    network_id: str
    container_id: str
    aliases: list[str]
    address: str | None  # set while the container runs
    mac: str | None
    interface: str | None  # "eth0", "eth1", ... inside the container
    requested: str | None = None  # the address asked for at create (--ip)


class PortMapping(NamedTuple):
    container_id: str
    protocol: str  # "tcp" | "udp"
    container_port: int
    host_ip: str  # "0.0.0.0" for every address of the host
    host_port: int


_NETWORK_COLUMNS = (
    "id, name, driver, subnet, gateway, internal, labels, options, created, configured"
)


def _network(row: tuple[Any, ...]) -> NetworkRecord:
    return NetworkRecord(
        id=str(row[0]),
        name=str(row[1]),
        driver=str(row[2]),
        subnet=None if row[3] is None else str(row[3]),
        gateway=None if row[4] is None else str(row[4]),
        internal=bool(row[5]),
        labels=decoded(row[6]) or {},
        options=decoded(row[7]) or {},
        created=str(row[8]),
        configured=bool(row[9]),
    )


def _endpoint(row: tuple[Any, ...]) -> Endpoint:
    return Endpoint(
        network_id=str(row[0]),
        container_id=str(row[1]),
        aliases=decoded(row[2], list) or [],
        address=None if row[3] is None else str(row[3]),
        mac=None if row[4] is None else str(row[4]),
        interface=None if row[5] is None else str(row[5]),
        requested=None if row[6] is None else str(row[6]),
    )


_ENDPOINT_COLUMNS = "network_id, container_id, aliases, address, mac, interface, requested"


class NetworkStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- networks ------------------------------------------------------------------------

    def add(self, record: NetworkRecord) -> None:
        try:
            with self.database.transaction() as cursor:
                cursor.execute(
                    f"INSERT INTO networks ({_NETWORK_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.id,
                        record.name,
                        record.driver,
                        record.subnet,
                        record.gateway,
                        int(record.internal),
                        json.dumps(record.labels),
                        json.dumps(record.options),
                        record.created,
                        int(record.configured),
                    ),
                )
        except sqlite3.IntegrityError:
            if self.database.query("SELECT 1 FROM networks WHERE name = ?", (record.name,)):
                raise AlreadyExists(f"network with name {record.name} already exists") from None
            raise Conflict(
                f"Pool overlaps with other one on this address space: {record.subnet}"
            ) from None

    def all(self) -> list[NetworkRecord]:
        rows = self.database.query(f"SELECT {_NETWORK_COLUMNS} FROM networks ORDER BY created")
        return [_network(row) for row in rows]

    def get(self, network_id: str) -> NetworkRecord:
        rows = self.database.query(
            f"SELECT {_NETWORK_COLUMNS} FROM networks WHERE id = ?", (network_id,)
        )
        if not rows:
            raise NotFound(f"network {network_id} not found")
        return _network(rows[0])

    def lookup(self, text: str) -> NetworkRecord:
        if not text:
            raise InvalidArgument("a network name or id is required")
        for column in ("id", "name"):
            rows = self.database.query(
                f"SELECT {_NETWORK_COLUMNS} FROM networks WHERE {column} = ?", (text,)
            )
            if rows:
                return _network(rows[0])
        rows = self.database.query(
            f"SELECT {_NETWORK_COLUMNS} FROM networks WHERE id LIKE ? || '%'", (text.lower(),)
        )
        if len(rows) == 1:
            return _network(rows[0])
        if len(rows) > 1:
            raise InvalidArgument(f"network {text} is ambiguous ({len(rows)} matches found)")
        raise NotFound(f"network {text} not found")

    def named(self, name: str) -> bool:
        return bool(self.database.query("SELECT 1 FROM networks WHERE name = ?", (name,)))

    def move(self, record: NetworkRecord) -> None:
        """A new subnet and gateway for a network with no address in use."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE networks SET subnet = ?, gateway = ? WHERE id = ?",
                (record.subnet, record.gateway, record.id),
            )

    def delete(self, network_id: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM endpoints WHERE network_id = ?", (network_id,))
            cursor.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    # -- endpoints -----------------------------------------------------------------------

    def endpoints(
        self, *, network_id: str | None = None, container_id: str | None = None
    ) -> list[Endpoint]:
        clauses, parameters = [], []
        if network_id is not None:
            clauses.append("network_id = ?")
            parameters.append(network_id)
        if container_id is not None:
            clauses.append("container_id = ?")
            parameters.append(container_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.database.query(
            f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints{where} ORDER BY rowid", tuple(parameters)
        )
        return [_endpoint(row) for row in rows]

    def add_endpoint(
        self, network_id: str, container_id: str, aliases: list[str], requested: str | None = None
    ) -> None:
        try:
            with self.database.transaction() as cursor:
                cursor.execute(
                    "INSERT INTO endpoints (network_id, container_id, aliases, requested) "
                    "VALUES (?, ?, ?, ?)",
                    (network_id, container_id, json.dumps(aliases), requested),
                )
        except sqlite3.IntegrityError:
            raise Conflict(
                f"endpoint with name {container_id[:12]} already exists in network"
            ) from None

    def remove_endpoint(self, network_id: str, container_id: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "DELETE FROM endpoints WHERE network_id = ? AND container_id = ?",
                (network_id, container_id),
            )

    def remove_container(self, container_id: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM endpoints WHERE container_id = ?", (container_id,))
            cursor.execute("DELETE FROM ports WHERE container_id = ?", (container_id,))

    def assign(
        self,
        network: NetworkRecord,
        container_id: str,
        choose: Callable[[set[str]], tuple[str, str]],
        interface: str,
    ) -> Endpoint:
        """Give the endpoint an address inside one write transaction: `choose(used)` picks a
        free one from the addresses other endpoints of the network hold."""
        with self.database.transaction() as cursor:
            used = {
                str(row[0])
                for row in cursor.execute(
                    "SELECT address FROM endpoints WHERE network_id = ? AND address IS NOT NULL",
                    (network.id,),
                )
            }
            address, mac = choose(used)
            cursor.execute(
                "UPDATE endpoints SET address = ?, mac = ?, interface = ? "
                "WHERE network_id = ? AND container_id = ?",
                (address, mac, interface, network.id, container_id),
            )
            row = cursor.execute(
                f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints "
                "WHERE network_id = ? AND container_id = ?",
                (network.id, container_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"container {container_id[:12]} is not connected to {network.name}")
        return _endpoint(row)

    def unassign(self, container_id: str, network_id: str | None = None) -> None:
        with self.database.transaction() as cursor:
            if network_id is None:
                cursor.execute(
                    "UPDATE endpoints SET address = NULL, mac = NULL, interface = NULL "
                    "WHERE container_id = ?",
                    (container_id,),
                )
                cursor.execute("DELETE FROM ports WHERE container_id = ?", (container_id,))
            else:
                cursor.execute(
                    "UPDATE endpoints SET address = NULL, mac = NULL, interface = NULL "
                    "WHERE container_id = ? AND network_id = ?",
                    (container_id, network_id),
                )

    # -- published ports -----------------------------------------------------------------

    def ports(self, container_id: str | None = None) -> list[PortMapping]:
        where = "" if container_id is None else " WHERE container_id = ?"
        rows = self.database.query(
            "SELECT container_id, protocol, container_port, host_ip, host_port FROM ports"
            f"{where} ORDER BY container_port, protocol, host_ip",
            () if container_id is None else (container_id,),
        )
        return [
            PortMapping(str(r[0]), str(r[1]), int(str(r[2])), str(r[3]), int(str(r[4])))
            for r in rows
        ]

    def add_ports(self, mappings: list[PortMapping]) -> None:
        try:
            with self.database.transaction() as cursor:
                cursor.executemany(
                    "INSERT INTO ports (container_id, protocol, container_port, host_ip, "
                    "host_port) VALUES (?, ?, ?, ?, ?)",
                    mappings,
                )
        except sqlite3.IntegrityError:
            raise Conflict("a published port is already allocated") from None
