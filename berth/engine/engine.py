"""The composition root: opens a store, builds its stores and services, and hands each only
what it needs — the container lifecycle gets the snapshotter, the network sandbox and the
volume service; the network and the volumes get a read-only view of the containers; images
get the containers' image users. Nothing below holds the engine.

Everything is built on first use: `berth ps` must not pay for the pull machinery, nor
`berth images` for the network's. The CLI and the API use the facades (`images`,
`containers`, `networks`, `volumes`, `system`), which speak Docker's documents and filters.
"""

from __future__ import annotations

import _thread  # not threading: every command imports this module
import os
from functools import cached_property
from typing import TYPE_CHECKING

from berth.db import Database
from berth.errors import PermissionDenied, from_os_error
from berth.layout import Layout

if TYPE_CHECKING:
    from berth.build.records import BuildCache
    from berth.container.lifecycle import Lifecycle
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerStore
    from berth.container.stopping import Controls
    from berth.container.view import ContainerView
    from berth.content import ContentStore
    from berth.engine.build import Builder
    from berth.engine.container_tools import ContainerTools
    from berth.engine.containers import Containers
    from berth.engine.image_archives import ImageArchives
    from berth.engine.images import Images
    from berth.engine.networks import Networks
    from berth.engine.system import System
    from berth.engine.volumes import Volumes
    from berth.events import Journal
    from berth.image.service import ImageService
    from berth.monitor.launch import MonitorLauncher
    from berth.network.host import HostNetwork
    from berth.network.networks import Networks as NetworkService
    from berth.network.records import NetworkStore
    from berth.network.sandbox import Sandboxes
    from berth.snapshot import LayerStore, Snapshotter
    from berth.volume import Volumes as VolumeService


