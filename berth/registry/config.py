"""Registry configuration: which endpoints serve a registry, in which order, over what.

The file is TOML, looked up in this order (the first that exists wins; none means defaults):
`$BERTH_REGISTRIES_CONF`, `<root>/registries.toml`, `/etc/berth/registries.toml`.

```toml
# One table per registry, keyed by the host as it appears in image references.
[registries."docker.io"]
# Mirrors are tried in order before the registry itself. Each is a URL or a host[:port];
# without a scheme HTTPS is used (plain HTTP for loopback hosts, or when insecure).
mirrors = [
    "mirror.example.com",
    { url = "http://10.0.0.5:5000", insecure = true },
]
# Never fall back to the registry itself when every mirror failed (air-gapped hosts).
mirrors_only = false

[registries."registry.internal:5000"]
# Allow plain HTTP and unverified TLS: HTTPS is tried first (certificate not checked),
# then HTTP. localhost, 127.0.0.0/8 and ::1 are insecure without saying so, as in Docker,
# and are spoken to over plain HTTP directly.
insecure = true
```

Docker Hub (`docker.io`) is served by `https://registry-1.docker.io`. Unknown keys are
errors, so a typo never silently turns a mirror off. Pure code apart from reading the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from berth.errors import InvalidArgument
from berth.hosts import is_loopback

ENV_VAR = "BERTH_REGISTRIES_CONF"
SYSTEM_PATH = Path("/etc/berth/registries.toml")
DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"

_REGISTRY_KEYS = frozenset({"insecure", "mirrors", "mirrors_only"})
_MIRROR_KEYS = frozenset({"url", "insecure"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One base URL to send `/v2/...` requests to.

    `host` is the host[:port] credentials are looked up by; `verify_tls` is false only for
    HTTPS to an insecure registry; `mirror` marks endpoints that may be skipped quietly.
    """

    url: str
    host: str
    mirror: bool = False
    verify_tls: bool = True

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True, slots=True)
class Mirror:
    location: str
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    """What the configuration says about one registry host."""

    host: str
    insecure: bool = False
    mirrors: tuple[Mirror, ...] = ()
    mirrors_only: bool = False


def _candidates(location: str, insecure: bool, mirror: bool) -> list[Endpoint]:
    """The endpoints to try for one location, in order (HTTPS before HTTP when both)."""
    if "://" in location:
        parts = urlsplit(location)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidArgument(f"invalid registry endpoint {location!r}: expected http(s)://")
        url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        return [Endpoint(url, parts.netloc, mirror, verify_tls=not insecure)]
    host = location.rstrip("/")
    if is_loopback(host):
        return [Endpoint(f"http://{host}", host, mirror)]
    if insecure:
        return [
            Endpoint(f"https://{host}", host, mirror, verify_tls=False),
            Endpoint(f"http://{host}", host, mirror),
        ]
    return [Endpoint(f"https://{host}", host, mirror)]


@dataclass(frozen=True, slots=True)
class RegistriesConfig:
    """The registry configuration: per-host settings, defaults for every other host."""

    registries: dict[str, RegistryConfig] = field(default_factory=dict)
    source: Path | None = None

    def registry(self, host: str) -> RegistryConfig:
        return self.registries.get(host) or RegistryConfig(host)

    def endpoints(self, host: str) -> list[Endpoint]:
        """Every endpoint to try for a registry host: its mirrors in order, then itself.

        The registry itself is left out when `mirrors_only` is set.
        """
        config = self.registry(host)
        found: list[Endpoint] = []
        for mirror in config.mirrors:
            found += _candidates(mirror.location, mirror.insecure, mirror=True)
        if not (config.mirrors and config.mirrors_only):
            if host == DOCKER_HUB:
                found.append(Endpoint(DOCKER_HUB_ENDPOINT, DOCKER_HUB))
            else:
                found += _candidates(host, config.insecure, mirror=False)
        return found

    @classmethod
    def load(cls, root: Path | None = None) -> RegistriesConfig:
        """The configuration from the first file in the lookup order; defaults if none."""
        for path in _lookup_order(root):
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            except OSError as error:
                raise InvalidArgument(
                    f"cannot read registries configuration {path}: {error.strerror}"
                ) from None
            return cls.parse(text, path)
        return cls()

    @classmethod
    def parse(cls, text: str, source: Path | None = None) -> RegistriesConfig:
        """Parse TOML text; errors name the file and, for syntax errors, the line."""
        where = str(source) if source else "registries configuration"
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            # tomllib's message already ends with "(at line N, column M)".
            raise InvalidArgument(f"invalid registries configuration {where}: {error}") from None
        unknown = set(document) - {"registries"}
        if unknown:
            raise InvalidArgument(f"{where}: unknown key {sorted(unknown)[0]!r}")
        table = document.get("registries", {})
        if not isinstance(table, dict):
            raise InvalidArgument(f"{where}: 'registries' must be a table")
        registries = {host: _registry(host, raw, where) for host, raw in table.items()}
        return cls(registries, source)


def _lookup_order(root: Path | None) -> list[Path]:
    paths: list[Path] = []
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        paths.append(Path(from_env))
    if root is not None:
        paths.append(root / "registries.toml")
    paths.append(SYSTEM_PATH)
    return paths


def _boolean(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{where}: {key} must be true or false, not {value!r}")
    return value


def _registry(host: str, raw: Any, where: str) -> RegistryConfig:
    prefix = f'registries."{host}"'
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{where}: {prefix} must be a table")
    unknown = set(raw) - _REGISTRY_KEYS
    if unknown:
        raise InvalidArgument(f"{where}: unknown key {prefix}.{sorted(unknown)[0]}")
    if not host or "/" in host:
        raise InvalidArgument(f"{where}: {prefix}: a registry is named by host[:port]")
    insecure = _boolean(raw.get("insecure", False), f"{prefix}.insecure", where)
    mirrors_only = _boolean(raw.get("mirrors_only", False), f"{prefix}.mirrors_only", where)
    raw_mirrors = raw.get("mirrors", [])
    if not isinstance(raw_mirrors, list):
        raise InvalidArgument(f"{where}: {prefix}.mirrors must be a list")
    mirrors = tuple(
        _mirror(entry, f"{prefix}.mirrors[{i}]", where) for i, entry in enumerate(raw_mirrors)
    )
    if mirrors_only and not mirrors:
        raise InvalidArgument(f"{where}: {prefix}.mirrors_only is set but no mirror is listed")
    return RegistryConfig(host, insecure, mirrors, mirrors_only)


def _mirror(raw: Any, key: str, where: str) -> Mirror:
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{where}: {key} must be a URL or a table with url")
    unknown = set(raw) - _MIRROR_KEYS
    if unknown:
        raise InvalidArgument(f"{where}: unknown key {key}.{sorted(unknown)[0]}")
    location = raw.get("url")
    if not isinstance(location, str) or not location.strip():
        raise InvalidArgument(f"{where}: {key}.url must be a non-empty string")
    mirror = Mirror(
        location.strip(), _boolean(raw.get("insecure", False), f"{key}.insecure", where)
    )
    try:
        _candidates(mirror.location, mirror.insecure, mirror=True)  # validate the URL now
    except InvalidArgument as error:
        raise InvalidArgument(f"{where}: {key}: {error.message}") from None
    return mirror
