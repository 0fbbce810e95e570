"""registries.toml: parsing, errors naming file and line, endpoint and mirror ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.registry.config import (
    Endpoint,
    Mirror,
    RegistriesConfig,
    RegistryConfig,
    is_loopback,
)

EXAMPLE = """
[registries."docker.io"]
mirrors = [
    "mirror.example.com",
    { url = "http://10.0.0.5:5000", insecure = true },
    "127.0.0.1:5001",
]

[registries."registry.internal:5000"]
insecure = true

[registries."quay.io"]
mirrors = ["https://quay-mirror.example.com/"]
mirrors_only = true
"""


def test_docker_hub_defaults_to_registry_1() -> None:
    assert RegistriesConfig().endpoints("docker.io") == [
        Endpoint("https://registry-1.docker.io", "docker.io")
    ]


def test_mirrors_come_first_in_order_then_the_registry() -> None:
    config = RegistriesConfig.parse(EXAMPLE)
    assert config.registry("docker.io").mirrors == (
        Mirror("mirror.example.com"),
        Mirror("http://10.0.0.5:5000", insecure=True),
        Mirror("127.0.0.1:5001"),
    )
    assert config.endpoints("docker.io") == [
        Endpoint("https://mirror.example.com", "mirror.example.com", mirror=True),
        Endpoint("http://10.0.0.5:5000", "10.0.0.5:5000", mirror=True, verify_tls=False),
        Endpoint("http://127.0.0.1:5001", "127.0.0.1:5001", mirror=True),
        Endpoint("https://registry-1.docker.io", "docker.io"),
    ]


def test_mirrors_only_leaves_the_registry_out() -> None:
    config = RegistriesConfig.parse(EXAMPLE)
    assert config.endpoints("quay.io") == [
        Endpoint("https://quay-mirror.example.com", "quay-mirror.example.com", mirror=True)
    ]


def test_insecure_registry_tries_unverified_https_then_http() -> None:
    config = RegistriesConfig.parse(EXAMPLE)
    assert config.endpoints("registry.internal:5000") == [
        Endpoint("https://registry.internal:5000", "registry.internal:5000", verify_tls=False),
        Endpoint("http://registry.internal:5000", "registry.internal:5000"),
    ]


@pytest.mark.parametrize("host", ["localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"])
def test_loopback_registries_use_plain_http(host: str) -> None:
    assert is_loopback(host)
    assert RegistriesConfig().endpoints(host) == [Endpoint(f"http://{host}", host)]


@pytest.mark.parametrize(
    "host", ["example.com", "10.0.0.1:5000", "localhost.example.com", "127.1", "0177.0.0.1"]
)
def test_other_registries_use_https(host: str) -> None:
    assert not is_loopback(host)
    assert RegistriesConfig().endpoints(host) == [Endpoint(f"https://{host}", host)]


def test_unknown_host_gets_defaults() -> None:
    assert RegistriesConfig.parse(EXAMPLE).registry("ghcr.io") == RegistryConfig("ghcr.io")


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "registries.toml"
    path.write_text('[registries."docker.io"]\nmirrors = [\n  "a",\n  oops\n]\n')
    with pytest.raises(InvalidArgument) as caught:
        RegistriesConfig.load(tmp_path)
    assert str(path) in caught.value.message
    assert "line 4" in caught.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[registries."docker.io"]\nmirror = ["x"]\n', "unknown key"),
        ('[registries."docker.io"]\ninsecure = "yes"\n', "insecure must be true or false"),
        ('[registries."docker.io"]\nmirrors = "x"\n', "mirrors must be a list"),
        ('[registries."docker.io"]\nmirrors = [{ insecure = true }]\n', "url must be"),
        ('[registries."docker.io"]\nmirrors = ["ftp://x"]\n', "invalid registry endpoint"),
        ('[registries."docker.io"]\nmirrors_only = true\n', "no mirror is listed"),
        ("[mirrors]\n", "unknown key 'mirrors'"),
        ('[registries."a/b"]\n', "host[:port]"),
    ],
)
def test_schema_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        RegistriesConfig.parse(text, Path("/etc/berth/registries.toml"))
    assert fragment in caught.value.message
    assert "/etc/berth/registries.toml" in caught.value.message


def test_lookup_order_env_then_root_then_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "registries.toml").write_text('[registries."a.example"]\ninsecure = true\n')
    from_env = tmp_path / "env.toml"
    from_env.write_text('[registries."b.example"]\ninsecure = true\n')

    monkeypatch.setattr("berth.registry.config.SYSTEM_PATH", tmp_path / "missing.toml")
    monkeypatch.delenv("BERTH_REGISTRIES_CONF", raising=False)
    assert RegistriesConfig.load(root).source == root / "registries.toml"
    monkeypatch.setenv("BERTH_REGISTRIES_CONF", str(from_env))
    assert RegistriesConfig.load(root).registry("b.example").insecure
    monkeypatch.setenv("BERTH_REGISTRIES_CONF", str(tmp_path / "absent.toml"))
    assert RegistriesConfig.load(root).registry("a.example").insecure
    assert RegistriesConfig.load(tmp_path / "nowhere") == RegistriesConfig()
