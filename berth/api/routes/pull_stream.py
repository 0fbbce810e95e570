"""`POST /images/create?fromImage=`: a pull, answered with Docker's JSON progress stream.

The answer's status is chosen once there is something to show: a pull that fails before any
layer moves (an unknown repository or tag, refused credentials, an unreachable registry) is a
plain JSON error with Docker's status, as dockerd answers before its first write; one that
fails later ends the stream with an error line (`{"errorDetail": ..., "error": ...}`, which the
docker CLI prints). So the "Pulling from" line is held back until a layer moves, and so are
"Already exists" lines: when every layer already existed the image was here, and Docker then
prints no layer lines at all.

The pull runs in a worker (`PullJob`); the response waits for it in one-second steps, each a
chance to notice a client that went away (the pull is cancelled and the worker joined) or a
server that stops.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from berth import humanize
from berth.api.request import Answer, Request, Stream
from berth.api.routes.pull_job import Failed, Finished, Item, Pulled, PullJob
from berth.api.wire import ClientGone
from berth.errors import Unavailable
from berth.image.progress import ALREADY_EXISTS, PROGRESS_STATUSES, ProgressEvent

if TYPE_CHECKING:
    import threading

    from berth.oci import Platform
    from berth.reference import Reference
    from berth.registry import CredentialSource

WAIT_STEP = 1.0
BAR_WIDTH = 50
_PULLING_FROM = ": Pulling from "
SHUTTING_DOWN = "the server is shutting down: the pull was stopped"

Document = dict[str, Any]


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
    lines = Lines(reference, all_tags)
    job.start()
    try:
        first = _first_lines(job, lines, request)
    except BaseException:
        job.cancel()
        job.join()
        raise
    chunks = _stream(job, lines, first, request.stopping)
    # A stream the server never starts (its head could not be sent) cancels the pull when
    # it is dropped; one it starts does so itself when it ends, however it ends.
    weakref.finalize(chunks, job.cancel)
    return Stream(chunks)


def _first_lines(job: PullJob, lines: Lines, request: Request) -> list[Document]:
    while True:
        item = job.next(WAIT_STEP)
        if item is None:
            if request.connection.client_gone():
                raise ClientGone("the client closed the connection during the pull")
            if request.stopping.is_set():
                raise Unavailable(SHUTTING_DOWN)
            continue
        if isinstance(item, Failed) and not lines.shown:
            job.join()
            raise item.error
        documents = lines.feed(item)
        if documents or lines.done:
            return documents


def _stream(
    job: PullJob, lines: Lines, first: list[Document], stopping: threading.Event
) -> Iterator[bytes]:
    try:
        yield from map(_encode, first)
        while not lines.done:
            if stopping.is_set():
                job.cancel()
                yield _encode(error_document(SHUTTING_DOWN))
                return
            item = job.next(WAIT_STEP)
            if item is None:
                yield b""  # a chance for the connection to notice a client that went away
                continue
            yield from map(_encode, lines.feed(item))
    finally:
        job.cancel()  # a no-op once the worker is done
        job.join()


def _encode(document: Document) -> bytes:
    return json.dumps(document).encode() + b"\n"


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

    def feed(self, item: Item) -> list[Document]:
        documents = self._documents(item)
        self.shown |= bool(documents)
        return documents

    def _documents(self, item: Item) -> list[Document]:
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


def error_document(message: str) -> Document:
    return {"errorDetail": {"message": message}, "error": message}
