"""`POST /images/create?fromSrc=`: an import, answered as dockerd answers it.

`fromSrc=-` imports the request's body; anything else is a URL to download (`http://` is
added to one without a scheme). `repo` names the new image (it may carry the tag; `tag`
replaces it), `changes` (repeated) are Dockerfile instructions, `message` the comment
(dockerd's default: "Imported from " and the source as given), `platform` (API 1.32+) the
image's platform.

As dockerd: an import from the body writes nothing before it is done, so a refusal is a
plain JSON error with its status; a download that the server refuses is too, but once it
has started ("Downloading from …"), a failure is the stream's last line
(`{"errorDetail": …, "error": …}`). The answer's last line is `{"status": "sha256:…"}`.
dockerd also sends "Importing" progress while it downloads: berth does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from berth.api.request import Answer, Reply, Request
from berth.api.routes.registry_job import error_document
from berth.errors import BerthError, InvalidArgument
from berth.reference import parse


def create(request: Request) -> Answer:
    source = request.arg("fromSrc") or ""
    reference = import_reference(request.arg("repo") or "", request.arg("tag") or "")
    platform = (request.arg("platform") or "") if request.version >= (1, 32) else ""
    message = request.arg("message") or f"Imported from {source}"
    builder = request.engine.build

    def run(chunks: Iterable[bytes]) -> str:
        return builder.import_image(
            chunks,
            reference,
            message=message,
            changes=request.args("changes"),
            platform=platform,
        )

    if source == "-":
        return _lines({"status": run(request.connection.body_chunks())})
    url = source if "://" in source else f"http://{source}"
    with builder.download(url) as chunks:
        started = {"status": f"Downloading from {url}"}
        try:
            image_id = run(chunks)
        except BerthError as error:
            return _lines(started, error_document(error.message))
    return _lines(started, {"status": image_id})


def import_reference(repo: str, tag: str) -> str | None:
    """The new image's name from `repo` and `tag`, as dockerd's RepoTagReference reads them:
    none without `repo`; `tag` replaces a tag in `repo`; never a digest."""
    if not repo:
        return None
    named = parse(repo, default_tag=False)
    if named.digest is not None:
        raise InvalidArgument("cannot import digest reference")
    return f"{named.name}:{tag or named.tag or 'latest'}"


def _lines(*documents: dict[str, Any]) -> Reply:
    body = b"".join(json.dumps(document).encode() + b"\n" for document in documents)
    return Reply(200, body, [("Content-Type", "application/json")])
