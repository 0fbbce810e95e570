"""The Registry client's failures, mapped to berth's kinds with Docker's words, and its
verification of what it fetches; against in-process fakes (httpx.MockTransport)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from berth.errors import DataLoss, NotFound, PermissionDenied, Unauthorized, Unavailable
from berth.reference import parse
from berth.registry.client import MAX_MANIFEST_SIZE, Registry
from berth.registry.config import RegistriesConfig
from berth.registry.credentials import CredentialStore

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "0" * 64,
            "size": 2,
        },
        "layers": [],
    }
).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
REF = parse("reg.example/team/app:v1")

Handler = Callable[[httpx.Request], httpx.Response]


def _registry(handler: Handler, tmp_path: Path, config: str = "") -> Registry:
    return Registry(
        RegistriesConfig.parse(config),
        CredentialStore(tmp_path / "config.json"),
        transport=httpx.MockTransport(handler),
    )


def _errors(status: int, code: str, message: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"errors": [{"code": code, "message": message}]})

    return handler


def test_resolve_verifies_and_reports_media_type(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            content=MANIFEST,
            headers={"Docker-Content-Digest": DIGEST, "Content-Type": "application/json"},
        )

    with _registry(handler, tmp_path) as registry:
        resolved = registry.resolve(REF)
        assert registry.fetch_manifest(REF, DIGEST) == MANIFEST
    assert resolved.digest == DIGEST
    assert resolved.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert resolved.endpoint.url == "https://reg.example"
    assert str(seen[0].url) == "https://reg.example/v2/team/app/manifests/v1"
    accept = seen[0].headers["Accept"]
    assert "application/vnd.oci.image.index.v1+json" in accept
    assert "application/vnd.docker.distribution.manifest.list.v2+json" in accept
    assert seen[0].headers["User-Agent"].startswith("berth/")


@pytest.mark.parametrize(
    ("handler", "kind", "message"),
    [
        (
            _errors(401, "UNAUTHORIZED", "authentication required"),
            Unauthorized,
            "pull access denied for reg.example/team/app, repository does not exist or may "
            "require 'docker login'",
        ),
        (_errors(403, "DENIED", "nope"), PermissionDenied, "pull access denied"),
        (
            _errors(404, "MANIFEST_UNKNOWN", "manifest unknown"),
            NotFound,
            "manifest for reg.example/team/app:v1 not found: manifest unknown",
        ),
        (_errors(404, "NAME_UNKNOWN", "repository name not known"), NotFound, "pull access"),
        (_errors(500, "", "boom"), Unavailable, "registry reg.example failed"),
        (_errors(502, "", "bad gateway"), Unavailable, "502"),
        (_errors(429, "TOOMANYREQUESTS", "slow down"), Unavailable, "toomanyrequests"),
    ],
)
def test_manifest_errors(
    tmp_path: Path, handler: Handler, kind: type[Exception], message: str
) -> None:
    with _registry(handler, tmp_path) as registry, pytest.raises(kind) as caught:
        registry.resolve(REF)
    assert message in str(caught.value)


def test_docker_hub_names_are_familiar(tmp_path: Path) -> None:
    handler = _errors(404, "MANIFEST_UNKNOWN", "manifest unknown")
    with _registry(handler, tmp_path) as registry, pytest.raises(NotFound) as caught:
        registry.resolve(parse("busybox:nope"))
    assert str(caught.value) == "manifest for busybox:nope not found: manifest unknown"


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("[Errno -2] Name or service not known"),
    ],
)
def test_transport_failures_are_unavailable_naming_the_host(
    tmp_path: Path, error: httpx.HTTPError
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with _registry(handler, tmp_path) as registry, pytest.raises(Unavailable) as caught:
        registry.resolve(REF)
    assert "reg.example" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "headers", "ref"),
    [
        (MANIFEST, {"Docker-Content-Digest": "sha256:" + "1" * 64}, REF),
        (MANIFEST + b" ", {}, REF.with_digest(DIGEST)),
        (b"not json", {}, REF),
        (b" " * (MAX_MANIFEST_SIZE + 1), {}, REF),
        (b" " * 10, {"Content-Length": str(MAX_MANIFEST_SIZE + 1)}, REF),
    ],
)
def test_bad_manifests_are_data_loss(
    tmp_path: Path, body: bytes, headers: dict[str, str], ref: object
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers=headers)

    with _registry(handler, tmp_path) as registry, pytest.raises(DataLoss):
        registry.resolve(parse(str(ref)))


def test_blob_is_verified_by_digest_and_size(tmp_path: Path) -> None:
    data = b"{}"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=data if digest in request.url.path else b"[]")

    with _registry(handler, tmp_path) as registry:
        assert registry.fetch_blob(REF, digest, 2) == data
        with pytest.raises(DataLoss, match="digest mismatch"):
            registry.fetch_blob(REF, "sha256:" + "2" * 64, 2)
        with pytest.raises(DataLoss):
            registry.fetch_blob(REF, digest, 1)


def test_blob_not_found(tmp_path: Path) -> None:
    handler = _errors(404, "BLOB_UNKNOWN", "blob unknown")
    with _registry(handler, tmp_path) as registry, pytest.raises(NotFound, match="blob unknown"):
        registry.fetch_blob(REF, "sha256:" + "2" * 64, 2)


def test_open_blob_honours_range_or_restarts(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    honour = True

    def handler(request: httpx.Request) -> httpx.Response:
        header = request.headers.get("Range")
        if header and honour:
            start = int(header.removeprefix("bytes=").rstrip("-"))
            return httpx.Response(
                206,
                content=data[start:],
                headers={"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
            )
        return httpx.Response(200, content=data)

    with _registry(handler, tmp_path) as registry:
        with registry.open_blob(REF, "sha256:" + "3" * 64, offset=1000) as stream:
            assert (stream.offset, stream.total) == (1000, len(data))
            assert b"".join(stream.iter_chunks(100)) == data[1000:]
        honour = False
        with registry.open_blob(REF, "sha256:" + "3" * 64, offset=1000) as stream:
            assert (stream.offset, stream.total) == (0, len(data))
            assert b"".join(stream.iter_chunks()) == data


def test_mirrors_are_skipped_in_order_and_remembered_for_blobs(tmp_path: Path) -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.netloc.decode())
        if request.url.host == "dead.example":
            raise httpx.ConnectError("[Errno 111] Connection refused")
        if request.url.host == "empty.example":
            return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        if "/blobs/" in request.url.path:
            return httpx.Response(200, content=b"{}")
        return httpx.Response(200, content=MANIFEST)

    config = (
        '[registries."reg.example"]\nmirrors = ["dead.example", "empty.example", "good.example"]\n'
    )
    with _registry(handler, tmp_path, config) as registry:
        resolved = registry.resolve(REF)
        assert resolved.endpoint.url == "https://good.example"
        assert hosts == ["dead.example", "empty.example", "good.example"]
        hosts.clear()
        registry.fetch_blob(REF, "sha256:" + hashlib.sha256(b"{}").hexdigest(), 2)
        assert hosts == ["good.example"]


def test_mirror_failures_fall_back_to_the_registry(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "mirror.example":
            return httpx.Response(500)
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})

    config = '[registries."reg.example"]\nmirrors = ["mirror.example"]\n'
    with _registry(handler, tmp_path, config) as registry, pytest.raises(NotFound):
        registry.resolve(REF)  # the registry's own answer, not the mirror's 500


def test_mirrors_only_names_the_setting(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    config = '[registries."reg.example"]\nmirrors = ["mirror.example"]\nmirrors_only = true\n'
    with _registry(handler, tmp_path, config) as registry, pytest.raises(Unavailable) as caught:
        registry.resolve(REF)
    assert "mirrors_only" in str(caught.value)
    assert "mirror.example" in str(caught.value)


def test_unreachable_token_server_is_named(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        challenge = 'Bearer realm="https://auth.example/token",service="s"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    with _registry(handler, tmp_path) as registry, pytest.raises(Unavailable) as caught:
        registry.resolve(REF)
    assert "token server of registry reg.example is unavailable" in str(caught.value)
    assert "https://auth.example/token" in str(caught.value)


def test_blob_redirects_drop_authorization_across_origins(tmp_path: Path) -> None:
    data = b"{}"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    storage_headers: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            return httpx.Response(200, json={"token": "t"})
        if request.url.host == "storage.example":
            storage_headers.append(request.headers.get("Authorization"))
            return httpx.Response(200, content=data)
        if request.headers.get("Authorization") != "Bearer t":
            challenge = 'Bearer realm="https://auth.example/token",service="s"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(307, headers={"Location": "https://storage.example/blob?sig=x"})

    with _registry(handler, tmp_path) as registry:
        assert registry.fetch_blob(REF, digest, 2) == data
    assert storage_headers == [None]


def test_blob_errors_fall_back_from_the_serving_endpoint_to_mirrors(tmp_path: Path) -> None:
    data = b"{}"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    def handler(request: httpx.Request) -> httpx.Response:
        on_mirror = request.url.host == "mirror.example"
        if "/manifests/" in request.url.path:
            if on_mirror:  # the mirror lacks the manifest: the registry serves it
                return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            return httpx.Response(200, content=MANIFEST)
        if on_mirror:
            return httpx.Response(200, content=data)
        return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN"}]})

    config = '[registries."reg.example"]\nmirrors = ["mirror.example"]\n'
    with _registry(handler, tmp_path, config) as registry:
        assert registry.resolve(REF).endpoint.url == "https://reg.example"
        assert registry.fetch_blob(REF, digest, 2) == data
