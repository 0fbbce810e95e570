"""Routes: volumes — list, create, inspect, remove and prune, in Docker's shapes (`/volumes`),
through the engine's volumes facade. A volume is named by its name alone, as Docker's local
driver names them."""

from __future__ import annotations

from berth.api.fields import Fields
from berth.api.request import Answer, Request, json_reply, no_content
from berth.api.router import RouteSpec
from berth.errors import NotFound, Unavailable

CREATE_FIELDS = ("Name", "Driver", "DriverOpts", "Labels", "ClusterVolumeSpec")


def list_volumes(request: Request) -> Answer:
    """Warnings is null: berth's one driver has nothing to warn about (dockerd's answer when
    every driver listed)."""
    volumes = request.engine.volumes
    documents = [volumes.inspect(record) for record in volumes.matching(request.filters())]
    return json_reply({"Volumes": documents, "Warnings": None})


def create_volume(request: Request) -> Answer:
    """An empty body makes an anonymous volume, as in dockerd; a name that exists answers the
    existing volume (201 still)."""
    body = Fields(request.json_object(required=False), CREATE_FIELDS, "VolumeCreateRequest")
    if "ClusterVolumeSpec" in body:
        raise Unavailable("cluster volumes need a swarm, and berth runs none")
    volumes = request.engine.volumes
    record = volumes.create(
        body.string("Name") or None,
        driver=body.string("Driver") or "local",
        labels=body.string_map("Labels"),
        options=body.string_map("DriverOpts"),
    )
    return json_reply(volumes.inspect(record), 201)


def inspect_volume(request: Request) -> Answer:
    volumes = request.engine.volumes
    return json_reply(volumes.inspect(volumes.get(request.params["name"])))


def remove(request: Request) -> Answer:
    """`force` makes a volume that is not there no error; one in use stays a conflict (409),
    as in dockerd."""
    try:
        request.engine.volumes.remove(request.params["name"])
    except NotFound:
        if not request.flag("force"):
            raise
    return no_content()


def prune(request: Request) -> Answer:
    """Since API 1.42 only anonymous volumes go unless the filters say `all`; older clients
    get the old meaning, every unused volume."""
    filters = request.filters()
    if request.version < (1, 42):
        filters = filters.adding("all", "true")
    removed, reclaimed = request.engine.volumes.prune(filters)
    return json_reply({"VolumesDeleted": removed, "SpaceReclaimed": reclaimed})


ROUTES: list[RouteSpec] = [
    ("GET", "/volumes", list_volumes),
    ("POST", "/volumes/create", create_volume),
    ("POST", "/volumes/prune", prune),
    ("GET", "/volumes/{name}", inspect_volume),
    ("DELETE", "/volumes/{name}", remove),
]
