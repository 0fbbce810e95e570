"""Routes: networks — list, inspect, create, connect, disconnect, remove and prune, in Docker's
shapes (`/networks`), through the engine's networks and containers facades.

A network is named by its full id, its name or a unique id prefix (the facade's lookup). A
body is read with the types of Docker's Go structs (`berth.api.fields`) and checked whole
before anything is made; what berth's bridge driver can't do (IPv6, swarm scopes, several
pools, static endpoint settings) is refused with a 400 rather than dropped.
"""

from __future__ import annotations

from berth.api.fields import Fields
from berth.api.request import Answer, Reply, Request, json_reply, no_content
from berth.api.router import RouteSpec
from berth.errors import InvalidArgument, NotFound

CREATE_FIELDS = (
    "Name",
    "CheckDuplicate",
    "Driver",
    "Scope",
    "Internal",
    "Attachable",
    "Ingress",
    "ConfigOnly",
    "ConfigFrom",
    "IPAM",
    "EnableIPv4",
    "EnableIPv6",
    "Options",
    "Labels",
)
IPAM_FIELDS = ("Driver", "Config", "Options")
POOL_FIELDS = ("Subnet", "IPRange", "Gateway", "AuxiliaryAddresses")
CONNECT_FIELDS = ("Container", "EndpointConfig")
# EndpointSettings: what a client may ask for, then the operational fields inspect shows,
# which Go clients send back zeroed and dockerd ignores on connect.
ENDPOINT_FIELDS = (
    "IPAMConfig",
    "Links",
    "Aliases",
    "MacAddress",
    "DriverOpts",
    "GwPriority",
    "NetworkID",
    "EndpointID",
    "Gateway",
    "IPAddress",
    "IPPrefixLen",
    "IPv6Gateway",
    "GlobalIPv6Address",
    "GlobalIPv6PrefixLen",
    "DNSNames",
)
ENDPOINT_IPAM_FIELDS = ("IPv4Address", "IPv6Address", "LinkLocalIPs")
DISCONNECT_FIELDS = ("Container", "Force")
_GO_BOOLEANS = ("1", "t", "true", "0", "f", "false")  # strconv.ParseBool, any case


def list_networks(request: Request) -> Answer:
    """Since API 1.28 the list leaves each network's Containers map empty."""
    networks = request.engine.networks
    detailed = request.version < (1, 28)
    return json_reply(
        [
            networks.inspect(record, containers=detailed)
            for record in networks.matching(request.filters())
        ]
    )


def inspect_network(request: Request) -> Answer:
    verbose = request.arg("verbose") or ""
    if verbose and verbose.lower() not in _GO_BOOLEANS:
        raise InvalidArgument(f"invalid value for verbose: {verbose}")
    networks = request.engine.networks
    record = networks.lookup(request.params["id"])
    scope = request.arg("scope") or ""
    if scope and scope != "local":  # berth's networks are all local
        raise NotFound(f"network {request.params['id']} not found")
    return json_reply(networks.inspect(record))


def create_network(request: Request) -> Answer:
    body = Fields(request.json_object(), CREATE_FIELDS, "NetworkCreateRequest")
    name = body.string("Name")
    if not name:
        raise InvalidArgument("invalid name: a network needs a name")
    # Checked for their types only: dockerd checks duplicate names whatever CheckDuplicate
    # says (API 1.44+), and Attachable matters to swarm alone (scripts pass --attachable for
    # plain bridges; it is not kept, so inspect says false).
    body.boolean("CheckDuplicate")
    body.boolean("Attachable")
    _refuse_swarm_and_ipv6(body)
    subnet, gateway = _pool(body.object("IPAM", IPAM_FIELDS))
    record = request.engine.networks.create(
        name,
        driver=body.string("Driver") or "bridge",
        subnet=subnet,
        gateway=gateway,
        internal=body.boolean("Internal"),
        labels=body.string_map("Labels"),
        options=body.string_map("Options"),
    )
    return json_reply({"Id": record.id, "Warning": ""}, 201)


