"""`/images/...`: list, pull (`create`), inspect, history, tag, remove and prune.

Image names hold slashes and ports (`127.0.0.1:5000/team/app:v1`), so the routes take them as
`{name:path}`. `GET /images/json` can't be read as an inspect of an image named "" (a name is
at least one character before `/json`), and the fixed paths are listed first for their
methods. The documents come from the engine's reports, which the CLI prints too; this module
adds what differs between API versions.
"""

from __future__ import annotations

from typing import Any

from berth.api.request import Answer, Request, json_reply, no_content
from berth.api.routes import pull_stream
from berth.api.routes.registry import credentials_of
from berth.errors import InvalidArgument
from berth.reference import Reference, is_digest, parse


def list_images(request: Request) -> Answer:
    """`GET /images/json`. Intermediate images don't exist in berth, so `all` changes
    nothing; `digests` neither (RepoDigests are always there, as in dockerd)."""
    filters = request.filters()
    if request.version < (1, 25) and "reference" not in filters and request.arg("filter"):
        filters = filters.adding("reference", request.arg("filter") or "")
    shared_size = request.version >= (1, 42) and request.flag("shared-size")
    summaries = request.engine.images.summaries(filters, shared_size=shared_size)
    for summary in summaries:
        versioned_summary(request, summary)
    return json_reply(summaries)


def versioned_summary(request: Request, summary: dict[str, Any]) -> None:
    """An image's summary in the request's version (the list's, and `/system/df`'s)."""
    if request.version < (1, 43) and not summary["RepoTags"] and not summary["RepoDigests"]:
        summary["RepoTags"] = ["<none>:<none>"]
        summary["RepoDigests"] = ["<none>@<none>"]
    if request.version >= (1, 44):
        summary.pop("VirtualSize", None)


def inspect(request: Request) -> Answer:
    document: dict[str, Any] = request.engine.images.inspect(request.params["name"])
    if request.version < (1, 44):
        document["VirtualSize"] = document["Size"]
        document["Created"] = document["Created"] or "0001-01-01T00:00:00Z"
    if request.version < (1, 45):  # the build step's container: none, for a pulled image
        document.setdefault("Container", "")
        from berth.engine.reports.config import CONFIG_DEFAULTS

        # every field at its zero value, as dockerd showed a pulled image's build container
        document.setdefault("ContainerConfig", {**CONFIG_DEFAULTS})
    return json_reply(document)


def history(request: Request) -> Answer:
    return json_reply(request.engine.images.history_documents(request.params["name"]))


def tag(request: Request) -> Answer:
    """`POST /images/{name}/tag?repo=&tag=`: 201; `repo` may carry the tag itself."""
    repository = request.arg("repo") or ""
    if not repository:
        raise InvalidArgument("repository name must have at least one component")
    target = parse(repository, default_tag=False)
    if target.digest is not None:
        raise InvalidArgument("refusing to create a tag with a digest reference")
    new_tag = request.arg("tag") or target.tag or "latest"
    target = parse(f"{target.name}:{new_tag}")
    if target.familiar_name == "sha256":
        raise InvalidArgument("refusing to create an ambiguous tag using digest algorithm as name")
    request.engine.images.tag(request.params["name"], str(target))
    return no_content(201)


def remove(request: Request) -> Answer:
    """`DELETE /images/{name}`: what was untagged and deleted. There are no parent images to
    keep, so `noprune` changes nothing."""
    name = request.params["name"]
    if not name.strip():
        raise InvalidArgument("image name cannot be blank")
    removals = request.engine.images.remove(name, force=request.flag("force"))
    return json_reply([{removal.action: removal.value} for removal in removals])


def prune(request: Request) -> Answer:
    removals, reclaimed = request.engine.images.prune(request.filters())
    deleted = [{removal.action.capitalize(): removal.value} for removal in removals]
    return json_reply({"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed})


def create(request: Request) -> Answer:
    """`POST /images/create`: a pull (`fromImage`) or an import (`fromSrc`)."""
    image = request.arg("fromImage") or ""
    if not image:
        if request.arg("fromSrc"):
            from berth.api.routes import image_import

            return image_import.create(request)
        raise InvalidArgument("fromImage is required: the name of the image to pull")
    reference, all_tags = pull_reference(image, request.arg("tag") or "")
    platform = None
    if request.version >= (1, 32) and (text := request.arg("platform")):
        from berth.oci import parse_platform

        platform = parse_platform(text)
    return pull_stream.pull(
        request,
        reference,
        all_tags=all_tags,
        platform=platform,
        credentials=credentials_of(request),
    )


def pull_reference(image: str, tag: str) -> tuple[Reference, bool]:
    """What `fromImage` and `tag` name, as dockerd reads them: `tag` may be a digest (the
    docker CLI sends `fromImage=NAME&tag=sha256:...`) and replaces a tag in `fromImage`;
    with neither a tag nor a digest, every tag is pulled (True). A tag next to a digest is
    refused: the two could name different images."""
    reference = parse(image.removesuffix(":"), default_tag=False)  # `pull -a` may send `NAME:`
    if not tag:
        return reference, reference.tag is None and reference.digest is None
    if is_digest(tag):
        if reference.digest not in (None, tag):
            raise InvalidArgument(f"conflicting digests: {image} and {tag}")
        return reference.with_digest(tag), False
    if reference.digest is not None:
        raise InvalidArgument(
            f"cannot pull {image} with tag {tag!r}: a reference with a digest takes no tag"
        )
    return parse(f"{reference.name}:{tag}"), False


ROUTES = [
    ("GET", "/images/json", list_images),
    ("POST", "/images/create", create),
    ("POST", "/images/prune", prune),
    ("GET", "/images/{name:path}/json", inspect),
    ("GET", "/images/{name:path}/history", history),
    ("POST", "/images/{name:path}/tag", tag),
    ("DELETE", "/images/{name:path}", remove),
]
