"""The registry client against real registries (Debian's docker-registry, distribution 2.8):
the Bearer token flow with a real token server, login, stored credentials, mirrors, plain
HTTP on loopback, Range, and a manifest tampered with in the registry's own storage."""

from __future__ import annotations

import io
import json
import random
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.cli.main import main
from berth.errors import DataLoss, NotFound, Unauthorized, Unavailable
from berth.reference import parse
from berth.registry import CredentialStore, RegistriesConfig, Registry
from tests.fixtures import oci_layout as oci
from tests.fixtures.registry import RunningRegistry, free_port, start_registry
from tests.fixtures.token_server import (
    USERS,
    TokenRegistry,
    push_authenticated,
    start_token_registry,
)

USER, PASSWORD = next(iter(USERS.items()))


@dataclass(frozen=True)
class Pushed:
    image: oci.BuiltImage
    layer_data: bytes  # the (compressed) layer blob as pushed


def _image(seed: int) -> Pushed:
    # Random bytes do not compress: the layer blob is big enough for a meaningful Range.
    payload = random.Random(seed).randbytes(256 << 10)
    tar = oci.make_tar([oci.file("data.bin", payload)])
    image = oci.build_image([tar], "gzip", "oci")
    return Pushed(image, image.layers[0].blob.data)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Pushed, Pushed]:
    """An OCI layout with `v1` (pushed everywhere) and `tamper` (a unique manifest)."""
    path = tmp_path_factory.mktemp("layout")
    main_image, tamper_image = _image(1), _image(2)
    oci.write_layout(path, {"v1": main_image.image, "tamper": tamper_image.image})
    return path, main_image, tamper_image


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, layout: tuple[Path, Pushed, Pushed]
) -> Iterator[TokenRegistry]:
    running = start_token_registry(tmp_path_factory.mktemp("token-registry"))
    try:
        for name in ("public/hello:v1", "private/secret:v1"):
            push_authenticated(layout[0], "v1", f"{running.host}/{name}", USER, PASSWORD)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def plain_registry(
    tmp_path_factory: pytest.TempPathFactory, layout: tuple[Path, Pushed, Pushed]
) -> Iterator[RunningRegistry]:
    running = start_registry(tmp_path_factory.mktemp("plain-registry"))
    try:
        oci.push(layout[0], "v1", f"{running.host}/team/hello:v1")
        oci.push(layout[0], "tamper", f"{running.host}/team/tamper:v1")
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def empty_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    running = start_registry(tmp_path_factory.mktemp("empty-mirror"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty DOCKER_CONFIG and no system registries.toml: the test owns both."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("BERTH_REGISTRIES_CONF", str(tmp_path / "registries.toml"))
    return tmp_path / "docker" / "config.json"


def _client(config: str = "", store: CredentialStore | None = None) -> Registry:
    return Registry(
        RegistriesConfig.parse(config),
        store or CredentialStore(Path("/nonexistent/config.json")),
        timeout=20,
        connect_timeout=3,
    )


def test_anonymous_pull_through_tokens_over_plain_http(
    token_registry: TokenRegistry, layout: tuple[Path, Pushed, Pushed]
) -> None:
    pushed = layout[1]
    ref = parse(f"{token_registry.host}/public/hello:v1")
    token_registry.tokens.requests.clear()
    with _client() as registry:
        resolved = registry.resolve(ref)
        assert resolved.endpoint.url == f"http://{token_registry.host}"
        assert resolved.digest == pushed.image.manifest.digest
        assert resolved.data == pushed.image.manifest.data
        assert resolved.media_type == oci.OCI_MANIFEST
        config = pushed.image.config
        assert registry.fetch_blob(ref, config.digest, config.size) == config.data
        with registry.open_blob(ref, pushed.image.layers[0].blob.digest) as stream:
            assert (stream.offset, stream.total) == (0, len(pushed.layer_data))
            assert b"".join(stream.iter_chunks()) == pushed.layer_data
    requests = token_registry.tokens.requests
    assert [(r.account, r.scopes, r.status) for r in requests] == [
        (None, ("repository:public/hello:pull",), 200)
    ], "one anonymous token, reused for the manifest and both blobs"


def test_private_repository_is_pull_access_denied(token_registry: TokenRegistry) -> None:
    with _client() as registry, pytest.raises(Unauthorized) as caught:
        registry.resolve(parse(f"{token_registry.host}/private/secret:v1"))
    assert str(caught.value).startswith(
        f"pull access denied for {token_registry.host}/private/secret, repository does not "
        "exist or may require 'docker login'"
    )


def test_unknown_tag_is_manifest_unknown(token_registry: TokenRegistry) -> None:
    with _client() as registry, pytest.raises(NotFound) as caught:
        registry.resolve(parse(f"{token_registry.host}/public/hello:nope"))
    assert str(caught.value) == (
        f"manifest for {token_registry.host}/public/hello:nope not found: manifest unknown"
    )


def test_login_checks_the_password(token_registry: TokenRegistry) -> None:
    with _client() as registry:
        registry.login(token_registry.host, USER, PASSWORD)
        with pytest.raises(Unauthorized, match="incorrect username or password"):
            registry.login(token_registry.host, USER, "wrong")


def test_cli_login_stores_credentials_that_pulls_use(
    token_registry: TokenRegistry,
    docker_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    layout: tuple[Path, Pushed, Pushed],
) -> None:
    host = token_registry.host
    root = ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run")]

    monkeypatch.setattr("sys.stdin", io.StringIO("wrong\n"))
    assert main([*root, "login", "-u", USER, "--password-stdin", host]) == 1
    assert "incorrect username or password" in capsys.readouterr().err
    assert not docker_config.exists()

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main([*root, "login", "-u", USER, "--password-stdin", host]) == 0
    assert capsys.readouterr().out.strip().endswith("Login Succeeded")
    assert stat.S_IMODE(docker_config.stat().st_mode) == 0o600
    assert list(json.loads(docker_config.read_text())["auths"]) == [host]

    token_registry.tokens.requests.clear()
    with _client(store=CredentialStore()) as registry:
        resolved = registry.resolve(parse(f"{host}/private/secret:v1"))
    assert resolved.digest == layout[1].image.manifest.digest
    assert [r.account for r in token_registry.tokens.requests] == [USER]

    assert main([*root, "logout", host]) == 0
    assert capsys.readouterr().out == f"Removing login credentials for {host}\n"
    assert main([*root, "logout", host]) == 0
    assert capsys.readouterr().out == f"Not logged in to {host}\n"
    assert CredentialStore().get(host) is None


def test_dead_and_empty_mirrors_are_skipped(
    plain_registry: RunningRegistry,
    empty_mirror: RunningRegistry,
    layout: tuple[Path, Pushed, Pushed],
) -> None:
    upstream = f"127.0.0.1:{free_port()}"  # nothing listens: only mirrors can serve
    config = (
        f'[registries."{upstream}"]\n'
        f'mirrors = ["127.0.0.1:{free_port()}", "{empty_mirror.host}", '
        f'{{ url = "http://{plain_registry.host}" }}]\n'
    )
    ref = parse(f"{upstream}/team/hello:v1")
    pushed = layout[1]
    with _client(config) as registry:
        resolved = registry.resolve(ref)
        assert resolved.endpoint.url == f"http://{plain_registry.host}"
        assert resolved.endpoint.mirror
        assert resolved.digest == pushed.image.manifest.digest
        config_blob = pushed.image.config
        assert registry.fetch_blob(ref, config_blob.digest, config_blob.size) == config_blob.data


def test_mirrors_only_with_a_dead_mirror_fails_clearly(plain_registry: RunningRegistry) -> None:
    dead = f"127.0.0.1:{free_port()}"
    config = f'[registries."{plain_registry.host}"]\nmirrors = ["{dead}"]\nmirrors_only = true\n'
    with _client(config) as registry, pytest.raises(Unavailable) as caught:
        registry.resolve(parse(f"{plain_registry.host}/team/hello:v1"))
    message = str(caught.value)
    assert "mirrors_only" in message
    assert dead in message
    assert "connection refused" in message


def test_unreachable_registry_is_unavailable_naming_it() -> None:
    host = f"127.0.0.1:{free_port()}"
    with _client() as registry, pytest.raises(Unavailable) as caught:
        registry.resolve(parse(f"{host}/team/hello:v1"))
    assert host in str(caught.value)
    assert "connection refused" in str(caught.value)


def test_range_resume_is_granted(
    plain_registry: RunningRegistry, layout: tuple[Path, Pushed, Pushed]
) -> None:
    pushed = layout[1]
    ref = parse(f"{plain_registry.host}/team/hello:v1")
    offset = len(pushed.layer_data) // 3
    with (
        _client() as registry,
        registry.open_blob(ref, pushed.image.layers[0].blob.digest, offset) as stream,
    ):
        assert stream.offset == offset
        assert stream.total == len(pushed.layer_data)
        assert b"".join(stream.iter_chunks(4096)) == pushed.layer_data[offset:]


def test_manifest_tampered_in_storage_is_data_loss(
    plain_registry: RunningRegistry, layout: tuple[Path, Pushed, Pushed]
) -> None:
    manifest = layout[2].image.manifest
    hex_digest = manifest.digest.partition(":")[2]
    data_file = (
        plain_registry.storage
        / "docker/registry/v2/blobs/sha256"
        / hex_digest[:2]
        / hex_digest
        / "data"
    )
    original = data_file.read_bytes()
    # Same length and still valid JSON: only the digest can tell.
    tampered = original.replace(b"\n   ", b"\n\t  ", 1)
    assert tampered != original and len(tampered) == len(original)
    data_file.write_bytes(tampered)
    try:
        with _client() as registry:
            with pytest.raises(DataLoss, match="digest mismatch"):
                registry.resolve(parse(f"{plain_registry.host}/team/tamper:v1"))
            with pytest.raises(DataLoss, match="digest mismatch"):
                registry.resolve(parse(f"{plain_registry.host}/team/tamper@{manifest.digest}"))
    finally:
        data_file.write_bytes(original)