def _refuse_swarm_and_ipv6(body: Fields) -> None:
    scope = body.string("Scope")
    if scope not in ("", "local"):
        raise InvalidArgument(f"invalid scope {scope!r}: berth's networks are local")
    for flag in ("Ingress", "ConfigOnly"):
        if body.boolean(flag):
            raise InvalidArgument(f"{flag} networks are not supported by berth")
    if body.object("ConfigFrom", ("Network",)).string("Network"):
        raise InvalidArgument("ConfigFrom is not supported: berth has no config-only networks")
    if body.boolean("EnableIPv6") or not body.boolean("EnableIPv4", default=True):
        raise InvalidArgument("berth's networks are IPv4 only")


def _pool(ipam: Fields) -> tuple[str | None, str | None]:
    """The one IPv4 subnet and gateway IPAM asks for (None: berth chooses)."""
    if ipam.string("Driver") not in ("", "default"):
        raise InvalidArgument(f"IPAM driver {ipam.string('Driver')!r} not found: berth has default")
    if ipam.string_map("Options"):
        raise InvalidArgument("IPAM options are not supported by berth's default IPAM driver")
    pools = ipam.objects("Config", POOL_FIELDS)
    if not pools:
        return None, None
    if len(pools) > 1 or any(":" in pool.string("Subnet") for pool in pools):
        raise InvalidArgument("berth's networks have one IPv4 subnet (no IPv6, no second pool)")
    [pool] = pools
    if pool.string("IPRange"):
        raise InvalidArgument("an IPRange is not supported by berth: addresses span the subnet")
    if pool.string_map("AuxiliaryAddresses"):
        raise InvalidArgument("AuxiliaryAddresses are not supported by berth")
    return pool.string("Subnet") or None, pool.string("Gateway") or None


def connect(request: Request) -> Answer:
    """A running container comes up on the network at once; a stopped one at its start."""
    body = Fields(request.json_object(), CONNECT_FIELDS, "NetworkConnectRequest")
    settings = body.object("EndpointConfig", ENDPOINT_FIELDS)
    aliases = settings.strings("Aliases")
    _refuse_static_settings(settings)
    engine = request.engine
    record = engine.containers.lookup(body.string("Container"))
    network = engine.networks.lookup(request.params["id"])
    engine.containers.connect(network, record, aliases)
    return Reply(200)


def _refuse_static_settings(settings: Fields) -> None:
    addresses = settings.object("IPAMConfig", ENDPOINT_IPAM_FIELDS)
    asked = [
        name
        for name, given in (
            ("IPAMConfig.IPv4Address", addresses.string("IPv4Address")),
            ("IPAMConfig.IPv6Address", addresses.string("IPv6Address")),
            ("IPAMConfig.LinkLocalIPs", addresses.strings("LinkLocalIPs")),
            ("Links", settings.strings("Links")),
            ("MacAddress", settings.string("MacAddress")),
            ("DriverOpts", settings.string_map("DriverOpts")),
        )
        if given
    ]
    if asked:
        raise InvalidArgument(
            f"EndpointConfig.{asked[0]} is not supported by berth: endpoints get the next free "
            "address of the network"
        )


def disconnect(request: Request) -> Answer:
    """Force changes nothing: a container berth does not know has no endpoint left to force
    out (its endpoints go with it), so that is "not found" either way, as in dockerd."""
    body = Fields(request.json_object(), DISCONNECT_FIELDS, "NetworkDisconnectRequest")
    body.boolean("Force")
    engine = request.engine
    record = engine.containers.lookup(body.string("Container"))
    network = engine.networks.lookup(request.params["id"])
    engine.containers.disconnect(network, record)
    return Reply(200)


def remove(request: Request) -> Answer:
    networks = request.engine.networks
    networks.remove(networks.lookup(request.params["id"]))
    return no_content()


def prune(request: Request) -> Answer:
    """The names removed; null when none, as dockerd answers."""
    removed = request.engine.networks.prune(request.filters())
    return json_reply({"NetworksDeleted": removed or None})


ROUTES: list[RouteSpec] = [
    ("GET", "/networks", list_networks),
    ("POST", "/networks/create", create_network),
    ("POST", "/networks/prune", prune),
    ("GET", "/networks/{id}", inspect_network),
    ("DELETE", "/networks/{id}", remove),
    ("POST", "/networks/{id}/connect", connect),
    ("POST", "/networks/{id}/disconnect", disconnect),
]
