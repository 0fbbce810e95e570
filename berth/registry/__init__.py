"""The registry client: configuration, credentials, the auth handshake, pulling.

The configuration and credential modules are light and exported directly. The HTTP parts
(`Registry`, `TokenAuth`, `Resolved`, `BlobStream`) import httpx, which costs ~100 ms, so
they are loaded on first attribute access: importing `berth.registry` stays cheap for
commands that only read configuration or credentials (`berth logout`).

Must not import: image, content, snapshot, engine, cli (they sit above this package).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from berth.hosts import is_loopback
from berth.registry.challenge import Challenge, parse_challenges
from berth.registry.config import Endpoint, Mirror, RegistriesConfig, RegistryConfig
from berth.registry.credentials import (
    Credentials,
    CredentialSource,
    CredentialStore,
    GivenCredentials,
    normalize_server,
    server_key,
)

if TYPE_CHECKING:
    from berth.registry.auth import TokenAuth
    from berth.registry.client import Registry, Resolved
    from berth.registry.responses import BlobStream

# httpx's package imports its command-line tool (click, rich, pygments: ~30 ms) whenever click
# is installed (import-linter brings it into the development venv); berth never runs it. A
# None entry makes that import fail at once, and httpx then defines a stub `main` itself.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

_LAZY = {
    "TokenAuth": "berth.registry.auth",
    "Registry": "berth.registry.client",
    "Resolved": "berth.registry.client",
    "BlobStream": "berth.registry.responses",
}

__all__ = [
    "BlobStream",
    "Challenge",
    "CredentialSource",
    "CredentialStore",
    "Credentials",
    "Endpoint",
    "GivenCredentials",
    "Mirror",
    "RegistriesConfig",
    "Registry",
    "RegistryConfig",
    "Resolved",
    "TokenAuth",
    "is_loopback",
    "normalize_server",
    "parse_challenges",
    "server_key",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'berth.registry' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
