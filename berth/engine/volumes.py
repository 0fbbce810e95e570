"""The volumes facade: what the CLI's volume commands and the API's /volumes routes call —
Docker's list filters and documents over the volume service (berth.volume)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from berth.engine.reports import volumes as report
from berth.volume import ANONYMOUS_LABEL

if TYPE_CHECKING:
    from berth.filters import Filters
    from berth.volume import VolumeRecord
    from berth.volume import Volumes as VolumeService

LIST_FILTERS = ("dangling", "name", "driver", "label")


class Volumes:
    def __init__(self, service: VolumeService) -> None:
        self.service = service

    def get(self, name: str) -> VolumeRecord:
        return self.service.get(name)

    def create(self, name: str | None = None, **options: Any) -> VolumeRecord:
        """A volume created without a name is anonymous (Docker 23+): a prune takes it."""
        if name is None:
            options["labels"] = {**(options.get("labels") or {}), ANONYMOUS_LABEL: ""}
        return self.service.create(name, **options)

    def remove(self, name: str) -> None:
        self.service.remove(name)

    def prune(self, filters: Filters) -> tuple[list[str], int]:
        return self.service.prune(filters)

    def matching(self, filters: Filters) -> list[VolumeRecord]:
        filters.only(LIST_FILTERS)
        dangling = filters.boolean("dangling")
        used = self.service.users.volumes_in_use() if dangling is not None else set()

        def selected(record: VolumeRecord) -> bool:
            return (
                (dangling is None or (record.name not in used) == dangling)
                and filters.match("name", record.name)
                and filters.any("driver", lambda v: record.driver == v)
                and filters.labels(record.labels)
            )

        return [r for r in self.service.all() if selected(r)]

    def inspect(self, record: VolumeRecord, *, usage: bool = False) -> dict[str, Any]:
        """Docker's document; with `usage`, its size and how many containers mount it."""
        counted = None
        if usage:
            counted = (
                self.service.size(record.name),
                len(self.service.users.mounting(record.name)),
            )
        return report.inspect(record, self.service.data(record.name), counted)
