"""`TokenAuth`: the registry authentication handshake as an httpx auth flow.

The handshake (Docker's token specification, which Docker Hub and distribution speak):
1. Send the request, with a cached token when this origin has challenged us before, so a
   pull pays the round trips once rather than per blob.
2. On 401 read `WWW-Authenticate`. `Bearer realm=..,service=..,scope=..` -> GET the realm with
   `service` and `scope` (Basic credentials when we have them), take `token` or
   `access_token`, cache it per (realm, service, scope) until it expires, resend once.
   `Basic` -> resend once with the credentials.
3. A token server that rejects our credentials is a wrong password: Unauthorized. One that
   rejects an anonymous request leaves the 401 for the caller to explain ("pull access
   denied ...").

Imports httpx at module level: import this module only where HTTP is about to happen.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx

from berth.errors import Unauthorized, Unavailable
from berth.registry.challenge import Challenge, find_challenge, parse_challenges
from berth.registry.credentials import Credentials

log = logging.getLogger("berth.registry")

# Docker's client never trusts a token for less than a minute (the spec's default lifetime).
MINIMUM_LIFETIME = 60.0
# Refresh a little before the server's deadline, so a token never expires in flight.
EXPIRY_MARGIN = 5.0
_MAX_TOKEN_RESPONSE = 1 << 20
_REPOSITORY_PATH = re.compile(r"/v2/(?P<name>.+?)/(?:manifests|blobs|tags)/")
_READ_METHODS = frozenset({"GET", "HEAD"})

WRONG_CREDENTIALS = "unauthorized: incorrect username or password"


def scope_for(request: httpx.Request) -> str | None:
    """The token scope a request needs: `repository:NAME:pull`, or `pull,push` to write
    (with `pull` on the source repository of a cross-repository mount).

    Derived from the path so that a cached token can be sent before any challenge.
    """
    match = _REPOSITORY_PATH.search(request.url.path)
    if match is None:
        return None
    actions = "pull" if request.method in _READ_METHODS else "pull,push"
    scope = f"repository:{match.group('name')}:{actions}"
    source = request.url.params.get("from")
    if source and request.url.params.get("mount"):  # a cross-repository mount reads `from`
        scope += f" repository:{source}:pull"
    return scope


def _scope(bearer: Challenge, request: httpx.Request) -> str:
    """The challenge's scope, plus what the request needs beyond it: a registry challenges
    a mount for the target repository only, but the token must also allow reading the
    source (Docker asks for both)."""
    wanted = scope_for(request) or ""
    if not bearer.scope:
        return wanted
    challenged = [_in_docker_order(part) for part in bearer.scope.split(" ") if part]
    extra = [part for part in wanted.split(" ")[1:] if part not in challenged]
    return " ".join([*challenged, *extra])


_ACTION_ORDER = {"pull": 0, "push": 1, "delete": 2}


def _in_docker_order(part: str) -> str:
    """`repository:NAME:push,pull` as `…:pull,push`: a registry built from a Go map names
    the actions in either order from one challenge to the next; Docker's client always asks
    `pull,push`, and so does berth (one wording, one cached token)."""
    resource, colon, actions = part.rpartition(":")
    if not colon or not resource:
        return part
    ordered = sorted(actions.split(","), key=lambda action: _ACTION_ORDER.get(action, 3))
    return f"{resource}:{','.join(ordered)}"


def basic_header(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires: float


class TokenAuth(httpx.Auth):
    """Answers Bearer and Basic challenges for one registry endpoint's requests.

    One instance per endpoint and set of credentials; safe to share between threads (the
    caches are guarded by a lock; token requests themselves run unlocked).
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._bearer: dict[str, Challenge] = {}  # origin -> its last Bearer challenge
        self._basic: set[str] = set()  # origins that asked for Basic

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        origin = _origin(request.url)
        self._authorize_early(request, origin)
        response = yield request
        if response.status_code != 401:
            return
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        bearer = find_challenge(challenges, "bearer")
        if bearer is not None and bearer.realm:
            scope = _scope(bearer, request)
            token = yield from self._fetch_token(bearer, scope)
            if token is None:
                return
            with self._lock:
                self._bearer[origin] = bearer
                # Early authorization looks tokens up by the request's own scope, which may
                # be worded differently from the challenge's (`push,pull`): file it there too.
                cached = self._tokens.get((bearer.realm, bearer.service or "", scope))
                wanted = scope_for(request)
                if cached is not None and wanted is not None:
                    self._tokens[(bearer.realm, bearer.service or "", wanted)] = cached
            request.headers["Authorization"] = f"Bearer {token}"
            yield request
            return
        if find_challenge(challenges, "basic") is not None and self.credentials is not None:
            with self._lock:
                self._basic.add(origin)
            request.headers["Authorization"] = basic_header(self.credentials)
            yield request

    def _authorize_early(self, request: httpx.Request, origin: str) -> None:
        """Attach what worked last time for this origin, saving a 401 round trip."""
        with self._lock:
            if origin in self._basic and self.credentials is not None:
                request.headers["Authorization"] = basic_header(self.credentials)
                return
            bearer = self._bearer.get(origin)
            if bearer is None or bearer.realm is None:
                return
            key = (bearer.realm, bearer.service or "", scope_for(request) or "")
            token = self._tokens.get(key)
            if token is not None and token.expires > self._clock():
                request.headers["Authorization"] = f"Bearer {token.value}"

    def _fetch_token(
        self, bearer: Challenge, scope: str
    ) -> Generator[httpx.Request, httpx.Response, str | None]:
        """Ask the realm for a token; None when an anonymous request is refused."""
        realm = bearer.realm or ""
        params: list[tuple[str, str | int | float | bool | None]] = []
        if bearer.service:
            params.append(("service", bearer.service))
        # A challenge may ask for several scopes at once, separated by spaces.
        params += [("scope", part) for part in scope.split(" ") if part]
        headers = {}
        if self.credentials is not None:
            params.append(("account", self.credentials.username))
            headers["Authorization"] = basic_header(self.credentials)
        try:
            token_request = httpx.Request("GET", realm, params=params, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            raise Unavailable(f"registry sent an invalid token realm {realm!r}") from None
        response = yield token_request
        body = _read_limited(response)
        if response.status_code in (401, 403):
            if self.credentials is not None:
                raise Unauthorized(WRONG_CREDENTIALS)
            return None
        if response.status_code != 200:
            raise Unavailable(
                f"token server {token_request.url.host} answered {response.status_code}"
                f" {response.reason_phrase} for {realm}"
            )
        token, lifetime = _parse_token_response(body, realm)
        expires = self._clock() + max(lifetime, MINIMUM_LIFETIME) - EXPIRY_MARGIN
        with self._lock:
            self._tokens[(realm, bearer.service or "", scope)] = _Token(token, expires)
        return token


def _read_limited(response: httpx.Response) -> bytes:
    # read(), not iter_bytes(): httpx reads this response again once the flow moves on, and
    # a consumed stream cannot be read twice. Token answers are small; refuse declared giants.
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > _MAX_TOKEN_RESPONSE:
        response.close()
        raise Unavailable(f"token response from {response.url.host} is too large")
    return response.read()


def _parse_token_response(body: bytes, realm: str) -> tuple[str, float]:
    """(token, lifetime in seconds) from a token server's JSON answer."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Unavailable(f"token server {realm} sent a malformed answer") from None
    if not isinstance(document, dict):
        raise Unavailable(f"token server {realm} sent a malformed answer")
    # The spec names it `token`; OAuth2-style servers send `access_token`.
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise Unavailable(f"token server {realm} sent no token")
    lifetime = document.get("expires_in")
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool):
        lifetime = MINIMUM_LIFETIME
    return token, float(lifetime)
