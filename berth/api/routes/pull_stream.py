"""`POST /images/create?fromImage=`: a pull, answered with Docker's JSON progress stream.

The pull is a `registry_job` (see there how errors before and after the first line are
told). So that a pull failing before any layer moves (an unknown repository or tag, refused
credentials, an unreachable registry) is a plain JSON error, the "Pulling from" line is held
back until a layer moves, and so are "Already exists" lines: when every layer already
existed the image was here, and Docker then prints no layer lines at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from berth import humanize
from berth.api.routes.pull_job import Pulled, PullJob
from berth.api.routes.registry_job import Document, Failed, Finished, error_document, respond
from berth.image.progress import ALREADY_EXISTS, PROGRESS_STATUSES, ProgressEvent

if TYPE_CHECKING:
    from berth.api.request import Answer, Request
    from berth.oci import Platform
    from berth.reference import Reference
    from berth.registry import CredentialSource

BAR_WIDTH = 50
_PULLING_FROM = ": Pulling from "


def pull(
    request: Request,
    reference: Reference,
    *,
    all_tags: bool,
    platform: Platform | None,
    credentials: CredentialSource,
) -> Answer:
    """Start the pull; answer an error if it fails before showing anything, else the stream."""
    job = PullJob(
        request.session.layout,
        reference,
        all_tags=all_tags,
        platform=platform,
        credentials=credentials,
    )
    return respond(job, Lines(reference, all_tags), request)


class Lines:
    """Docker's progress documents for the items of one pull (`docker pull -a`: of several)."""

    def __init__(self, reference: Reference, all_tags: bool) -> None:
        self.reference = reference
        self.all_tags = all_tags
        self.shown = False  # something went out: the answer's status is given
        self.done = False
        self._held: list[Document] = []
        self._moving = False  # a layer of the current image is being fetched
        self._downloaded = False

    def feed(self, item: object) -> list[Document]:
        documents = self._documents(item)
        self.shown |= bool(documents)
        return documents

    def _documents(self, item: object) -> list[Document]:
        if isinstance(item, ProgressEvent):
            return self._event(item)
        if isinstance(item, Pulled):
            return self._pulled(item)
        self.done = True
        if isinstance(item, Failed):
            return [error_document(item.error.message)]
        assert isinstance(item, Finished)
        if not self.all_tags:
            return []
        return [self._status(self.reference.familiar_name)]

    def _event(self, event: ProgressEvent) -> list[Document]:
        if not event.id:  # the image's header ("latest: Pulling from library/busybox")
            self._held.append(header_document(event.status))
            return []
        document = layer_document(event)
        if event.status == ALREADY_EXISTS and not self._moving:
            self._held.append(document)
            return []
        self._moving = True
        documents, self._held = [*self._held, document], []
        return documents

    def _pulled(self, pulled: Pulled) -> list[Document]:
        if not self._moving:  # every layer was here: the image was, Docker says nothing of them
            self._held = [d for d in self._held if d.get("status") != ALREADY_EXISTS]
        documents, self._held = [*self._held, {"status": f"Digest: {pulled.digest}"}], []
        self._moving = False
        self._downloaded |= not pulled.up_to_date
        if not self.all_tags:
            self.done = True
            documents.append(self._status(pulled.reference.familiar()))
        return documents

    def _status(self, name: str) -> Document:
        words = "Downloaded newer image for" if self._downloaded else "Image is up to date for"
        return {"status": f"Status: {words} {name}"}


def header_document(status: str) -> Document:
    """`latest: Pulling from x` -> {"status": "Pulling from x", "id": "latest"}, as dockerd
    sends it (the tag or digest is the line's id)."""
    ident, found, source = status.partition(_PULLING_FROM)
    if not found:
        return {"status": status}
    return {"status": f"Pulling from {source}", "id": ident}


def layer_document(event: ProgressEvent) -> Document:
    """One layer's line; byte counters carry `progressDetail` (Go's omitempty: zeros left
    out) and the rendered bar in `progress`, which a client without a terminal skips."""
    detail: Document = {}
    document: Document = {"status": event.status, "progressDetail": detail}
    if event.status in PROGRESS_STATUSES:
        total = event.total or 0
        if event.current > 0:
            detail["current"] = event.current
        if total > 0:
            detail["total"] = total
        bar = progress_bar(event.current, total)
        if bar:
            document["progress"] = bar
    document["id"] = event.id
    return document


def progress_bar(current: int, total: int) -> str:
    """`[=====>        ]  12.35MB/30.12MB`, as dockerd renders it for a client (its width is
    over 110 columns, so the bar is drawn; it knows no start time, so no time left)."""
    if current <= 0 and total <= 0:
        return ""
    done = humanize.size(current, 4)
    if total <= 0:
        return f"{done:>8}"
    filled = min(BAR_WIDTH, int(current / total * 100) // 2)
    box = f"[{'=' * filled}>{' ' * (BAR_WIDTH - filled)}] "
    if current > total:
        return f"{box}{done:>8}"
    return f"{box}{done:>8}/{humanize.size(total, 4)}"
