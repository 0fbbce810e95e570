"""`/containers`: list, create, inspect, rename, update, top, changes, remove and prune —
and, through `containers_state` and `container_stats`, the lifecycle's operations and the
stats stream. Every container is found and changed through the engine's containers facade,
so one made here is the one `berth ps` lists, and the other way round.
"""

from __future__ import annotations

import contextlib
from typing import Any

from berth.api.request import Answer, Request, json_reply, no_content
from berth.api.router import RouteSpec
from berth.api.routes import container_stats, containers_state
from berth.errors import BerthError, InvalidArgument

PREDEFINED_NETWORKS = ("bridge", "default", "host", "none")
UPDATE_FIELDS = (
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "NanoCpus",
    "CpuShares",
    "CpuQuota",
    "CpuPeriod",
    "CpusetCpus",
)


def list_containers(request: Request) -> Answer:
    limit = request.integer("limit", -1)
    assert limit is not None
    summaries = request.engine.containers.summaries(
        request.filters(),
        all=request.flag("all"),
        limit=limit,
        size=request.flag("size"),
        networks=True,
    )
    return json_reply(summaries)


def create(request: Request) -> Answer:
    """201 {"Id", "Warnings"}; a missing image is a 404 (`No such image`), on which the
    docker CLI pulls it and asks again."""
    from berth.api.routes import container_config

    body = request.json_object()
    if request.version < (1, 44):
        _as_before_1_44(body)
    wanted = container_config.parse(body)
    engine = request.engine
    name = request.arg("name") or None
    containers = engine.containers
    record = containers.create(
        wanted.config,
        wanted.host_config,
        name,
        wanted.aliases,
        platform=request.arg("platform") or None,
        address=wanted.address,
    )
    try:
        for network, aliases in wanted.other_networks.items():
            containers.connect(engine.networks.lookup(network), record, aliases)
    except BaseException:
        with contextlib.suppress(BerthError):  # created whole or not at all
            containers.remove(containers.get(record.id), force=True, volumes=True)
        raise
    return json_reply({"Id": record.id, "Warnings": []}, 201)


def _as_before_1_44(body: dict[str, Any]) -> None:
    """What API 1.44 added to create, as dockerd takes it from older clients: a healthcheck's
    StartInterval is ignored, and a container is created on one network at most."""
    health = body.get("Healthcheck")
    if isinstance(health, dict):
        health.pop("StartInterval", None)
    networking = body.get("NetworkingConfig")
    endpoints = networking.get("EndpointsConfig") if isinstance(networking, dict) else None
    if isinstance(endpoints, dict) and len(endpoints) > 1:
        raise InvalidArgument(
            "Container cannot be created with multiple network endpoints: " + ", ".join(endpoints)
        )


def inspect(request: Request) -> Answer:
    containers = request.engine.containers
    record = containers.lookup(request.params["id"])
    document = containers.inspect(record)
    if request.flag("size"):
        written, image = containers.sizes(record)
        document["SizeRw"] = written
        document["SizeRootFs"] = written + image
    if request.version < (1, 45):
        _list_names_as_aliases(document)
    return json_reply(document)


def _list_names_as_aliases(document: dict[str, Any]) -> None:
    """Before API 1.45 dockerd listed a container's short id and hostname among its Aliases
    on each user-defined network (names its resolver answers there). docker-compose v1 looks
    for the short id: without it, it disconnects and reconnects each container it creates."""
    names = [document["Id"][:12], str(document["Config"].get("Hostname") or "")]
    for network, endpoint in document["NetworkSettings"]["Networks"].items():
        if network in PREDEFINED_NETWORKS:
            continue
        aliases = list(endpoint.get("Aliases") or [])
        endpoint["Aliases"] = aliases + [n for n in dict.fromkeys(names) if n and n not in aliases]


def top(request: Request) -> Answer:
    engine = request.engine
    record = engine.containers.lookup(request.params["id"])
    ps_args = (request.arg("ps_args") or "").split()
    titles, rows = engine.container_tools.top(record, ps_args)
    return json_reply({"Titles": titles, "Processes": rows})


def changes(request: Request) -> Answer:
    """Kind as Docker numbers them: 0 changed, 1 added, 2 deleted."""
    engine = request.engine
    record = engine.containers.lookup(request.params["id"])
    kinds = {"C": 0, "A": 1, "D": 2}
    found = engine.container_tools.changes(record)
    return json_reply([{"Path": c.path, "Kind": kinds[c.kind]} for c in found])


def rename(request: Request) -> Answer:
    name = request.arg("name") or ""
    if not name:
        raise InvalidArgument("Neither old nor new names may be empty")
    containers = request.engine.containers
    containers.rename(containers.lookup(request.params["id"]), name)
    return no_content()


def update(request: Request) -> Answer:
    """Docker's UpdateConfig: a resource left at zero (or a policy without a name) is left as
    it is, as the docker CLI sends every field whether changed or not."""
    from berth.api.routes.container_config import HOST_CONFIG_FIELDS, checked

    body = request.json_object(required=False)
    given = checked(body, HOST_CONFIG_FIELDS, "UpdateConfig")
    changes = {key: given[key] for key in UPDATE_FIELDS if given.get(key)}
    if given.get("PidsLimit") is not None:  # 0 and -1 both lift the limit
        changes["PidsLimit"] = given["PidsLimit"] if given["PidsLimit"] > 0 else -1
    policy = given.get("RestartPolicy") or {}
    if policy.get("Name"):
        name = str(policy["Name"])
        changes["RestartPolicy"] = {
            "Name": name,
            "MaximumRetryCount": policy.get("MaximumRetryCount") or 0,
        }
        from berth.container.creating import check

        check({}, {"RestartPolicy": changes["RestartPolicy"]})
    engine = request.engine
    record = engine.containers.lookup(request.params["id"])
    engine.container_tools.update(record, changes)
    return json_reply({"Warnings": []})


def remove(request: Request) -> Answer:
    if request.flag("link"):
        raise InvalidArgument("removing a legacy link (rm --link) is not supported by berth")
    containers = request.engine.containers
    record = containers.lookup(request.params["id"])
    containers.remove(record, force=request.flag("force"), volumes=request.flag("v"))
    return no_content()


def prune(request: Request) -> Answer:
    removed, reclaimed = request.engine.containers.prune(request.filters())
    return json_reply({"ContainersDeleted": removed or None, "SpaceReclaimed": reclaimed})


ROUTES: list[RouteSpec] = [
    ("GET", "/containers/json", list_containers),
    ("POST", "/containers/create", create),
    ("POST", "/containers/prune", prune),
    ("GET", "/containers/{id}/json", inspect),
    ("GET", "/containers/{id}/top", top),
    ("GET", "/containers/{id}/changes", changes),
    ("POST", "/containers/{id}/rename", rename),
    ("POST", "/containers/{id}/update", update),
    ("DELETE", "/containers/{id}", remove),
    *containers_state.ROUTES,
    *container_stats.ROUTES,
]
