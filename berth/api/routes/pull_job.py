"""A pull (`POST /images/create?fromImage=`) as a job of `registry_job`: one reference, or
every tag of a repository."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from berth.api.routes.registry_job import Job

if TYPE_CHECKING:
    from berth.engine import Engine
    from berth.layout import Layout
    from berth.oci import Platform
    from berth.reference import Reference
    from berth.registry import CredentialSource


class Pulled(NamedTuple):
    """One reference is in the store: the digest it resolved to, and whether it already was."""

    reference: Reference
    digest: str
    up_to_date: bool


class PullJob(Job):
    what = "pull"

    def __init__(
        self,
        layout: Layout,
        reference: Reference,
        *,
        all_tags: bool,
        platform: Platform | None,
        credentials: CredentialSource,
    ) -> None:
        """`all_tags`: pull every tag of the reference's repository (`docker pull -a`)."""
        super().__init__(layout)
        self.reference = reference
        self.all_tags = all_tags
        self.platform = platform
        self.credentials = credentials

    def work(self, engine: Engine) -> None:
        with engine.images.registry(self.credentials) as registry:
            references = [self.reference]
            if self.all_tags:
                tags = registry.list_tags(self.reference)
                references = [self.reference.with_tag(tag) for tag in tags]
            for reference in references:
                result = engine.images.pull(
                    reference, platform=self.platform, report=self.report, registry=registry
                )
                self.put(Pulled(reference, result.digest, result.up_to_date))
