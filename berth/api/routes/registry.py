"""What the API asks a registry on a client's behalf: `POST /auth` (check credentials, as
`docker login` does through the daemon), `GET /distribution/{name}/json`, and the credentials a
client sends with a request (`X-Registry-Auth`).

Like dockerd, the server uses only the credentials a request carries, never a config.json of
its own: the docker CLI and docker-py send the ones their user stored.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from berth.api.request import Answer, Request, json_reply
from berth.errors import InvalidArgument
from berth.reference import parse
from berth.registry import Credentials, GivenCredentials, normalize_server

DOCKER_HUB = "docker.io"


def credentials_of(request: Request) -> GivenCredentials:
    """The `X-Registry-Auth` header: base64url of a JSON AuthConfig. A malformed one is
    ignored (the request goes anonymously), as dockerd does for pulls."""
    header = request.headers.get("x-registry-auth", "").strip()
    if not header:
        return GivenCredentials(None)
    try:
        document = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return GivenCredentials(None)
    return GivenCredentials(_credentials(document) if isinstance(document, dict) else None)


def _credentials(document: dict[str, Any]) -> Credentials | None:
    """A user name and password, given apart or as `auth` (base64 of `user:password`, as
    config.json keeps them). Identity and registry tokens (OAuth refresh tokens, bearer
    tokens) are not used: without a password the request goes anonymously."""
    username = _text(document, "username")
    password = _text(document, "password")
    if not username and (packed := _text(document, "auth")):
        try:
            username, _, password = base64.b64decode(packed).decode().partition(":")
        except (ValueError, binascii.Error):
            return None
    return Credentials(username, password) if username else None


def _text(document: dict[str, Any], name: str) -> str:
    """A field of the AuthConfig; Go's decoder matches names whatever their case (a field
    that is no string counts as empty)."""
    for key, value in document.items():
        if key.lower() == name and isinstance(value, str):
            return value
    return ""


def auth(request: Request) -> Answer:
    """`POST /auth`: the registry itself checks the credentials (`GET /v2/` answering its
    challenge with them); nothing is stored, the client keeps them."""
    document = request.json_object()
    username, password = _text(document, "username"), _text(document, "password")
    if not username or not password:
        raise InvalidArgument("login needs a username and a password")
    server = normalize_server(_text(document, "serveraddress") or DOCKER_HUB)
    request.engine.images.login(server, username, password)
    return json_reply({"Status": "Login Succeeded", "IdentityToken": ""})


def distribution(request: Request) -> Answer:
    """`GET /distribution/{name}/json`: the registry's descriptor for a reference and the
    platforms it offers, asked with the request's credentials."""
    reference = parse(request.params["name"])
    images = request.engine.images
    with images.registry(credentials_of(request)) as registry:
        return json_reply(images.distribution(reference, registry))


ROUTES = [
    ("POST", "/auth", auth),
    ("GET", "/distribution/{name:path}/json", distribution),
]
