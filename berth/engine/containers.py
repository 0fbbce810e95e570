"""The containers facade: what the CLI's container commands and the API's /containers routes
call — containers by name or id, Docker's list filters and documents, and the operations of
the lifecycle (berth.container) by their Docker names."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from berth.container.state import ACTIVE, Status
from berth.container.summary import health_status
from berth.errors import BerthError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from collections.abc import Callable

    from berth.container.lifecycle import Lifecycle
    from berth.container.logs import Follower
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord, ContainerStore
    from berth.container.stopping import Controls
    from berth.container.view import ContainerView
    from berth.engine.networks import Networks
    from berth.filters import Filters
    from berth.image.service import ImageService
    from berth.layout import Layout
    from berth.network.records import Endpoint, NetworkRecord, NetworkStore
    from berth.snapshot import Snapshotter
    from berth.volume import Volumes as VolumeService

LIST_FILTERS = ("status", "name", "id", "ancestor", "label", "exited", "health")
PRUNE_FILTERS = ("until", "label", "label!")
HEALTH = ("starting", "healthy", "unhealthy", "none")


class Parts(Protocol):
    """What the facade uses of the engine, each part built on first use (`ps` needs only
    the records and the lifecycle's reading side)."""

    layout: Layout

    @property
    def container_records(self) -> ContainerStore: ...

    @property
    def container_paths(self) -> ContainerPaths: ...

    @property
    def container_view(self) -> ContainerView: ...

    @property
    def lifecycle(self) -> Lifecycle: ...

    @property
    def controls(self) -> Controls: ...

    @property
    def snapshots(self) -> Snapshotter: ...

    @property
    def image_service(self) -> ImageService: ...

    @property
    def volume_service(self) -> VolumeService: ...

    @property
    def network_records(self) -> NetworkStore: ...

    @property
    def networks(self) -> Networks: ...


class Containers:
    def __init__(self, parts: Parts) -> None:
        self._engine = parts
        self.records = parts.container_records
        self.paths = parts.container_paths
        self.view = parts.container_view

    # -- reading ---------------------------------------------------------------------------

    def refresh(self, record: ContainerRecord) -> ContainerRecord:
        """The container as it is now. Only a container found finished needs the lifecycle
        (to record and release it): reading alone stays light, as `ps` must."""
        observed = self.view.observe(record)
        if observed.changed:
            return self._engine.lifecycle.refresh(record)
        return observed.record

    def lookup(self, text: str) -> ContainerRecord:
        return self.refresh(self.records.lookup(text))

    def get(self, container_id: str) -> ContainerRecord:
        """The container as it is now, by its full id."""
        return self.refresh(self.records.get(container_id))

    def all(self) -> list[ContainerRecord]:
        return [self.refresh(record) for record in self.records.all()]

    def run_dir(self, container_id: str) -> Path:
        return self.paths.run_dir(container_id)

    def log_path(self, container_id: str) -> Path:
        return self.paths.log(container_id)

    def check_log_readable(self, record: ContainerRecord) -> None:
        """Docker's refusal to read the log of a container whose driver keeps none."""
        if (record.host_config.get("LogConfig") or {}).get("Type") == "none":
            raise InvalidArgument("configured logging driver does not support reading")

    def writes_log(self, container_id: str) -> bool:
        """Whether the container may still write to its log (`logs -f` goes on): it runs,
        restarts or is paused; not once it is removed."""
        try:
            return self.get(container_id).status in ACTIVE
        except NotFound:
            return False

    def log_reader(self, container_id: str) -> Follower:
        """The json-file log's reader: its complete records from an offset on, its files
        kept open from one read to the next (what was written is read even once the
        container is removed). The caller closes it."""
        from berth.container import logs

        return logs.Follower(self.paths.log(container_id))

    def log_tail_offset(self, container_id: str, count: int) -> int:
        """Where the log's last `count` records start (found from the end of the file)."""
        from berth.container import logs

        return logs.tail_offset(self.paths.log(container_id), count)

    def summaries(
        self,
        filters: Filters,
        *,
        all: bool = False,
        limit: int = -1,
        size: bool = False,
        networks: bool = False,
    ) -> list[dict[str, Any]]:
        """`GET /containers/json`: the summaries, newest first. Their NetworkSettings are
        filled when `networks` is asked for (the API always asks; `ps`, which prints none of
        them, is spared the network's modules)."""
        filters.only(LIST_FILTERS)
        for value in filters.get("status"):
            if value not in set(Status):
                raise InvalidArgument(f"invalid filter 'status={value}'")
        for value in filters.get("health"):
            if value not in HEALTH:
                raise InvalidArgument(f"Unrecognised filter value for health: {value}")
        records = self.all()
        show_all = all or limit > 0 or "status" in filters or "exited" in filters
        selected = [
            r for r in records if (show_all or r.status in ACTIVE) and self._matches(r, filters)
        ]
        if limit > 0:
            selected = selected[:limit]
        published: dict[str, list[Any]] = {}
        if any(r.status in ACTIVE for r in selected):
            for mapping in self._engine.network_records.ports():
                published.setdefault(mapping.container_id, []).append(mapping)
        from berth.engine.reports import containers as report

        now = time.time()
        volumes = self._engine.layout.volumes
        attached = self._networks(selected) if networks else {}
        return [
            report.summary(
                r,
                published.get(r.id, []),
                volumes,
                now,
                self.sizes(r) if size else None,
                attached.get(r.id),
            )
            for r in selected
        ]

    def _networks(self, records: list[ContainerRecord]) -> dict[str, dict[str, Any]]:
        """Each container's NetworkSettings.Networks, from two queries whatever the count."""
        from berth.engine.reports import networks as report
        from berth.network.setup import network_mode

        store = self._engine.network_records
        known = {network.id: network for network in store.all()}
        named = {network.name: network for network in known.values()}
        joined: dict[str, list[tuple[NetworkRecord, Endpoint]]] = {}
        for endpoint in store.endpoints():
            if endpoint.network_id in known:
                pair = (known[endpoint.network_id], endpoint)
                joined.setdefault(endpoint.container_id, []).append(pair)
        documents = {}
        for record in records:
            mode = network_mode(record.host_config)
            pseudo = named.get(mode) if mode in ("host", "none") else None
            sandbox = report.Sandbox(mode, pseudo, joined.get(record.id, []), [], None)
            documents[record.id] = report.networks(record.id, sandbox)
        return documents

    def _matches(self, record: ContainerRecord, filters: Filters) -> bool:
        if not filters:
            return True
        return (
            filters.any("status", lambda v: record.status == v)
            and filters.match("name", "/" + record.name, record.name)
            and filters.any("id", record.id.startswith)
            and filters.any(
                "exited",
                lambda v: record.status == Status.EXITED and str(record.state.get("ExitCode")) == v,
            )
            and filters.labels(record.config.get("Labels"))
            and filters.any("health", lambda v: health_status(record.state) == v)
            and filters.any("ancestor", lambda v: self._descends(record, v))
        )

    def _descends(self, record: ContainerRecord, text: str) -> bool:
        try:
            return self._engine.image_service.lookup(text).id == record.image_id
        except BerthError:
            return record.image_name == text

    def sizes(self, record: ContainerRecord) -> tuple[int, int]:
        """(what the container wrote, its image's size): Docker's SizeRw and the rest of
        SizeRootFs."""
        try:
            image = self._engine.image_service.records.get(record.image_id).size
        except BerthError:
            image = 0
        return self._engine.lifecycle.size(record), image

    def inspect(self, record: ContainerRecord) -> dict[str, Any]:
        """`docker container inspect`'s document."""
        from berth.engine.reports import containers as report

        snapshots = self._engine.snapshots
        lowers: tuple[str, ...] = ()
        try:
            upper: Path | None = snapshots.upper(record.id)
            mounted = snapshots.mounts(record.id)
            work: Path | None = Path(str(mounted.work))
            lowers = tuple(str(lower) for lower in mounted.lowers)
        except NotFound:
            upper = work = None
        storage = report.Storage(
            self.paths.directory(record.id), upper, work, self._engine.layout.volumes, lowers
        )
        settings = self._engine.networks.settings(record)
        return report.inspect(record, storage, settings)

    # -- the lifecycle ------------------------------------------------------------------

    def create(
        self,
        config: dict[str, Any],
        host_config: dict[str, Any],
        name: str | None,
        aliases: list[str] | None = None,
        platform: str | None = None,
        address: str | None = None,
        container_id: str | None = None,
    ) -> ContainerRecord:
        """`platform` (the API's `?platform=`): the image must be for it, as Docker's create
        checks (a mismatch is NotFound, which makes the docker CLI pull the right one).
        `address`: the IPv4 address asked for on its network (`--ip`). `container_id`: the
        id `run -d` chose for it, its conmon spawned already (`monitors.spawn_ahead`)."""
        images = self._engine.image_service
        text = str(config.get("Image") or "")
        if not text:
            raise InvalidArgument("no image given: Config.Image is empty")
        image = images.lookup(text)
        parsed = images.config(image)
        if platform:
            from berth.oci import parse_platform

            wanted, have = parse_platform(platform), parsed.platform
            if (wanted.os, wanted.architecture) != (have.os, have.architecture):
                raise NotFound(
                    f"image with reference {text} was found but does not match the specified "
                    f"platform: wanted {platform}, actual: {have.os}/{have.architecture}"
                )
        return self._engine.lifecycle.create(
            image,
            parsed.config,
            config,
            host_config,
            name,
            aliases,
            address,
            container_id,
        )

    def start(
        self,
        record: ContainerRecord,
        *,
        wait_for_attach: bool = False,
        meanwhile: Callable[[], object] | None = None,
    ) -> ContainerRecord:
        return self._engine.lifecycle.start(
            record, wait_for_attach=wait_for_attach, meanwhile=meanwhile
        )

    def restart(
        self, record: ContainerRecord, timeout: float | None = None, signal_name: str | None = None
    ) -> ContainerRecord:
        """Stop (if running), start, and say so: Docker's `restart` event follows `start`."""
        started = self.start(self.stop(record, timeout, signal_name))
        self._engine.lifecycle.announce("restart", started)
        return started

    def prepare_removal(self) -> None:
        """Load what `remove` needs now (`run --rm` calls it while its container starts, so
        none of it is on the path from the container's exit to the command's)."""
        import shutil  # noqa: F401  (the removal's discard of directories and snapshot)

        self._engine.controls.lifecycle.runtime()

    def stop(
        self, record: ContainerRecord, timeout: float | None = None, signal_name: str | None = None
    ) -> ContainerRecord:
        return self._engine.controls.stop(record, timeout, signal_name)

    def kill(self, record: ContainerRecord, sig: int, *, all_processes: bool = False) -> None:
        self._engine.controls.kill(record, sig, all_processes=all_processes)

    def pause(self, record: ContainerRecord) -> None:
        self._engine.controls.pause(record)

    def unpause(self, record: ContainerRecord) -> None:
        self._engine.controls.unpause(self.refresh(record))

    def remove(
        self, record: ContainerRecord, *, force: bool = False, volumes: bool = False
    ) -> None:
        self._engine.controls.remove(record, force=force, volumes=volumes)

    def wait_exit(self, record: ContainerRecord, timeout: float | None) -> ContainerRecord | None:
        return self._engine.controls.wait_exit(record, timeout)

    def wait_removed(self, record: ContainerRecord) -> None:
        self._engine.controls.wait_removed(record)

    def rename(self, record: ContainerRecord, name: str) -> None:
        self._engine.lifecycle.rename(record, name)

    def cleanup(self, record: ContainerRecord) -> None:
        self._engine.lifecycle.cleanup(record)

    def connect(self, network: NetworkRecord, record: ContainerRecord, aliases: list[str]) -> None:
        self._engine.lifecycle.connect(network, record, aliases)

    def disconnect(self, network: NetworkRecord, record: ContainerRecord) -> None:
        self._engine.lifecycle.disconnect(network, record)

    def prune(self, filters: Filters) -> tuple[list[str], int]:
        """Remove every container that is not running (created ones too, as Docker), with
        the labels asked for and created before `until` if given; returns the ids removed
        and the bytes their writable layers held."""
        from berth.humanize import timestamp

        filters.only(PRUNE_FILTERS)
        until = filters.time("until")
        removed: list[str] = []
        reclaimed = 0
        for record in self.all():
            if record.status in ACTIVE or not filters.labels(record.config.get("Labels")):
                continue
            if until is not None and timestamp(record.created) >= until:
                continue
            size = self._engine.lifecycle.size(record)
            try:
                self._engine.controls.remove(record)
            except BerthError:
                continue
            removed.append(record.id)
            reclaimed += size
        return removed, reclaimed
