"""Registry failures -> berth error kinds, in one place, worded as Docker words them.

Two sources: transport failures (httpx exceptions: refused, DNS, TLS, timeouts), which are
always Unavailable and name the registry host; and HTTP answers, whose status and the
registry's JSON error body (`{"errors": [{"code": ..., "message": ...}]}`) choose the kind.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from berth.errors import (
    BerthError,
    DataLoss,
    NotFound,
    PermissionDenied,
    Unauthorized,
    Unavailable,
)
from berth.reference import Reference
from berth.registry.redact import redact_url

_MAX_ERROR_BODY = 64 << 10


def _reason(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "no such host"
    if "temporary failure in name resolution" in lowered:
        return "no such host (temporary failure in name resolution)"
    if "certificate" in lowered or "ssl" in lowered:
        return f"TLS handshake failed: {text}"
    return text


def transport_error(error: httpx.HTTPError, host: str, method: str, url: str) -> Unavailable:
    """A request that never got an HTTP answer.

    The failing request may be the token request the auth flow made on the registry's
    behalf: then the token server is named, since that is what to go and fix.
    """
    try:
        failing: httpx.Request | None = error.request
    except RuntimeError:  # httpx raises when the exception carries no request
        failing = None
    if failing is not None and failing.url.netloc != httpx.URL(url).netloc:
        realm = redact_url(str(failing.url.copy_with(query=None)))
        return Unavailable(
            f"token server of registry {host} is unavailable: {failing.method} {realm}: "
            f"{_reason(error)}",
            hint="check that the registry's auth server is running and reachable",
        )
    return Unavailable(
        f"registry {host} is unavailable: {method} {url}: {_reason(error)}",
        hint="check that the registry is running and reachable",
    )


def read_errors(response: httpx.Response) -> list[tuple[str, str]]:
    """(code, message) pairs from a registry error body; empty if there is none."""
    try:
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > _MAX_ERROR_BODY:
                break
        document: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, httpx.HTTPError):
        return []
    raw = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(raw, list):
        return []
    found: list[tuple[str, str]] = []
    for entry in raw:
        if isinstance(entry, dict):
            code, message = entry.get("code"), entry.get("message")
            found.append((str(code or "").upper(), str(message or "")))
    return found


def _describe(errors: list[tuple[str, str]]) -> str:
    """Docker's rendering of a registry error: `denied: requested access ...`."""
    return "; ".join(f"{code.lower()}: {message}" if code else message for code, message in errors)


def _pull_denied(ref: Reference, detail: str) -> str:
    text = (
        f"pull access denied for {ref.familiar_name}, repository does not exist or may "
        "require 'docker login'"
    )
    return f"{text}: {detail}" if detail else text


def status_error(response: httpx.Response, host: str) -> BerthError | None:
    """Errors whose meaning does not depend on what was asked for: 429 and 5xx."""
    if response.status_code == 429:
        detail = _describe(read_errors(response)) or "too many requests"
        return Unavailable(f"registry {host}: toomanyrequests: {detail}")
    if response.status_code >= 500:
        return Unavailable(
            f"registry {host} failed: {response.request.method} "
            f"{response.request.url.copy_with(query=None)}: "
            f"{response.status_code} {response.reason_phrase}"
        )
    return None


def manifest_error(response: httpx.Response, ref: Reference, host: str) -> BerthError:
    """Why a manifest GET failed, as `docker pull` would say it."""
    general = status_error(response, host)
    if general is not None:
        return general
    errors = read_errors(response)
    codes = {code for code, _ in errors}
    detail = _describe(errors)
    status = response.status_code
    if status == 401:
        return Unauthorized(_pull_denied(ref, detail))
    if status == 403:
        return PermissionDenied(_pull_denied(ref, detail))
    if status == 404:
        if "NAME_UNKNOWN" in codes:
            return NotFound(_pull_denied(ref, detail))
        wanted = (
            f"{ref.familiar_name}@{ref.digest}"
            if ref.digest
            else f"{ref.familiar_name}:{ref.reference}"
        )
        return NotFound(f"manifest for {wanted} not found: manifest unknown")
    return Unavailable(
        f"registry {host} answered {status} {response.reason_phrase} for the manifest of "
        f"{ref.familiar()}" + (f": {detail}" if detail else "")
    )


def blob_error(response: httpx.Response, ref: Reference, digest: str, host: str) -> BerthError:
    """Why a blob GET failed."""
    general = status_error(response, host)
    if general is not None:
        return general
    errors = read_errors(response)
    detail = _describe(errors)
    status = response.status_code
    if status == 401:
        return Unauthorized(_pull_denied(ref, detail))
    if status == 403:
        return PermissionDenied(_pull_denied(ref, detail))
    if status == 404:
        return NotFound(f"blob {digest} not found in {ref.familiar_name}: blob unknown")
    return Unavailable(
        f"registry {host} answered {status} {response.reason_phrase} for blob {digest}"
        + (f": {detail}" if detail else "")
    )


def digest_mismatch(what: str, expected: str, actual: str) -> DataLoss:
    return DataLoss(f"{what} digest mismatch: expected {expected}, got {actual}")


PUSH_DENIED = "denied: requested access to the resource is denied"


def push_error(response: httpx.Response, ref: Reference, host: str, what: str) -> BerthError:
    """Why a request of a push failed, as `docker push` says it."""
    general = status_error(response, host)
    if general is not None:
        return general
    errors = read_errors(response)
    codes = {code for code, _ in errors}
    detail = _describe(errors)
    status = response.status_code
    if status in (401, 403):
        message = detail if "DENIED" in codes else PUSH_DENIED
        kind = Unauthorized if status == 401 else PermissionDenied
        return kind(message, hint=f"log in with `berth login {host}` if the registry needs it")
    if status == 404 and "NAME_UNKNOWN" in codes:
        return NotFound(f"repository {ref.familiar_name} not found: {detail}")
    return Unavailable(
        f"registry {host} answered {status} {response.reason_phrase} to {what}"
        + (f": {detail}" if detail else "")
    )
