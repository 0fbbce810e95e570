"""`/networks` through real clients: the docker CLI and docker-py against `berth serve`, with
containers made by the berth CLI on the same store, and bad requests sent raw.

The server runs in the namespace that plays the host, so the bridges and nft rules these
tests cause stay there; the `berth` fixture removes the networks a test leaves and fails it
if a device or table remains.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote

import docker
import docker.errors
import docker.types
import pytest

from tests.fixtures.api import ApiServer
from tests.fixtures.store import Berth

PREDEFINED = ["bridge", "host", "none"]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def call(api: ApiServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request; `body` is sent as is when bytes, else as JSON. The status and the JSON
    answer (None when empty)."""
    connection = _UnixConnection(str(api.socket))
    try:
        payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    return answer.status, json.loads(data) if data else None


def network_names(api: ApiServer) -> list[str]:
    status, networks = call(api, "GET", "/networks")
    assert status == 200
    return sorted(n["Name"] for n in networks)


def docker_ok(api: ApiServer, *args: str) -> str:
    result = api.docker(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_docker_cli_creates_lists_inspects_and_removes(api: ApiServer) -> None:
    network_id = docker_ok(
        api,
        "network",
        "create",
        "--subnet",
        "10.91.0.0/24",
        "--gateway",
        "10.91.0.254",
        "--internal",
        "--label",
        "team=a",
        "backend",
    ).strip()
    assert len(network_id) == 64
    docker_ok(api, "network", "create", "--label", "team=b", "frontend")
    listed = docker_ok(api, "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
    assert sorted(listed.splitlines()) == [
        "backend bridge local",
        "bridge bridge local",
        "frontend bridge local",
        "host host local",
        "none null local",
    ]

    def filtered(*filters: str) -> list[str]:
        words = [w for f in filters for w in ("--filter", f)]
        return docker_ok(api, "network", "ls", "-q", *words).split()

    assert filtered("label=team=a") == [network_id[:12]]
    assert len(filtered("label=team")) == 2
    assert filtered("name=backe") == [network_id[:12]]
    assert filtered(f"id={network_id[:6]}") == [network_id[:12]]
    assert len(filtered("type=custom")) == 2 and len(filtered("type=builtin")) == 3
    assert len(filtered("driver=bridge")) == 3 and len(filtered("scope=local")) == 5
    assert filtered("scope=swarm") == []
    assert len(filtered("dangling=true")) == 2
    bad = api.docker("network", "ls", "--filter", "colour=red")
    assert bad.returncode != 0 and "invalid filter 'colour'" in bad.stderr

    template = "{{.Name}} {{.Internal}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}"
    shown = docker_ok(api, "network", "inspect", "-f", template + " {{.Labels}}", network_id[:8])
    assert shown.strip() == "backend true 10.91.0.0/24 10.91.0.254 map[team:a]"
    [document] = json.loads(docker_ok(api, "network", "inspect", "backend"))
    assert document["Id"] == network_id and document["Driver"] == "bridge"
    assert document["Containers"] == {} and document["Scope"] == "local"
    assert document["EnableIPv6"] is False and document["Attachable"] is False

    again = api.docker("network", "create", "backend")
    assert again.returncode != 0 and "network with name backend already exists" in again.stderr
    bad_subnet = api.docker("network", "create", "--subnet", "10.1.2.3/24", "odd")
    assert bad_subnet.returncode != 0 and "invalid subnet 10.1.2.3/24" in bad_subnet.stderr
    builtin = api.docker("network", "rm", "bridge")
    assert builtin.returncode != 0 and "bridge is a pre-defined network" in builtin.stderr
    reserved = api.docker("network", "create", "host")
    assert reserved.returncode != 0 and "pre-defined" in reserved.stderr

    assert docker_ok(api, "network", "rm", "backend", "frontend").split() == [
        "backend",
        "frontend",
    ]
    gone = api.docker("network", "inspect", "backend")
    assert gone.returncode != 0 and "network backend not found" in gone.stderr
    assert network_names(api) == PREDEFINED


def test_what_the_bridge_driver_lacks_is_refused_whole(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    """IPv6, an IP range and static endpoint addresses are refused, nothing made; Attachable
    (a swarm matter, which scripts and compose v1 send for plain bridges) is accepted."""
    refused = {
        ("--ipv6", "six"): "IPv4 only",
        ("--subnet", "10.98.0.0/16", "--ip-range", "10.98.1.0/24", "ranged"): "IPRange",
        ("--subnet", "10.98.0.0/24", "--subnet", "10.99.0.0/24", "twice"): "one IPv4 subnet",
        ("--ipam-driver", "dhcp", "leased"): "IPAM driver 'dhcp'",
        ("-d", "macvlan", "mac"): "plugin 'macvlan' not found",
    }
    for flags, words in refused.items():
        result = api.docker("network", "create", *flags)
        assert result.returncode != 0 and words in result.stderr, (flags, result.stderr)
    assert network_names(api) == PREDEFINED

    docker_ok(api, "network", "create", "--attachable", "--subnet", "10.98.0.0/24", "joinable")
    started = berth("run", "-d", "--name", "static", busybox, "sleep", "300")
    assert started.returncode == 0, started.stderr
    fixed = api.docker("network", "connect", "--ip", "10.98.0.50", "joinable", "static")
    assert fixed.returncode != 0 and "IPv4Address is not supported" in fixed.stderr
    assert berth("exec", "static", "ls", "/sys/class/net").stdout.split() == ["eth0", "lo"]
    docker_ok(api, "network", "connect", "joinable", "static")
    assert "10.98.0.2/24" in berth("exec", "static", "ip", "-o", "-4", "addr").stdout
    assert berth("rm", "-f", "static").returncode == 0


def test_connect_and_disconnect_a_running_container(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    docker_ok(api, "network", "create", "--subnet", "10.92.0.0/24", "front")
    started = berth("run", "-d", "--name", "app", busybox, "sleep", "300")
    assert started.returncode == 0, started.stderr
    assert berth("exec", "app", "ls", "/sys/class/net").stdout.split() == ["eth0", "lo"]

    docker_ok(api, "network", "connect", "--alias", "web", "front", "app")
    assert berth("exec", "app", "ls", "/sys/class/net").stdout.split() == ["eth0", "eth1", "lo"]
    address = berth("exec", "app", "ip", "-o", "-4", "addr", "show", "eth1").stdout
    assert "10.92.0.2/24" in address
    members = "{{range $id, $c := .Containers}}{{$c.Name}} {{$c.IPv4Address}}{{end}}"
    assert docker_ok(api, "network", "inspect", "-f", members, "front").strip() == (
        "app 10.92.0.2/24"
    )
    [inspected] = json.loads(berth("inspect", "app").stdout)
    assert inspected["NetworkSettings"]["Networks"]["front"]["Aliases"] == ["web"]
    looked_up = berth("run", "--rm", "--network", "front", busybox, "nslookup", "web")
    assert "Address: 10.92.0.2" in looked_up.stdout, looked_up.stdout + looked_up.stderr

    twice = api.docker("network", "connect", "front", "app")
    assert twice.returncode != 0 and "already exists" in twice.stderr
    busy = api.docker("network", "rm", "front")
    assert busy.returncode != 0 and "has active endpoints" in busy.stderr
    in_use = api.docker("network", "ls", "-q", "--filter", "dangling=false")
    assert len(in_use.stdout.split()) == 4  # the predefined ones count as used, as in Docker

    docker_ok(api, "network", "disconnect", "front", "app")
    assert berth("exec", "app", "ls", "/sys/class/net").stdout.split() == ["eth0", "lo"]
    assert docker_ok(api, "network", "inspect", "-f", members, "front").strip() == ""
    absent = api.docker("network", "disconnect", "front", "app")
    assert absent.returncode != 0 and "is not connected" in absent.stderr
    nobody = api.docker("network", "connect", "front", "nobody")
    assert nobody.returncode != 0 and "No such container: nobody" in nobody.stderr
    assert berth("rm", "-f", "app").returncode == 0
    docker_ok(api, "network", "rm", "front")


def test_a_stopped_container_comes_up_on_the_network_at_start(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    docker_ok(api, "network", "create", "--subnet", "10.93.0.0/24", "later")
    created = berth("create", "--name", "idle", busybox, "sleep", "300")
    assert created.returncode == 0, created.stderr
    docker_ok(api, "network", "connect", "later", "idle")
    assert berth("start", "idle").returncode == 0
    assert "10.93.0.2/24" in berth("exec", "idle", "ip", "-o", "-4", "addr", "show", "eth1").stdout
    assert berth("rm", "-f", "idle").returncode == 0


def test_prune_removes_unused_custom_networks_by_label(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    for name, label in (("old-a", "stage=old"), ("old-b", "stage=old"), ("keep", "stage=new")):
        docker_ok(api, "network", "create", "--label", label, name)
    docker_ok(api, "network", "create", "--label", "stage=old", "used")
    started = berth("run", "-d", "--name", "user", "--network", "used", busybox, "sleep", "300")
    assert started.returncode == 0, started.stderr

    pruned = docker_ok(api, "network", "prune", "-f", "--filter", "label=stage=old").strip()
    assert pruned.splitlines() == ["Deleted Networks:", "old-a", "old-b"]
    assert network_names(api) == ["bridge", "host", "keep", "none", "used"]
    status, answer = call(api, "POST", "/networks/prune?filters=" + quote('{"until":["1h"]}'))
    assert (status, answer) == (200, {"NetworksDeleted": None})  # "keep" is newer than 1h ago
    assert docker_ok(api, "network", "prune", "-f").strip().splitlines() == [
        "Deleted Networks:",
        "keep",
    ]
    assert berth("rm", "-f", "user").returncode == 0
    assert docker_ok(api, "network", "prune", "-f").strip().splitlines() == [
        "Deleted Networks:",
        "used",
    ]
    assert network_names(api) == PREDEFINED


def test_docker_py_networks(api: ApiServer, busybox: str, berth: Berth) -> None:
    client = api.client()
    try:
        pool = docker.types.IPAMPool(subnet="10.94.0.0/24", gateway="10.94.0.1")
        network = client.networks.create(
            "py-net",
            driver="bridge",
            ipam=docker.types.IPAMConfig(pool_configs=[pool]),
            labels={"made-by": "docker-py"},
            check_duplicate=True,
        )
        assert network.name == "py-net" and len(network.id) == 64
        fetched = client.networks.get(network.id[:10])
        assert fetched.attrs["IPAM"]["Config"] == [
            {"Subnet": "10.94.0.0/24", "Gateway": "10.94.0.1"}
        ]
        assert fetched.attrs["Labels"] == {"made-by": "docker-py"}
        assert [n.name for n in client.networks.list(names=["py-net"])] == ["py-net"]
        assert [n.id for n in client.networks.list(filters={"label": "made-by"})] == [network.id]
        with pytest.raises(docker.errors.APIError) as duplicate:
            client.networks.create("py-net")
        assert duplicate.value.status_code == 409
        with pytest.raises(docker.errors.NotFound):
            client.networks.get("no-such-network")

        started = berth("run", "-d", "--name", "py-c", busybox, "sleep", "300")
        assert started.returncode == 0, started.stderr
        network.connect("py-c", aliases=["alias-one"])
        network.reload()
        [(container_id, member)] = network.attrs["Containers"].items()
        assert member["Name"] == "py-c" and member["IPv4Address"] == "10.94.0.2/24"
        with pytest.raises(docker.errors.APIError) as static:
            network.connect("py-c", ipv4_address="10.94.0.9")
        assert static.value.status_code in (400, 409)
        network.disconnect("py-c", force=True)
        network.reload()
        assert network.attrs["Containers"] == {}
        with pytest.raises(docker.errors.APIError) as builtin:
            client.networks.get("bridge").remove()
        assert builtin.value.status_code == 403
        assert berth("rm", "-f", container_id).returncode == 0

        network.remove()
        client.networks.create("py-spare", labels={"spare": "1"})
        assert client.networks.prune(filters={"label": "spare"}) == {
            "NetworksDeleted": ["py-spare"]
        }
        assert sorted(n.name for n in client.networks.list()) == PREDEFINED
    finally:
        client.close()


def test_bad_requests_get_4xx_and_create_nothing(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    docker_ok(api, "network", "create", "--subnet", "10.95.0.0/24", "known")
    started = berth("run", "-d", "--name", "box", busybox, "sleep", "300")
    assert started.returncode == 0, started.stderr

    def create(**fields: Any) -> dict[str, Any]:
        return {"Name": "fresh", **fields}

    def pool(**fields: Any) -> dict[str, Any]:
        return create(IPAM={"Config": [fields]})

    creates: list[tuple[Any, int, str]] = [
        (b"{", 400, "invalid JSON"),
        (b"[]", 400, "invalid JSON"),
        (b"", 400, "needs a JSON body"),
        (b'{"Name": "fresh"} trailing', 400, "invalid JSON"),
        (create(Internal="yes"), 400, "NetworkCreateRequest.Internal of type bool"),
        (create(Labels=[1]), 400, "Labels of type map[string]string"),
        (create(Labels={"k": 1}), 400, "Labels of type string"),
        (create(Options="x"), 400, "Options of type map[string]string"),
        (create(Colour="red"), 400, "unknown field 'Colour'"),
        ({"Name": 7}, 400, "Name of type string"),
        ({"Name": ""}, 400, "needs a name"),
        ({"Name": "bad name!"}, 400, "Invalid network name"),
        (pool(Subnet="nonsense"), 400, "invalid subnet nonsense"),
        (pool(Subnet="10.96.0.0/24", Gatway="x"), 400, "unknown field 'Gatway'"),
        (pool(Subnet="10.96.0.0/24", Gateway="10.1.1.1"), 400, "gateway 10.1.1.1"),
        (pool(Subnet="10.96.0.0/16", IPRange="10.96.1.0/24"), 400, "IPRange"),
        (create(IPAM={"Config": {"Subnet": "10.96.0.0/24"}}), 400, "Config of type array"),
        (create(IPAM={"Driver": "elsewhere"}), 400, "elsewhere"),
        (create(EnableIPv6=True), 400, "IPv4 only"),
        (create(Scope="swarm"), 400, "scope"),
        (create(Driver="overlay"), 400, "overlay"),
        ({"Name": "known"}, 409, "network with name known already exists"),
        ({"Name": "bridge"}, 403, "pre-defined"),
        (pool(Subnet="10.95.0.0/25"), 409, "overlaps"),
    ]
    for body, expected, words in creates:
        status, answer = call(api, "POST", "/networks/create", body)
        assert (status, words in answer["message"]) == (expected, True), (body, answer)
    assert network_names(api) == ["bridge", "host", "known", "none"]

    requests: list[tuple[str, str, Any, int]] = [
        ("POST", "/networks/known/connect", b"{", 400),
        ("POST", "/networks/known/connect", {"Container": 5}, 400),
        ("POST", "/networks/known/connect", {"Container": "box", "EndpointConfig": []}, 400),
        ("POST", "/networks/known/connect", {"Container": "box", "Extra": True}, 400),
        (
            "POST",
            "/networks/known/connect",
            {"Container": "box", "EndpointConfig": {"Aliases": "web"}},
            400,
        ),
        (
            "POST",
            "/networks/known/connect",
            {"Container": "box", "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.95.0.9"}}},
            400,
        ),
        ("POST", "/networks/known/connect", {"Container": "nobody"}, 404),
        ("POST", "/networks/nowhere/connect", {"Container": "box"}, 404),
        ("POST", "/networks/known/disconnect", {"Container": "box", "Force": "yes"}, 400),
        ("POST", "/networks/known/disconnect", {"Container": "box"}, 404),  # not connected
        ("POST", "/networks/nowhere/disconnect", {"Container": "box"}, 404),
        ("GET", "/networks/nowhere", None, 404),
        ("GET", "/networks/known?verbose=maybe", None, 400),
        ("GET", "/networks/known?scope=swarm", None, 404),
        ("DELETE", "/networks/nowhere", None, 404),
        ("DELETE", "/networks/host", None, 403),
        ("GET", "/networks?filters=" + quote("{nope"), None, 400),
        ("GET", "/networks?filters=" + quote('{"colour":["red"]}'), None, 400),
        ("GET", "/networks?filters=" + quote('{"type":["odd"]}'), None, 400),
        ("GET", "/networks?filters=" + quote('{"dangling":["maybe"]}'), None, 400),
        ("POST", "/networks/prune?filters=" + quote('{"until":["whenever"]}'), None, 400),
        ("POST", "/networks/prune?filters=" + quote('{"name":["known"]}'), None, 400),
        ("PUT", "/networks/known", None, 405),
    ]
    for method, path, body, expected in requests:
        status, answer = call(api, method, path, body)
        assert status == expected, (method, path, body, status, answer)
        assert answer["message"], (method, path)
    assert berth("exec", "box", "ls", "/sys/class/net").stdout.split() == ["eth0", "lo"]
    assert network_names(api) == ["bridge", "host", "known", "none"]
    status, answer = call(api, "GET", "/networks/known")
    assert status == 200 and answer["Containers"] == {}
    assert call(api, "HEAD", "/networks/known") == (200, None)
    # the server still serves, and the network still works
    docker_ok(api, "network", "connect", "known", "box")
    assert berth("exec", "box", "ls", "/sys/class/net").stdout.split() == ["eth0", "eth1", "lo"]
    assert berth("rm", "-f", "box").returncode == 0


def test_old_clients_see_the_containers_in_the_list(
    api: ApiServer, busybox: str, berth: Berth
) -> None:
    docker_ok(api, "network", "create", "--subnet", "10.97.0.0/24", "shown")
    started = berth("run", "-d", "--name", "member", "--network", "shown", busybox, "sleep", "60")
    assert started.returncode == 0, started.stderr
    filters = quote('{"name":["shown"]}')
    status, [old] = call(api, "GET", f"/v1.27/networks?filters={filters}")
    assert status == 200 and [m["Name"] for m in old["Containers"].values()] == ["member"]
    status, [new] = call(api, "GET", f"/v1.47/networks?filters={filters}")
    assert status == 200 and new["Containers"] == {}
    assert berth("rm", "-f", "member").returncode == 0
