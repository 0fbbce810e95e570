"""What a container's start needs from the network (`NetworkSetup`), and Docker's network
modes: the default bridge, a network's name, `host`, `none`, `container:<other>`. Light: a
container on `--network none` or `host` needs nothing else of this package."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import socket

DEFAULT_NETWORK = "bridge"


class Links(NamedTuple):
    """Legacy links (`--link NAME:ALIAS`) as a start needs them: on the default bridge,
    /etc/hosts lines (address, names) and the environment Docker derives from each linked
    container; on a user-defined network, the aliases its resolver answers for this
    container only (alias -> the linked container's name)."""

    hosts: tuple[tuple[str, str], ...] = ()
    env: tuple[str, ...] = ()
    aliases: Mapping[str, str] | None = None


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
    links: Links = Links()


def isolated() -> NetworkSetup:
    """`--network none`, or a container disconnected from everything: lo only."""
    return NetworkSetup(None, None, False, [], None, [], None)


def on_host() -> NetworkSetup:
    return NetworkSetup("host", None, False, [], None, [], None)


def joined(netns: Path, etc_directory: Path) -> NetworkSetup:
    """`--network container:<other>`: the other's namespace and /etc files."""
    return NetworkSetup(str(netns), None, False, [], None, [], etc_directory)


def network_mode(host_config: Mapping[str, Any]) -> str:
    mode = str(host_config.get("NetworkMode") or "default")
    return DEFAULT_NETWORK if mode == "default" else mode


def default_hostname(mode: str, container_id: str) -> str:
    """A container's host name when none is given: the host's own with `--network host`
    (as Docker's: the container shares the host's network identity), else its short id."""
    if mode == "host":
        import socket

        return socket.gethostname()
    return container_id[:12]


def is_bridged(mode: str) -> bool:
    """Whether a network mode puts the container on bridge networks (endpoints of its own)."""
    return mode not in ("host", "none") and not mode.startswith("container:")
