"""Published ports: Docker's `-p` syntax into HostConfig.PortBindings, and, at start, host
ports reserved by binding a socket to each.

A reservation is a real bound socket. Its owner keeps it open while the container runs, as
Podman's conmon does, so no other program, berth or not, can take the port meanwhile, and a
port that is already taken fails at once with Docker's message, before anything is set up.
A TCP reservation listens with SO_REUSEADDR, as docker-proxy's does: a port still in
TIME_WAIT from a server that just used it can be published, and no other socket can bind it
(SO_REUSEADDR or not) while it is held. Nothing ever reaches it: the kernel's DNAT sends
the traffic to the container before any socket is looked up.
"""

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any, NamedTuple

from berth.errors import Conflict, InvalidArgument

PROTOCOLS = ("tcp", "udp")
ANY_ADDRESS = "0.0.0.0"


class Wanted(NamedTuple):
    """One host-side binding asked for: host_port 0 = any free port."""

    protocol: str
    container_port: int
    host_ip: str
    host_ports: tuple[int, ...]  # candidates in order: (0,) for any, a range, or one port


class Reserved(NamedTuple):
    protocol: str
    container_port: int
    host_ip: str
    host_port: int
    sock: socket.socket


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgument(f"invalid {what} port: {text!r}")
    return int(text)


def _range(text: str, what: str) -> list[int]:
    first, dash, last = text.partition("-")
    if not dash:
        return [_port(text, what)]
    start, end = _port(first, what), _port(last, what)
    if end < start:
        raise InvalidArgument(f"invalid {what} port range: {text}")
    return list(range(start, end + 1))


def parse_publish(spec: str) -> list[tuple[str, str, str]]:
    """`-p [ip:][hostPort:]containerPort[/proto]` as (port/proto key, HostIp, HostPort)
    triples, one per container port of a range."""
    text, slash, protocol = spec.partition("/")
    protocol = protocol.lower() if slash else "tcp"
    if protocol not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {protocol}")
    host_ip = ""
    if text.startswith("["):  # [ipv6]:host:container
        end = text.find("]")
        host_ip, text = text[1:end], text[end + 2 :]
    parts = text.split(":")
    if len(parts) == 3 and not host_ip:
        host_ip = parts.pop(0)
    if len(parts) > 2 or not parts[-1]:
        raise InvalidArgument(f"invalid port format for --publish: {spec}")
    host_part = parts[0] if len(parts) == 2 else ""
    if host_ip:
        try:
            address = ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid IP address in --publish: {host_ip}") from None
        if address.version != 4:
            raise InvalidArgument(
                f"cannot publish on {host_ip}: berth's networks are IPv4 only for now"
            )
    container_ports = _range(parts[-1], "container")
    host_ports = _range(host_part, "host") if host_part else []
    if host_ports and len(host_ports) != len(container_ports) and len(container_ports) != 1:
        raise InvalidArgument(
            f"invalid ranges specified for container and host Ports: {parts[-1]} and {host_part}"
        )
    triples = []
    for index, container_port in enumerate(container_ports):
        if not host_ports:
            host = ""
        elif len(container_ports) == 1:
            host = host_part
        else:
            host = str(host_ports[index])
        triples.append((f"{container_port}/{protocol}", host_ip, host))
    return triples


def port_key(text: str) -> tuple[int, str]:
    """ "5432/tcp" or "5432" as (5432, "tcp")."""
    number, _, protocol = str(text).partition("/")
    return _port(number, "container"), (protocol or "tcp").lower()


def wanted(
    bindings: Mapping[str, Any] | None,
    exposed: Mapping[str, Any] | None,
    publish_all: bool,
) -> list[Wanted]:
    """What to bind at start: PortBindings, plus every exposed port with `-P`."""
    chosen: dict[str, list[dict[str, str]]] = {
        key: list(value or [{}]) for key, value in (bindings or {}).items()
    }
    if publish_all:
        for key in exposed or {}:
            chosen.setdefault(key, [{}])
    found = []
    for key, entries in chosen.items():
        container_port, protocol = port_key(key)
        for entry in entries:
            host_ip = str(entry.get("HostIp") or "") or ANY_ADDRESS
            host_port = str(entry.get("HostPort") or "")
            ports = tuple(_range(host_port, "host")) if host_port else (0,)
            found.append(Wanted(protocol, container_port, host_ip, ports))
    return found


def _bind(protocol: str, host_ip: str, port: int) -> socket.socket:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.set_inheritable(True)
        if protocol == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host_ip, port))
        if protocol == "tcp":
            sock.listen(0)  # a listener: a second SO_REUSEADDR bind can't share the port
    except BaseException:
        sock.close()
        raise
    return sock


def reserve(requests: list[Wanted]) -> list[Reserved]:
    """Bind every requested host port, or none: on a taken port, close what was bound and
    fail with Docker's message."""
    done: list[Reserved] = []
    try:
        for request in requests:
            done.append(_reserve_one(request))
    except BaseException:
        release(done)
        raise
    return done


def _reserve_one(request: Wanted) -> Reserved:
    last_error: OSError | None = None
    for candidate in request.host_ports:
        try:
            sock = _bind(request.protocol, request.host_ip, candidate)
        except OSError as error:
            last_error = error
            continue
        port = int(sock.getsockname()[1])
        return Reserved(request.protocol, request.container_port, request.host_ip, port, sock)
    shown = "-".join(str(p) for p in (request.host_ports[0], request.host_ports[-1]))
    if len(request.host_ports) == 1:
        shown = str(request.host_ports[0])
    reason = "port is already allocated"
    if last_error is not None and last_error.errno not in (98,):  # EADDRINUSE
        reason = last_error.strerror or str(last_error)
    raise Conflict(
        f"Bind for {request.host_ip}:{shown} failed: {reason}",
        hint="choose another host port, or stop what uses this one",
    )


def release(reserved: list[Reserved]) -> None:
    for item in reserved:
        item.sock.close()
