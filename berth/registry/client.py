"""`Registry`: the client for the registry HTTP API (distribution spec v2).

One httpx.Client per TLS mode (connections are reused across requests and threads), one
`TokenAuth` per endpoint (its token cache), and the endpoint list from `RegistriesConfig`:
mirrors in order, then the registry itself. A mirror that fails in any way is skipped (and
logged at debug); the registry itself is left only for connection failures (HTTPS -> HTTP
for insecure registries). The endpoint that served a repository's manifest serves its blobs
first. Everything fetched whole is verified by digest here; streamed blobs are verified by
the caller, who hashes while writing.

Imports httpx at module level: import this module only where HTTP is about to happen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx

from berth import __version__
from berth.errors import BerthError, DataLoss, InvalidArgument, Unauthorized, Unavailable
from berth.oci import ACCEPTED_MANIFEST_TYPES, media_type_of
from berth.reference import Reference
from berth.registry.auth import WRONG_CREDENTIALS, TokenAuth
from berth.registry.config import Endpoint, RegistriesConfig
from berth.registry.credentials import (
    Credentials,
    CredentialSource,
    CredentialStore,
    normalize_server,
)
from berth.registry.errors import (
    blob_error,
    digest_mismatch,
    manifest_error,
    status_error,
    transport_error,
)
from berth.registry.redact import redact_url
from berth.registry.responses import (
    BlobStream,
    blob_stream,
    choose_failure,
    read_capped,
    verify,
)

log = logging.getLogger("berth.registry")
# httpx logs every request at INFO with the full URL, signed query strings included; our own
# hook logs them redacted. Quiet httpx and httpcore unless someone configured them on purpose.
for _name in ("httpx", "httpcore"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)

MAX_MANIFEST_SIZE = 4 << 20
USER_AGENT = f"berth/{__version__}"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Resolved:
    """A reference resolved to its manifest: where it came from and its verified bytes."""

    endpoint: Endpoint
    digest: str
    media_type: str
    data: bytes


class Registry:
    """Registry operations over every configured endpoint (pushing: `berth.registry.upload`).
    Thread-safe."""

    def __init__(
        self,
        config: RegistriesConfig | None = None,
        credentials: CredentialSource | None = None,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network (tests use httpx.MockTransport)."""
        self.config = config if config is not None else RegistriesConfig()
        self.credentials: CredentialSource = (
            credentials if credentials is not None else CredentialStore()
        )
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._transport = transport
        self._lock = threading.Lock()
        self._clients: dict[bool, httpx.Client] = {}
        self._auths: dict[str, TokenAuth] = {}
        self._served: dict[str, Endpoint] = {}  # repository name -> endpoint of its manifest

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _client(self, endpoint: Endpoint) -> httpx.Client:
        with self._lock:
            client = self._clients.get(endpoint.verify_tls)
            if client is None:
                client = httpx.Client(
                    http1=True,
                    http2=False,
                    verify=endpoint.verify_tls,
                    timeout=self._timeout,
                    headers={"User-Agent": USER_AGENT},
                    event_hooks={"response": [_log_response]},
                    trust_env=True,  # HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE, as Docker
                    transport=self._transport,
                )
                self._clients[endpoint.verify_tls] = client
            return client

    def _auth(self, endpoint: Endpoint) -> TokenAuth:
        with self._lock:
            auth = self._auths.get(endpoint.url)
        if auth is None:
            found = self.credentials.get(endpoint.host)
            with self._lock:
                auth = self._auths.setdefault(endpoint.url, TokenAuth(found))
        return auth

    def send(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        """Send a request and return the (streaming) response; the caller closes it.

        `path` is below the endpoint, or an absolute URL the registry gave (an upload's
        Location). A body the auth handshake may have to send twice must be bytes or an
        iterable that can be iterated again (not a generator).
        """
        client = self._client(endpoint)
        url = path if path.startswith(("http://", "https://")) else f"{endpoint.url}{path}"
        request = client.build_request(method, url, headers=headers, content=content)
        try:
            return client.send(
                request,
                auth=auth if auth is not None else self._auth(endpoint),
                stream=True,
                follow_redirects=True,
            )
        except httpx.HTTPError as error:
            log.debug("%s %s failed: %s", method, redact_url(url), error)
            raise transport_error(error, endpoint.host, method, redact_url(url)) from None

    def _order(self, ref: Reference) -> list[Endpoint]:
        """Endpoints for a repository: the one that served its manifest first."""
        endpoints = self.config.endpoints(ref.domain)
        served = self._served.get(ref.name)
        if served is not None and served in endpoints:
            endpoints.remove(served)
            endpoints.insert(0, served)
        return endpoints

    def _attempt(
        self, endpoints: list[Endpoint], operation: Callable[[Endpoint], _T], what: str
    ) -> _T:
        """Run `operation` on each endpoint until one succeeds; raise the telling error."""
        failures: list[tuple[Endpoint, BerthError]] = []
        upstream_answered = False
        for endpoint in endpoints:
            if upstream_answered and not endpoint.mirror:
                continue  # the registry itself answered: its other schemes would say the same
            try:
                return operation(endpoint)
            except BerthError as error:
                failures.append((endpoint, error))
                upstream_answered |= not endpoint.mirror and not isinstance(error, Unavailable)
                log.debug("%s: %s failed (%s); trying the next endpoint", what, endpoint, error)
        raise choose_failure(failures, what)

    # -- operations -------------------------------------------------------------------------

    def ping(self, host: str) -> Endpoint:
        """The first endpoint of a registry that answers `GET /v2/` (200 or 401)."""

        return self._attempt(self.config.endpoints(host), self._check_v2, f"ping {host}")

    def push_endpoint(self, host: str) -> Endpoint:
        """Where a push goes: the registry itself (never a mirror), its first endpoint that
        answers `GET /v2/`."""
        return self._attempt(self._upstream(host), self._check_v2, f"push to {host}")

    def _check_v2(self, endpoint: Endpoint) -> Endpoint:
        response = self.send(endpoint, "GET", "/v2/", auth=httpx.Auth())
        with closing(response):
            general = status_error(response, endpoint.host)
            if general is not None:
                raise general
            if response.status_code not in (200, 401):
                raise Unavailable(
                    f"{endpoint} does not look like a registry: GET /v2/ answered "
                    f"{response.status_code} {response.reason_phrase}"
                )
        return endpoint

    def _upstream(self, host: str) -> list[Endpoint]:
        """The registry's own endpoints (mirrors_only still logs in and pushes there)."""
        upstream = [ep for ep in self.config.endpoints(host) if not ep.mirror]
        return upstream or RegistriesConfig().endpoints(host)

    def login(self, host: str, username: str, password: str) -> None:
        """Check credentials as `docker login` does: `GET /v2/`, answering its challenge
        with them. Mirrors are not involved: one logs in to the registry itself."""
        host = normalize_server(host)
        auth = TokenAuth(Credentials(username, password))

        def check(endpoint: Endpoint) -> None:
            response = self.send(endpoint, "GET", "/v2/", auth=auth)
            with closing(response):
                general = status_error(response, endpoint.host)
                if general is not None:
                    raise general
                if response.status_code == 401:
                    raise Unauthorized(WRONG_CREDENTIALS)
                if response.status_code != 200:
                    raise Unavailable(
                        f"login to {host} failed: GET {endpoint}/v2/ answered "
                        f"{response.status_code} {response.reason_phrase}"
                    )

        self._attempt(self._upstream(host), check, f"login to {host}")
        # Credentials may have changed: cached auth for this host must not outlive them.
        with self._lock:
            self._auths.clear()

    def resolve(self, ref: Reference) -> Resolved:
        """The manifest (or index) a reference names, verified, from the first endpoint that
        has it."""

        def fetch(endpoint: Endpoint) -> Resolved:
            data, digest, declared = self._get_manifest(endpoint, ref, ref.reference)
            return Resolved(endpoint, digest, media_type_of(data, declared), data)

        resolved = self._attempt(self._order(ref), fetch, f"resolve {ref}")
        self._served[ref.name] = resolved.endpoint
        return resolved

    def list_tags(self, ref: Reference) -> list[str]:
        """The repository's tags (`pull --all-tags`), following `Link` pagination."""

        def fetch(endpoint: Endpoint) -> list[str]:
            tags: list[str] = []
            path: str | None = f"/v2/{ref.path}/tags/list"
            while path:
                response = self.send(endpoint, "GET", path)
                with closing(response):
                    if response.status_code != 200:
                        raise manifest_error(response, ref, endpoint.host)
                    data = read_capped(response, MAX_MANIFEST_SIZE, f"tags of {ref.name}")
                    path = response.links.get("next", {}).get("url")
                try:
                    found = json.loads(data).get("tags") or []
                except (ValueError, AttributeError):
                    raise DataLoss(f"malformed tag list for {ref.familiar_name}") from None
                tags += [tag for tag in found if isinstance(tag, str)]
            return sorted(set(tags))

        return self._attempt(self._order(ref), fetch, f"list tags of {ref.name}")

    def fetch_manifest(self, ref: Reference, digest: str) -> bytes:
        """A manifest by digest (e.g. a platform's entry of an index), verified."""

        def fetch(endpoint: Endpoint) -> bytes:
            return self._get_manifest(endpoint, ref.with_digest(digest), digest)[0]

        return self._attempt(self._order(ref), fetch, f"fetch manifest {digest}")

    def _get_manifest(
        self, endpoint: Endpoint, ref: Reference, reference: str
    ) -> tuple[bytes, str, str | None]:
        """(bytes, our digest of them, declared Content-Type) for one endpoint."""
        headers = {"Accept": ", ".join(ACCEPTED_MANIFEST_TYPES)}
        response = self.send(
            endpoint, "GET", f"/v2/{ref.path}/manifests/{reference}", headers=headers
        )
        with closing(response):
            if response.status_code != 200:
                raise manifest_error(response, ref, endpoint.host)
            data = read_capped(response, MAX_MANIFEST_SIZE, f"manifest of {ref.familiar()}")
            declared_digest = response.headers.get("Docker-Content-Digest")
            content_type = response.headers.get("Content-Type")
        what = f"manifest of {ref.familiar()} from {endpoint}"
        if ":" in reference:  # a digest (tags cannot contain ':')
            digest = verify(data, reference, what)
        else:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if declared_digest and declared_digest.startswith("sha256:") and declared_digest != digest:
            raise digest_mismatch(what, declared_digest, digest)
        return data, digest, content_type

    def fetch_blob(self, ref: Reference, digest: str, size: int) -> bytes:
        """A small blob (an image config) read whole and verified."""

        def fetch(endpoint: Endpoint) -> bytes:
            response = self.send(endpoint, "GET", f"/v2/{ref.path}/blobs/{digest}")
            with closing(response):
                if response.status_code != 200:
                    raise blob_error(response, ref, digest, endpoint.host)
                data = read_capped(response, size, f"blob {digest}")
            if len(data) != size:
                raise DataLoss(f"blob {digest}: expected {size} bytes, got {len(data)}")
            verify(data, digest, f"blob from {endpoint}")
            return data

        return self._attempt(self._order(ref), fetch, f"fetch blob {digest}")

    @contextmanager
    def open_blob(self, ref: Reference, digest: str, offset: int = 0) -> Iterator[BlobStream]:
        """A blob download from `offset` (a `Range` request), as a stream to iterate."""
        if offset < 0:
            raise InvalidArgument(f"negative blob offset {offset}")

        def start(endpoint: Endpoint) -> BlobStream:
            path = f"/v2/{ref.path}/blobs/{digest}"
            headers = {"Range": f"bytes={offset}-"} if offset else None
            response = self.send(endpoint, "GET", path, headers=headers)
            if response.status_code == 416 and offset:
                # Asked beyond the end (the blob changed?): start again from the beginning.
                response.close()
                response = self.send(endpoint, "GET", path)
            try:
                return blob_stream(response, ref, digest, endpoint, offset)
            except BaseException:
                response.close()
                raise

        stream = self._attempt(self._order(ref), start, f"fetch blob {digest}")
        try:
            yield stream
        finally:
            stream._response.close()


def _log_response(response: httpx.Response) -> None:
    if log.isEnabledFor(logging.DEBUG):
        request = response.request
        log.debug("%s %s -> %d", request.method, redact_url(str(request.url)), response.status_code)
