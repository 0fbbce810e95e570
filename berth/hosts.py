"""Registry hosts (`host[:port]`, as image references name them) that are this machine:
Docker speaks to those over plain HTTP without being told they are insecure. Light (`_socket`
only, not ipaddress): `push`'s quick path asks it before anything else."""

from __future__ import annotations

import _socket

IPV6_LOOPBACK = bytes(15) + b"\x01"


def is_loopback(host: str) -> bool:
    """Whether host[:port] names this machine (Docker treats those as insecure): localhost,
    127.0.0.0/8, ::1, written as ipaddress reads them (no shorthand like `127.1`)."""
    name = strip_port(host)
    if name == "localhost":
        return True
    try:
        if ":" in name:
            return _socket.inet_pton(_socket.AF_INET6, name) == IPV6_LOOPBACK
        return _socket.inet_pton(_socket.AF_INET, name)[0] == 127
    except (OSError, ValueError):  # not an address; ValueError: a NUL in it
        return False


def strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host
