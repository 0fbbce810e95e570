"""The config.json credential store: round trip, Docker's keys, file mode, other keys kept."""

from __future__ import annotations

import base64
import json
import logging
import stat
from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.registry.credentials import (
    DOCKER_HUB_KEY,
    Credentials,
    CredentialStore,
    default_path,
    normalize_server,
)


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_round_trip_and_mode(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "docker" / "config.json")
    assert store.get("127.0.0.1:5000") is None
    store.store("127.0.0.1:5000", "alice", "s3cr:et")
    assert store.get("127.0.0.1:5000") == Credentials("alice", "s3cr:et")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    document = json.loads(store.path.read_text())
    assert document == {"auths": {"127.0.0.1:5000": {"auth": _auth("alice", "s3cr:et")}}}
    assert store.erase("127.0.0.1:5000") is True
    assert store.get("127.0.0.1:5000") is None
    assert store.erase("127.0.0.1:5000") is False
    assert not list(store.path.parent.glob(".config.json.*")), "temp files left behind"


def test_docker_hub_uses_the_legacy_index_key(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "config.json")
    store.store("docker.io", "bob", "pw")
    assert list(json.loads(store.path.read_text())["auths"]) == [DOCKER_HUB_KEY]
    for alias in ("docker.io", "index.docker.io", "https://index.docker.io/v1/"):
        assert store.get(alias) == Credentials("bob", "pw")


def test_other_keys_and_fields_are_preserved(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "auths": {
                    "https://ghcr.io": {"auth": _auth("x", "y"), "email": "x@example.com"},
                    "other.example": {"auth": _auth("o", "p")},
                },
                "psFormat": "table {{.ID}}",
                "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
            }
        )
    )
    store = CredentialStore(path)
    assert store.get("ghcr.io") == Credentials("x", "y")  # a URL-spelled key still matches
    store.store("ghcr.io", "new", "secret")
    document = json.loads(path.read_text())
    assert document["psFormat"] == "table {{.ID}}"
    assert document["proxies"] == {"default": {"httpProxy": "http://proxy:3128"}}
    assert document["auths"]["other.example"] == {"auth": _auth("o", "p")}
    assert document["auths"]["ghcr.io"] == {"auth": _auth("new", "secret")}
    assert "https://ghcr.io" not in document["auths"]


def test_separate_username_and_password_fields(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"r.example": {"username": "u", "password": "p"}}}))
    assert CredentialStore(path).get("r.example") == Credentials("u", "p")


def test_password_is_not_in_repr() -> None:
    assert "hunter2" not in repr(Credentials("u", "hunter2"))


def test_credential_helpers_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {}, "credHelpers": {"gcr.io": "gcloud"}}))
    store = CredentialStore(path)
    with caplog.at_level(logging.WARNING, logger="berth.registry"):
        assert store.get("gcr.io") is None
    assert "gcloud" in caplog.text
    assert store.helper_for("gcr.io") == "gcloud"
    assert store.helper_for("quay.io") is None


@pytest.mark.parametrize(
    "content", ["{not json", "[]", json.dumps({"auths": {"r.example": {"auth": "!!!"}}})]
)
def test_malformed_files_name_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(InvalidArgument, match=str(path)):
        CredentialStore(path).get("r.example")


def test_default_path_follows_docker_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert default_path() == tmp_path / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".docker" / "config.json"


@pytest.mark.parametrize(
    ("server", "host"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("http://localhost:5000/", "localhost:5000"),
        ("quay.io/some/path", "quay.io"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
    ],
)
def test_normalize_server(server: str, host: str) -> None:
    assert normalize_server(server) == host
