"""Redaction of URLs before they reach a log line.

Debug logs show every registry request, and URLs carry secrets: `user:password@` in the
authority, and signed query strings on the storage URLs blob downloads are redirected to
(S3 `X-Amz-Signature`, CloudFront `Signature`, ...). Only query parameters known to be
harmless keep their values. Pure code.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
# Parameters of the registry and token APIs, which tell a reader what happened.
_SAFE_PARAMETERS = frozenset(
    {"service", "scope", "account", "n", "last", "digest", "mount", "from", "client_id"}
)


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(key, value if key in _SAFE_PARAMETERS else REDACTED) for key, value in pairs],
            safe=":/,",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
