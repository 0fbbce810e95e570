"""`berth login`/`berth logout` without a registry: flags, messages, and start-up cost."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from berth.cli.main import main
from berth.registry.credentials import DOCKER_HUB_KEY, CredentialStore


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("BERTH_REGISTRIES_CONF", str(tmp_path / "registries.toml"))
    return tmp_path / "docker" / "config.json"


def test_logout_messages_follow_docker(
    docker_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    CredentialStore().store("docker.io", "u", "p")
    CredentialStore().store("127.0.0.1:5000", "u", "p")
    assert main(["logout"]) == 0
    assert capsys.readouterr().out == f"Removing login credentials for {DOCKER_HUB_KEY}\n"
    assert main(["logout", "http://127.0.0.1:5000/"]) == 0
    assert capsys.readouterr().out == "Removing login credentials for 127.0.0.1:5000\n"
    assert main(["logout", "127.0.0.1:5000"]) == 0
    assert capsys.readouterr().out == "Not logged in to 127.0.0.1:5000\n"
    assert json.loads(docker_config.read_text()) == {"auths": {}}


def test_login_usage_errors(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["login", "-p", "x", "--password-stdin", "r.example"]) == 125
    assert "mutually exclusive" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("pw\n"))
    assert main(["login", "--password-stdin", "r.example"]) == 1
    assert "Must provide --username with --password-stdin" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["login", "r.example"]) == 1
    assert "non TTY device" in capsys.readouterr().err
    assert not docker_config.exists()


def test_logout_does_not_import_httpx(docker_config: Path) -> None:
    code = (
        "import sys; from berth.cli.main import main; main(['logout', 'r.example']); "
        "print('httpx' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines() == ["Not logged in to r.example", "False"]
