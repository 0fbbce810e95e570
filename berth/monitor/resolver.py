"""The embedded DNS resolver of a container on user-defined networks (Docker's 127.0.0.11),
run by its monitor in a thread: the engine bound the sockets inside the container's network
namespace and passed them down; the names come from the per-network tables the engine
rewrites whenever a container joins or leaves, read again whenever they change."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

HOST_RESOLV_CONF = Path("/etc/resolv.conf")


class NameTables:
    """`aliases`: names only this container's resolver answers (its links on user-defined
    networks), each the name of a container it stands for."""

    def __init__(self, paths: Sequence[str], aliases: Mapping[str, str] | None = None) -> None:
        self.paths = list(paths)
        self.aliases = {k.lower(): v.lower() for k, v in (aliases or {}).items()}
        self._seen: dict[str, tuple[int, dict[str, list[str]]]] = {}

    def _table(self, path: str) -> dict[str, list[str]]:
        try:
            stamp = os.stat(path).st_mtime_ns
        except OSError:
            return {}
        cached = self._seen.get(path)
        if cached is None or cached[0] != stamp:
            try:
                table = json.loads(Path(path).read_text())
            except (OSError, ValueError):
                table = {}
            self._seen[path] = cached = (stamp, table)
        return cached[1]

    def reverse(self, address: str) -> list[str]:
        """The names that resolve to `address` (PTR), the container's own name first."""
        found: list[str] = []
        for path in self.paths:
            for name, addresses in self._table(path).items():
                if address in addresses and name not in found:
                    found.append(name)
        return found

    def lookup(self, name: str) -> list[str]:
        name = self.aliases.get(name, name)
        found: list[str] = []
        for path in self.paths:
            for address in self._table(path).get(name, []):
                if address not in found:
                    found.append(address)
        return found


class Resolver:
    """The serving thread and its sockets; `stop` ends both."""

    def __init__(
        self,
        fds: Sequence[int],
        names: Sequence[str],
        servers: Sequence[str] = (),
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        """`servers`: where names that are not the networks' go (the container's --dns);
        none given, the host's resolv.conf says."""
        from berth.network import dns

        self.sockets = [socket.socket(fileno=fds[0]), socket.socket(fileno=fds[1])]
        try:
            text = "".join(f"nameserver {s}\n" for s in servers) or HOST_RESOLV_CONF.read_text()
            upstreams = dns.upstream_servers(text)
        except OSError:
            upstreams = []
        self.event = threading.Event()
        tables = NameTables(names, aliases)
        self.thread = threading.Thread(
            target=dns.serve,
            args=(*self.sockets, tables.lookup, upstreams, self.event, tables.reverse),
            daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        self.event.set()
        self.thread.join(timeout=3)
        for sock in self.sockets:
            sock.close()
