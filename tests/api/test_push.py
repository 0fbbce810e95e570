"""`POST /images/{name}/push` through real clients (the docker 28 CLI, docker-py) against
`berth serve`, pushing to real registries forwarded into the server's namespace: an empty
one, and one behind a token server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.api import ApiServer
from tests.fixtures.forward import LoopbackForward
from tests.fixtures.images import Catalogue
from tests.fixtures.netns import HostNamespace
from tests.fixtures.registry import RunningRegistry, start_registry
from tests.fixtures.token_server import USERS, TokenRegistry, start_token_registry

USER, PASSWORD = next(iter(USERS.items()))


@pytest.fixture
def target(tmp_path: Path, host_ns: HostNamespace) -> Iterator[RunningRegistry]:
    """An empty registry, reachable from the server's namespace at the same address."""
    running = start_registry(tmp_path / "target-registry")
    forward = LoopbackForward(host_ns.path, int(running.host.rpartition(":")[2]))
    try:
        yield running
    finally:
        forward.close()
        running.stop()


@pytest.fixture
def token_registry(tmp_path: Path, host_ns: HostNamespace) -> Iterator[TokenRegistry]:
    running = start_token_registry(tmp_path / "token-registry")
    forwards = [
        LoopbackForward(host_ns.path, int(running.host.rpartition(":")[2])),
        LoopbackForward(host_ns.path, int(running.tokens.url.rpartition(":")[2])),
    ]
    try:
        yield running
    finally:
        for forward in forwards:
            forward.close()
        running.stop()


def pulled_as(api: ApiServer, source: str, name: str) -> None:
    assert api.docker("pull", "-q", source).returncode == 0
    assert api.docker("tag", source, name).returncode == 0


def test_docker_push_prints_dockers_progress_and_a_second_push_finds_every_layer(
    api: ApiServer, registry: Catalogue, target: RunningRegistry
) -> None:
    app = registry["app-a"]
    name = f"{target.host}/team/app:v1"
    pulled_as(api, app.reference, name)
    first = api.docker("push", name)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"The push refers to repository [{target.host}/team/app]"
    for diff_id in app.diff_ids:
        assert f"{diff_id[7:19]}: Pushed" in lines
    assert lines[-1] == f"v1: digest: {app.manifest_digest} size: {app.manifest_size}"

    again = api.docker("push", name)
    assert again.returncode == 0, again.stderr
    for diff_id in app.diff_ids:
        assert f"{diff_id[7:19]}: Layer already exists" in again.stdout

    missing = api.docker("push", f"{target.host}/team/none:v1")
    assert missing.returncode == 1
    assert "An image does not exist locally with the tag" in missing.stderr


def test_docker_py_push_streams_an_aux_digest_and_all_tags(
    api: ApiServer, registry: Catalogue, target: RunningRegistry
) -> None:
    app = registry["app-b"]
    repository = f"{target.host}/team/b"
    pulled_as(api, app.reference, f"{repository}:one")
    assert api.docker("tag", app.reference, f"{repository}:two").returncode == 0
    client = api.client()
    try:
        events = list(client.images.push(repository, tag="one", stream=True, decode=True))
        aux = [event["aux"] for event in events if "aux" in event]
        assert aux == [{"Tag": "one", "Digest": app.manifest_digest, "Size": app.manifest_size}]
        assert {"status": "Pushed", "progressDetail": {}, "id": app.diff_ids[1][7:19]} in events

        everything = list(client.api.push(repository, stream=True, decode=True))
        assert [event["aux"]["Tag"] for event in everything if "aux" in event] == ["one", "two"]
    finally:
        client.close()


def test_push_to_a_token_registry_is_denied_without_credentials_and_works_with_them(
    api: ApiServer, registry: Catalogue, token_registry: TokenRegistry
) -> None:
    app = registry["app-a"]
    name = f"{token_registry.host}/private/app:v1"
    pulled_as(api, app.reference, name)
    client = api.client()
    try:
        denied = list(client.api.push(name, stream=True, decode=True))
        assert denied[-1]["error"] == "denied: requested access to the resource is denied"

        auth = {"username": USER, "password": PASSWORD}
        token_registry.tokens.requests.clear()
        events = list(client.api.push(name, stream=True, decode=True, auth_config=auth))
        assert not [event for event in events if "error" in event], events
        assert any(event.get("aux", {}).get("Digest") == app.manifest_digest for event in events)
        scopes = {s for r in token_registry.tokens.requests for s in r.scopes}
        assert "repository:private/app:pull,push" in scopes
    finally:
        client.close()