class Engine:
    def __init__(
        self, layout: Layout, database: Database, launcher: MonitorLauncher | None = None
    ) -> None:
        self.layout = layout
        self.database = database
        self._launcher = launcher
        self._launcher_lock = _thread.allocate_lock()  # builds start containers from threads
        self._spare_monitors = 0  # monitors to spawn ahead, each during the previous start

    @classmethod
    def open(
        cls, layout: Layout, launcher: MonitorLauncher | None = None, *, rebuild: bool = False
    ) -> Engine:
        """`launcher`: a monitor started ahead by the caller, used by the first container
        start (see `berth.monitor.launch`); the caller keeps the duty to close it.
        `rebuild`: a new database for a store that holds data (system check --repair)."""
        try:
            for directory in (layout.root, layout.tmp, layout.runroot, layout.locks):
                if not directory.is_dir():  # a read-only store is read, never written
                    directory.mkdir(parents=True, exist_ok=True)
            if layout.root.stat().st_mode & 0o777 != 0o700:
                layout.root.chmod(0o700)
        except PermissionError:
            raise PermissionDenied(
                f"cannot create the store at {layout.root}",
                hint="run berth as root, or choose a store you own with --root and --runroot",
            ) from None
        except OSError as error:
            raise from_os_error(error) from None
        holds_data = not rebuild and _holds_data(layout)
        database = Database.open(layout.database, holds_data=holds_data)
        engine = cls(layout, database, launcher)
        if not layout.reserve.exists():  # one stat; berth.space only when there is work
            from berth import space

            space.keep(layout.reserve)
        if _has_unpack_dirs(layout):
            from berth.snapshot.layers import collect_abandoned

            collect_abandoned(layout)  # what a killed pull left: no pull can continue it
        return engine

    def close(self) -> None:
        self.database.close()

    # -- the facades the CLI and the API use ------------------------------------------------

    @cached_property
    def images(self) -> Images:
        from berth.engine.images import Images

        return Images(self.image_service)

    @cached_property
    def image_archives(self) -> ImageArchives:
        from berth.engine.image_archives import ImageArchives

        return ImageArchives(self.image_service)

    @cached_property
    def containers(self) -> Containers:
        from berth.engine.containers import Containers

        return Containers(self)

    @cached_property
    def container_tools(self) -> ContainerTools:
        from berth.engine.container_tools import ContainerTools

        return ContainerTools(self)

    @cached_property
    def networks(self) -> Networks:
        from berth.engine.networks import Networks

        return Networks(
            self.network_service, self.network_records, self.host_network, self.container_records
        )

    @cached_property
    def volumes(self) -> Volumes:
        from berth.engine.volumes import Volumes

        return Volumes(self.volume_service)

    @cached_property
    def build(self) -> Builder:
        from berth.engine.build import Builder

        return Builder(self)

    @cached_property
    def system(self) -> System:
        from berth.engine.system import System

        return System(self.images, self.containers, self.volumes)

    # -- stores ------------------------------------------------------------------------------

    @cached_property
    def journal(self) -> Journal:
        from berth.events import Journal

        return Journal(self.layout.events)

    @cached_property
    def content(self) -> ContentStore:
        from berth.content import ContentStore

        return ContentStore(self.layout)

    @cached_property
    def layers(self) -> LayerStore:
        from berth.snapshot import LayerStore

        return LayerStore(self.layout, self.database)

    @cached_property
    def snapshots(self) -> Snapshotter:
        from berth.snapshot import Snapshotter

        return Snapshotter(self.layout, self.database, self.layers)

    @cached_property
    def container_records(self) -> ContainerStore:
        from berth.container.records import ContainerStore

        return ContainerStore(self.database)

    @cached_property
    def network_records(self) -> NetworkStore:
        from berth.network.records import NetworkStore

        return NetworkStore(self.database)

    # -- services ------------------------------------------------------------------------------

    @cached_property
    def image_service(self) -> ImageService:
        from berth.image.records import ImageStore
        from berth.image.service import ImageService

        return ImageService(
            self.layout,
            self.database,
            ImageStore(self.database),
            lambda: self.content,
            lambda: self.layers,
            lambda: self.container_records,
            self.journal,
            self._build_cache_roots,
        )

    def _build_cache_roots(self) -> tuple[list[str], set[str]]:
        """Asked by the collector only: a pull or a run never builds the cache's store."""
        return self.build_cache.roots()

    @cached_property
    def build_cache(self) -> BuildCache:
        from berth.build.records import BuildCache

        return BuildCache(self.database)

    @cached_property
    def volume_service(self) -> VolumeService:
        from berth.volume import Volumes, VolumeStore

        return Volumes(
            VolumeStore(self.database), self.layout.volumes, self.container_records, self.journal
        )

    @cached_property
    def container_paths(self) -> ContainerPaths:
        from berth.container.paths import ContainerPaths

        return ContainerPaths(self.layout)

    @cached_property
    def container_view(self) -> ContainerView:
        from berth.container.view import ContainerView

        return ContainerView(self.container_records, self.container_paths)

    @cached_property
    def host_network(self) -> HostNetwork:
        from berth.network.host import HostNetwork

        return HostNetwork(self.layout, self.network_records, self.container_view)

    @cached_property
    def sandboxes(self) -> Sandboxes:
        from berth.network.sandbox import Sandboxes

        return Sandboxes(self.host_network, self.network_records, self.network_service)

    @cached_property
    def network_service(self) -> NetworkService:
        from berth.network.networks import Networks as NetworkService

        return NetworkService(self.host_network, self.network_records, self.journal)

    @cached_property
    def lifecycle(self) -> Lifecycle:
        from berth.container.lifecycle import Lifecycle

        return Lifecycle(
            self.container_records,
            self.container_paths,
            self.container_view,
            self.snapshots,
            lambda: self.sandboxes,
            lambda: self.volume_service,
            self.layout.volumes,
            self._monitor_launcher,
            self.journal,
        )

    @cached_property
    def controls(self) -> Controls:
        from berth.container.stopping import Controls

        return Controls(self.lifecycle)

    def _monitor_launcher(self) -> MonitorLauncher:
        """The monitor started ahead (by the caller, or as a spare); a new one otherwise."""
        from berth.monitor.launch import MonitorLauncher

        with self._launcher_lock:
            launcher, self._launcher = self._launcher, None
            if launcher is None:
                launcher = MonitorLauncher(str(self.layout.runroot))
            if self._spare_monitors > 0:
                self._spare_monitors -= 1
                # the next start's, importing meanwhile
                self._launcher = MonitorLauncher(str(self.layout.runroot))
            return launcher

    def monitor_ahead(self) -> None:
        """A build's first step the cache can't give starts a spare monitor at once (if the
        build has RUN steps): its first RUN then finds one ready, as the later ones do."""
        from berth.monitor.launch import MonitorLauncher

        with self._launcher_lock:
            if self._launcher is None and self._spare_monitors > 0:
                self._spare_monitors -= 1
                self._launcher = MonitorLauncher(str(self.layout.runroot))

    def spare_monitors(self, count: int) -> None:
        """A build starts its RUN steps' containers one after another: each start spawns the
        next one's monitor, `count` times in all (no spare nobody uses: on two busy cores a
        wasted interpreter costs the build), so that start-up is off the build's path.
        Zero again: a spare still unused is let go (it exits)."""
        with self._launcher_lock:
            self._spare_monitors = count
            if count == 0 and self._launcher is not None:
                spare, self._launcher = self._launcher, None
                spare.close()


def _holds_data(layout: Layout) -> bool:
    """Whether the store has images or containers on disk: asked only when its database is
    missing or empty (then it is damaged, not new)."""
    database = layout.database
    if database.exists() and database.stat().st_size > 0:
        return False
    for directory in (layout.blobs, layout.snapshots, layout.containers):
        try:
            with os.scandir(directory) as entries:
                if any(True for _ in entries):
                    return True
        except OSError:
            continue
    return False


def _has_unpack_dirs(layout: Layout) -> bool:
    """A look at tmp/ (one directory read, on every command) before anything is imported."""
    try:
        with os.scandir(layout.tmp) as entries:
            return any(entry.name.startswith("unpack-") for entry in entries)
    except OSError:
        return False
