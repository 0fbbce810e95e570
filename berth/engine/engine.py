"""Opening a store: directories, the database, and the services built on them."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from berth.db import Database
from berth.errors import PermissionDenied, SystemFailure
from berth.layout import Layout

if TYPE_CHECKING:
    from berth.content import ContentStore
    from berth.engine.containers import ContainerService
    from berth.engine.images import ImageService
    from berth.engine.networks import NetworkService
    from berth.engine.volumes import VolumeService
    from berth.image import ImageStore
    from berth.monitor.launch import MonitorLauncher
    from berth.snapshot import LayerStore


class Engine:
    def __init__(
        self, layout: Layout, database: Database, launcher: MonitorLauncher | None = None
    ) -> None:
        self.layout = layout
        self.database = database
        self._launcher = launcher

    @classmethod
    def open(cls, layout: Layout, launcher: MonitorLauncher | None = None) -> Engine:
        """`launcher`: a monitor started ahead by the caller, used by the first container
        start (see `berth.monitor.launch`); the caller keeps the duty to close it."""
        try:
            for directory in (layout.root, layout.tmp, layout.runroot, layout.locks):
                directory.mkdir(parents=True, exist_ok=True)
        except PermissionError:
            raise PermissionDenied(
                f"cannot create the store at {layout.root}",
                hint="run berth as root, or choose a store you own with --root and --runroot",
            ) from None
        except OSError as error:
            raise SystemFailure(f"cannot create the store at {layout.root}: {error}") from None
        layout.root.chmod(0o700)
        return cls(layout, Database.open(layout.database), launcher)

    @cached_property
    def content(self) -> ContentStore:
        # Services are imported on first use: `berth images` must not pay for the pull path.
        from berth.content import ContentStore

        return ContentStore(self.layout)

    @cached_property
    def layers(self) -> LayerStore:
        from berth.snapshot import LayerStore

        return LayerStore(self.layout, self.database)

    @cached_property
    def image_records(self) -> ImageStore:
        from berth.image.records import ImageStore

        return ImageStore(self.database)

    @cached_property
    def images(self) -> ImageService:
        from berth.engine.images import ImageService

        return ImageService(self)

    @cached_property
    def containers(self) -> ContainerService:
        from berth.engine.containers import ContainerService

        return ContainerService(self)

    @cached_property
    def volumes(self) -> VolumeService:
        from berth.engine.volumes import VolumeService

        return VolumeService(self)

    @cached_property
    def networks(self) -> NetworkService:
        from berth.engine.networks import NetworkService

        return NetworkService(self)

    def monitor_launcher(self) -> MonitorLauncher:
        """The monitor started ahead, the first time; a new one after that."""
        launcher, self._launcher = self._launcher, None
        if launcher is None:
            from berth.monitor.launch import MonitorLauncher

            launcher = MonitorLauncher()
        return launcher

    def close(self) -> None:
        self.database.close()
