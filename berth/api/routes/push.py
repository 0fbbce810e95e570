"""`POST /images/{name}/push`: a push, answered with Docker's JSON progress stream.

As dockerd reads it: `tag` names the tag to push (it replaces one in the name); with no tag
anywhere every tag of the repository goes, as `docker push --all-tags` asks. The client's
credentials come in `X-Registry-Auth`. Each pushed tag ends with the line the docker CLI
prints (`v1: digest: sha256:… size: 528`) and an `aux` document docker-py reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from berth.api.routes.pull_stream import layer_document
from berth.api.routes.registry import credentials_of
from berth.api.routes.registry_job import (
    Document,
    Failed,
    Finished,
    Job,
    error_document,
    respond,
)
from berth.errors import InvalidArgument, NotFound
from berth.image.progress import ProgressEvent
from berth.reference import parse

if TYPE_CHECKING:
    from berth.api.request import Answer, Request
    from berth.engine import Engine
    from berth.layout import Layout
    from berth.reference import Reference
    from berth.registry import CredentialSource


class Pushed(NamedTuple):
    reference: Reference
    digest: str
    size: int


class PushJob(Job):
    what = "push"

    def __init__(self, layout: Layout, reference: Reference, credentials: CredentialSource) -> None:
        """A reference without a tag pushes every tag of its repository."""
        super().__init__(layout)
        self.reference = reference
        self.credentials = credentials

    def work(self, engine: Engine) -> None:
        references = [self.reference]
        if self.reference.tag is None:
            references = engine.images.tags_of(self.reference)
            if not references:
                raise NotFound(
                    f"An image does not exist locally with the tag: {self.reference.familiar_name}"
                )
        with engine.images.registry(self.credentials) as registry:
            for reference in references:
                result = engine.images.push(reference, report=self.report, registry=registry)
                self.put(Pushed(reference, result.digest, result.size))


class Lines:
    def __init__(self) -> None:
        self.shown = False
        self.done = False

    def feed(self, item: object) -> list[Document]:
        documents = self._documents(item)
        self.shown |= bool(documents)
        return documents

    def _documents(self, item: object) -> list[Document]:
        if isinstance(item, ProgressEvent):
            return [layer_document(item) if item.id else {"status": item.status}]
        if isinstance(item, Pushed):
            tag = item.reference.tag
            return [
                {"status": f"{tag}: digest: {item.digest} size: {item.size}"},
                {
                    "progressDetail": {},
                    "aux": {"Tag": tag, "Digest": item.digest, "Size": item.size},
                },
            ]
        self.done = True
        if isinstance(item, Failed):
            return [error_document(item.error.message)]
        assert isinstance(item, Finished)
        return []


def push(request: Request) -> Answer:
    reference = parse(request.params["name"], default_tag=False)
    if reference.digest is not None:
        raise InvalidArgument(f"cannot push a digest reference: {request.params['name']}")
    if tag := request.arg("tag"):
        reference = parse(f"{reference.name}:{tag}")
    job = PushJob(request.session.layout, reference, credentials_of(request))
    return respond(job, Lines(), request)


ROUTES = [("POST", "/images/{name:path}/push", push)]
