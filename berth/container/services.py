"""The narrow interfaces the container lifecycle uses of the services beside it: the
snapshotter (its rootfs) and the network (its sandbox). The volume service's is in
`volume_mounts`. The composition root (berth.engine) hands in the real ones; nothing here
knows how they are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from berth.network.ports import Wanted
    from berth.network.records import NetworkRecord
    from berth.network.setup import NetworkSetup
    from berth.snapshot import Mount


class Snapshots(Protocol):
    def prepare(self, key: str, parent: str | None) -> Mount: ...

    def mounts(self, key: str) -> Mount: ...

    def remove(self, key: str) -> None: ...

    def usage(self, key: str) -> int: ...

    def lowers(self, key: str) -> list[Path]: ...

    def upper(self, key: str) -> Path: ...


class Network(Protocol):
    def register(
        self, container_id: str, mode: str, aliases: list[str], address: str | None = None
    ) -> None: ...

    def address_on(self, container_id: str, network_name: str) -> str | None: ...

    def forget(self, container_id: str) -> None: ...

    def setup(self, container_id: str, mode: str, wanted: list[Wanted]) -> NetworkSetup: ...

    def teardown(self, container_id: str) -> None: ...

    def renamed(self, container_id: str) -> None: ...

    def connect(
        self,
        network: NetworkRecord,
        container_id: str,
        name: str,
        mode: str,
        aliases: list[str],
        running: Callable[[], bool],
    ) -> None: ...

    def disconnect(self, network: NetworkRecord, container_id: str) -> None: ...

    def netns_path(self, container_id: str) -> Path: ...
