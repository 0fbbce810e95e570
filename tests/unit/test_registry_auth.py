"""TokenAuth against an in-process fake (httpx.MockTransport): the handshake, the cache,
Basic challenges, and what a wrong password becomes."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from berth.errors import Unauthorized
from berth.registry.auth import TokenAuth, scope_for
from berth.registry.credentials import Credentials
from berth.registry.redact import redact_url

REALM = "https://auth.example/token"
CHALLENGE = f'Bearer realm="{REALM}",service="reg.example",scope="repository:a/b:pull"'


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fake:
    """A registry demanding `Bearer good` and a token server granting it."""

    def __init__(self, field: str = "token", password: str = "pw") -> None:
        self.field = field
        self.password = password
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.host == "auth.example":
            header = request.headers.get("Authorization")
            if header is not None:
                expected = "Basic " + base64.b64encode(f"u:{self.password}".encode()).decode()
                if header != expected:
                    return httpx.Response(401, json={"details": "incorrect"})
            return httpx.Response(200, json={self.field: "good", "expires_in": 120})
        if request.headers.get("Authorization") == "Bearer good":
            return httpx.Response(200, text="ok")
        return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})

    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.seen if r.url.host == "auth.example"]


def _client(fake: Fake, auth: TokenAuth) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake), auth=auth)


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_bearer_handshake_then_cached_token(field: str) -> None:
    fake = Fake(field)
    clock = FakeClock()
    with _client(fake, TokenAuth(clock=clock)) as client:
        assert client.get("https://reg.example/v2/a/b/manifests/t").status_code == 200
        assert [r.url.host for r in fake.seen] == ["reg.example", "auth.example", "reg.example"]
        [token_request] = fake.token_requests()
        assert token_request.url.params.get("service") == "reg.example"
        assert token_request.url.params.get("scope") == "repository:a/b:pull"
        assert "Authorization" not in token_request.headers  # anonymous

        fake.seen.clear()
        client.get("https://reg.example/v2/a/b/blobs/sha256:00")
        assert [r.url.host for r in fake.seen] == ["reg.example"], "token sent before a 401"

        clock.now += 200  # past expires_in: fetch a new one
        fake.seen.clear()
        client.get("https://reg.example/v2/a/b/blobs/sha256:00")
        assert len(fake.token_requests()) == 1


def test_credentials_go_to_the_realm() -> None:
    fake = Fake()
    with _client(fake, TokenAuth(Credentials("u", "pw"))) as client:
        assert client.get("https://reg.example/v2/a/b/manifests/t").status_code == 200
    [token_request] = fake.token_requests()
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.url.params.get("account") == "u"


def test_wrong_password_is_unauthorized() -> None:
    fake = Fake(password="right")
    with (
        _client(fake, TokenAuth(Credentials("u", "wrong"))) as client,
        pytest.raises(Unauthorized, match="incorrect username or password"),
    ):
        client.get("https://reg.example/v2/a/b/manifests/t")


def test_anonymous_refusal_returns_the_401() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            return httpx.Response(401)
        return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=TokenAuth()) as client:
        assert client.get("https://reg.example/v2/a/b/manifests/t").status_code == 401


def test_basic_challenge() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") == "Basic " + base64.b64encode(b"u:p").decode():
            return httpx.Response(200)
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    transport = httpx.MockTransport(handler)
    with httpx.Client(transport=transport, auth=TokenAuth(Credentials("u", "p"))) as client:
        assert client.get("https://reg.example/v2/").status_code == 200
        assert client.get("https://reg.example/v2/").status_code == 200
    assert seen[0] is None and len(seen) == 3, "Basic is sent up front once learned"
    with httpx.Client(transport=transport, auth=TokenAuth()) as client:
        assert client.get("https://reg.example/v2/").status_code == 401


def _scopes_asked(scope: str, method: str, url: str) -> list[str]:
    """The scopes of the token request that a registry challenging with `scope` makes."""
    challenge = f'Bearer realm="{REALM}",scope="{scope}"'
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.host == "auth.example":
            return httpx.Response(200, content=json.dumps({"token": "t"}).encode())
        if request.headers.get("Authorization") == "Bearer t":
            return httpx.Response(200)
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=TokenAuth()) as client:
        client.request(method, url)
    return requests[1].url.params.get_list("scope")


def test_challenge_scope_wins_and_multiple_scopes_are_split() -> None:
    asked = _scopes_asked(
        "repository:a:pull repository:b:pull", "GET", "https://reg.example/v2/a/blobs/uploads/"
    )
    assert asked == ["repository:a:pull", "repository:b:pull"]


@pytest.mark.parametrize(
    ("challenged", "asked"),
    [
        ("repository:a/b:push,pull", "repository:a/b:pull,push"),
        ("repository:a/b:pull,push", "repository:a/b:pull,push"),
        ("repository:a/b:delete,push,pull", "repository:a/b:pull,push,delete"),
        ("registry:catalog:*", "registry:catalog:*"),
        ("repository:host:5000/a:push,pull", "repository:host:5000/a:pull,push"),
    ],
)
def test_challenged_actions_are_asked_in_dockers_order(challenged: str, asked: str) -> None:
    """A registry names the actions in whatever order its map gave (Debian's docker-registry
    varies from one challenge to the next); the token is asked as Docker asks it."""
    url = "https://reg.example/v2/a/b/blobs/uploads/"
    assert _scopes_asked(challenged, "POST", url) == [asked]


def test_scope_for_requests() -> None:
    get = httpx.Request("GET", "https://r/v2/library/busybox/manifests/latest")
    post = httpx.Request("POST", "https://r/v2/me/app/blobs/uploads/")
    assert scope_for(get) == "repository:library/busybox:pull"
    assert scope_for(post) == "repository:me/app:pull,push"
    assert scope_for(httpx.Request("GET", "https://r/v2/")) is None


def test_redact_url() -> None:
    url = "https://user:pw@s3.example/blob?X-Amz-Signature=abc&X-Amz-Credential=k&digest=sha256:1"
    redacted = redact_url(url)
    assert "pw" not in redacted and "abc" not in redacted and "=k" not in redacted
    assert "digest=sha256:1" in redacted
    assert redact_url("https://r/token?service=s&scope=repository:a:pull") == (
        "https://r/token?service=s&scope=repository:a:pull"
    )
