"""The system facade: what the CLI's `system` commands and the API's /system routes call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from berth.engine.reports import images as image_report
from berth.filters import Filters

if TYPE_CHECKING:
    from berth.engine.containers import Containers
    from berth.engine.images import Images
    from berth.engine.volumes import Volumes


class System:
    def __init__(self, images: Images, containers: Containers, volumes: Volumes) -> None:
        self.images = images
        self.containers = containers
        self.volumes = volumes

    def df(self) -> dict[str, Any]:
        """`GET /system/df`: every image with its shared size and how many containers use
        it, every container with its size, every volume with its size and users."""
        containers = self.containers.summaries(Filters(), all=True, size=True)
        users: dict[str, int] = {}
        for container in containers:
            users[container["ImageID"]] = users.get(container["ImageID"], 0) + 1
        images = [
            image_report.summary(
                usage.record,
                None,
                shared_size=usage.shared_size,
                containers=users.get(usage.record.id, 0),
            )
            for usage in self.images.usage()
        ]
        volumes = [
            self.volumes.inspect(record, usage=True) for record in self.volumes.matching(Filters())
        ]
        return {
            "LayersSize": self.images.layers_size(),
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }

    def info(self, root: str) -> dict[str, Any]:
        """`GET /info`: what runs, what is stored, and this host's facts."""
        from berth.cgroups.layout import detect
        from berth.container.state import Status
        from berth.engine.reports import system as report

        statuses = [record.status for record in self.containers.all()]
        running = sum(1 for s in statuses if s in (Status.RUNNING, Status.RESTARTING))
        paused = statuses.count(Status.PAUSED)
        counts = report.Counts(
            running, paused, len(statuses) - running - paused, len(self.images.service.all())
        )
        return report.info(counts, report.host(detect().version), root)
