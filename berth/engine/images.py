"""The images facade: what the CLI's image commands and the API's /images routes call —
Docker's list filters and documents over the image service (berth.image)."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from berth import humanize
from berth.errors import NotFound
from berth.image.service import HistoryEntry, ImageService, ImageUsage, Removal
from berth.reference import parse

if TYPE_CHECKING:
    from berth.filters import Filters
    from berth.image.progress import Reporter
    from berth.image.pull import PullResult
    from berth.image.push import PushResult
    from berth.image.records import ImageRecord
    from berth.oci import ImageConfig, Platform
    from berth.reference import Reference
    from berth.registry import CredentialSource, Registry

LIST_FILTERS = ("dangling", "reference", "label", "before", "since", "until")


class Images:
    def __init__(self, service: ImageService) -> None:
        self.service = service

    def lookup(self, text: str) -> ImageRecord:
        return self.service.lookup(text)

    def config(self, record: ImageRecord) -> ImageConfig:
        return self.service.config(record)

    def summaries(self, filters: Filters, *, shared_size: bool = False) -> list[dict[str, Any]]:
        """`GET /images/json`: the summaries; a reference filter keeps the matching tags.
        `shared_size`: each image's bytes in layers other images use too (else -1, as
        Docker answers when not asked)."""
        filters.only(LIST_FILTERS)
        dangling = filters.boolean("dangling")
        until = filters.time("until")
        records = self.service.all()
        if dangling is not None:
            records = [r for r in records if r.dangling == dangling]
        if until is not None:
            records = [r for r in records if humanize.timestamp(r.created) < until]
        for key, keep_older in (("before", True), ("since", False)):
            for text in filters.get(key):
                pivot = self.service.lookup(text)
                records = [
                    r
                    for r in records
                    if (r.created < pivot.created if keep_older else r.created > pivot.created)
                ]
        from berth.engine.reports import images as report

        shared = {u.record.id: u.shared_size for u in self.service.usage()} if shared_size else {}
        summaries = []
        for record in records:
            labels = None
            if "label" in filters or "label!" in filters:
                labels = self.service.config(record).config.get("Labels") or {}
                if not filters.labels(labels):
                    continue
            names = None
            if "reference" in filters:
                tags = [t for t in record.tags if _matches(filters.get("reference"), t)]
                digests = [d for d in record.digests if _matches(filters.get("reference"), d)]
                if not tags and not digests:
                    continue
                names = (tags, digests)
            summaries.append(
                report.summary(record, labels, names, shared_size=shared.get(record.id, -1))
            )
        return summaries

    def inspect(self, text: str) -> dict[str, Any]:
        from berth.engine.reports import images as report

        record = self.service.lookup(text)
        return report.inspect(record, self.service.config(record), self.service.layer_dirs(record))

    def history(self, text: str) -> list[HistoryEntry]:
        return self.service.history(text)

    def history_documents(self, text: str) -> list[dict[str, Any]]:
        """`GET /images/{name}/history`: newest first, the top entry with the image's id and
        tags."""
        from berth.engine.reports import images as report

        record = self.service.lookup(text)
        return report.history(self.service.history(record.id), list(record.tags))

    def usage(self) -> list[ImageUsage]:
        return self.service.usage()

    def layers_size(self) -> int:
        return self.service.layers_size()

    def pull(
        self,
        reference: Reference,
        *,
        platform: Platform | None = None,
        max_concurrent_downloads: int = 3,
        report: Reporter | None = None,
        registry: Registry | None = None,
    ) -> PullResult:
        from berth.image import progress

        return self.service.pull(
            reference,
            platform=platform,
            max_concurrent_downloads=max_concurrent_downloads,
            report=report or progress.ignore,
            registry=registry,
        )

    def push(
        self,
        reference: Reference,
        *,
        max_concurrent_uploads: int = 5,
        report: Reporter | None = None,
        registry: Registry | None = None,
    ) -> PushResult:
        """Push the image tagged `reference` (a name without a tag is `latest`'s)."""
        from berth.image import progress

        image_id = self.service.records.tagged(str(reference))
        if image_id is None:
            raise NotFound(
                f"An image does not exist locally with the tag: {reference.familiar_name}"
            )
        record = self.service.records.get(image_id)
        return self.service.push(
            record,
            reference,
            max_concurrent_uploads=max_concurrent_uploads,
            report=report or progress.ignore,
            registry=registry,
        )

    def tags_of(self, reference: Reference) -> list[Reference]:
        """Every tag of a repository in the store (`push --all-tags`)."""
        found = []
        for record in self.service.all():
            for name in record.tags:
                tagged = parse(name)
                if tagged.name == reference.name:
                    found.append(tagged)
        return sorted(found, key=str)

    def registry(self, credentials: CredentialSource | None = None) -> Registry:
        """A registry client (the caller closes it); `credentials` replace the stored ones."""
        return self.service.registry(credentials)

    def login(self, server: str, username: str, password: str) -> None:
        """Check credentials against a registry, as `docker login` does; nothing is stored."""
        with self.service.registry() as registry:
            registry.login(server, username, password)

    def distribution(self, reference: Reference, registry: Registry) -> dict[str, Any]:
        """`GET /distribution/{name}/json`: what the registry serves for a reference — its
        manifest's (or index's) descriptor and the platforms it offers — without pulling."""
        from berth.engine.reports import images as report
        from berth.oci import INDEX_TYPES, parse_config, parse_index, parse_manifest

        resolved = registry.resolve(reference)
        if resolved.media_type in INDEX_TYPES:
            index = parse_index(resolved.data, resolved.media_type)
            platforms = [entry.platform for entry in index.manifests if entry.platform]
        else:
            manifest = parse_manifest(resolved.data, resolved.media_type)
            blob = manifest.config
            config = parse_config(registry.fetch_blob(reference, blob.digest, blob.size))
            platforms = [config.platform]
        return report.distribution(
            resolved.media_type, resolved.digest, len(resolved.data), platforms
        )

    def tag(self, source: str, target: str) -> None:
        self.service.tag(source, target)

    def remove(self, text: str, *, force: bool = False) -> list[Removal]:
        return self.service.remove(text, force=force)

    def prune(self, filters: Filters) -> tuple[list[Removal], int]:
        return self.service.prune(filters)


def _matches(patterns: list[str], name: str) -> bool:
    """Docker's reference filter: a pattern with a tag matches `repository:tag`, one without
    matches the repository (familiar names, shell-style wildcards)."""
    reference = parse(name)
    repository, tag = reference.familiar_name, reference.tag
    for pattern in patterns:
        if ":" in pattern.rpartition("/")[2]:
            if tag is not None and fnmatch.fnmatchcase(f"{repository}:{tag}", pattern):
                return True
        elif fnmatch.fnmatchcase(repository, pattern):
            return True
    return False
