"""Registry credentials, stored in Docker's `config.json` so `docker login` and berth share them.

The file is `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`:
`{"auths": {"<server>": {"auth": base64("user:password")}}}`, Docker Hub under the key
`https://index.docker.io/v1/`. Every other key in the file (and every other field of an entry)
is kept as it was, because the file belongs to Docker as much as to us. Writes are atomic
(temp file, fsync, rename, fsync the directory) with mode 0600: the file holds passwords.

Credential helpers (`credsStore`, `credHelpers`) are not supported: a host they cover is
treated as having no stored credentials, and `helper_for()` lets callers say why.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from berth.errors import InvalidArgument, SystemFailure

DOCKER_HUB = "docker.io"
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)

log = logging.getLogger("berth.registry")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and password (or token). The password never appears in a repr."""

    username: str
    password: str = field(repr=False)


class CredentialSource(Protocol):
    """Where the registry client finds a host's credentials: Docker's config.json
    (`CredentialStore`), or what a caller handed over for one operation (`GivenCredentials`)."""

    def get(self, host: str) -> Credentials | None: ...


@dataclass(frozen=True, slots=True)
class GivenCredentials:
    """Credentials a client sent with one request (the Engine API's `X-Registry-Auth`), used
    for every registry that request talks to, mirrors included, and nothing stored read: a
    server answers for its clients, as dockerd never reads its own config.json."""

    credentials: Credentials | None

    def get(self, host: str) -> Credentials | None:
        return self.credentials


def normalize_server(server: str) -> str:
    """The registry host a server address names, as `docker login` understands it.

    `https://index.docker.io/v1/`, `index.docker.io` and `docker.io` are all Docker Hub;
    `http://localhost:5000/` is `localhost:5000`.
    """
    text = server.strip()
    text = urlsplit(text).netloc if "://" in text else text.split("/", 1)[0]
    return DOCKER_HUB if text.lower() in _HUB_ALIASES else text


def server_key(host: str) -> str:
    """The key a host's entry is written under in config.json (Docker's choice)."""
    host = normalize_server(host)
    return DOCKER_HUB_KEY if host == DOCKER_HUB else host


def default_path() -> Path:
    directory = os.environ.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path.home() / ".docker" / "config.json"


class CredentialStore:
    """Reads and writes the `auths` section of Docker's config.json."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_path()

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise InvalidArgument(f"cannot read {self.path}: {error.strerror}") from None
        if not text.strip():
            return {}
        try:
            document = json.loads(text)
        except ValueError as error:
            raise InvalidArgument(f"invalid JSON in {self.path}: {error}") from None
        if not isinstance(document, dict):
            raise InvalidArgument(f"invalid {self.path}: not a JSON object")
        return document

    def _matching_keys(self, auths: dict[str, Any], host: str) -> list[str]:
        wanted = normalize_server(host)
        return [key for key in auths if normalize_server(key) == wanted]

    def get(self, host: str) -> Credentials | None:
        """The credentials stored for a registry host, or None (anonymous access)."""
        document = self._load()
        auths = document.get("auths")
        if not isinstance(auths, dict):
            auths = {}
        keys = self._matching_keys(auths, host)
        # The canonical key first, then the other spellings Docker has used over the years.
        keys.sort(key=lambda key: key != server_key(host))
        for key in keys:
            found = _decode_entry(auths[key], self.path, key)
            if found is not None:
                return found
        helper = self.helper_for(host, document)
        if helper:
            log.warning(
                "%s names credential helper %r for %s; berth does not run credential helpers,"
                " so it pulls anonymously (run 'berth login %s' to store credentials inline)",
                self.path,
                helper,
                normalize_server(host),
                normalize_server(host),
            )
        return None

    def helper_for(self, host: str, document: dict[str, Any] | None = None) -> str | None:
        """The credential helper config.json names for a host, which berth cannot use."""
        document = self._load() if document is None else document
        helpers = document.get("credHelpers")
        if isinstance(helpers, dict):
            for key, name in helpers.items():
                if normalize_server(key) == normalize_server(host) and isinstance(name, str):
                    return name
        store = document.get("credsStore")
        return store if isinstance(store, str) and store else None

    def store(self, host: str, username: str, password: str) -> None:
        """Save credentials for a host, replacing any stored under other spellings of it."""
        if ":" in username:
            raise InvalidArgument("username must not contain ':'")
        document = self._load()
        auths = document.get("auths")
        if not isinstance(auths, dict):
            auths = {}
        key = server_key(host)
        previous = auths.get(key)
        entry: dict[str, Any] = dict(previous) if isinstance(previous, dict) else {}
        for other in self._matching_keys(auths, host):
            if other != key:
                del auths[other]
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        entry.pop("username", None)
        entry.pop("password", None)
        entry["auth"] = token
        auths[key] = entry
        document["auths"] = auths
        self._write(document)

    def erase(self, host: str) -> bool:
        """Forget a host's credentials; False when none were stored."""
        document = self._load()
        auths = document.get("auths")
        if not isinstance(auths, dict):
            return False
        keys = self._matching_keys(auths, host)
        if not keys:
            return False
        for key in keys:
            del auths[key]
        self._write(document)
        return True

    def _write(self, document: dict[str, Any]) -> None:
        directory = self.path.parent
        data = (json.dumps(document, indent="\t") + "\n").encode()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=".config.json.", dir=directory)
            try:
                os.fchmod(handle, 0o600)  # before any secret is written
                with os.fdopen(handle, "wb") as temp_file:
                    temp_file.write(data)
                    temp_file.flush()
                    os.fsync(temp_file.fileno())
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
            directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory_fd)
            finally:
                os.close(directory_fd)
        except OSError as error:
            raise SystemFailure(f"cannot write {self.path}: {error.strerror}") from None


def _decode_entry(entry: Any, path: Path, key: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidArgument(f"invalid auth for {key} in {path}: not base64") from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise InvalidArgument(f"invalid auth for {key} in {path}: expected user:password")
        return Credentials(username, password)
    # Older Docker versions wrote the two fields separately.
    user, secret = entry.get("username"), entry.get("password")
    if isinstance(user, str) and isinstance(secret, str) and user:
        return Credentials(user, secret)
    return None
