"""Reading a registry's answers: a blob's stream (with the offset a `Range` request got), a
document read whole but capped, its digest checked, and which of several endpoints' failures
explains best why nothing worked."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import httpx

from berth.errors import BerthError, DataLoss, Unavailable
from berth.reference import Reference
from berth.registry.config import Endpoint
from berth.registry.errors import blob_error, digest_mismatch

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class BlobStream:
    """An open blob download. `offset` is where the bytes start: the offset asked for when
    the server honoured `Range`, else 0 (the caller then starts over). `total` is the size
    of the whole blob when the server said it."""

    def __init__(
        self, response: httpx.Response, offset: int, total: int | None, where: str
    ) -> None:
        self._response = response
        self.offset = offset
        self.total = total
        self._where = where

    def iter_chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        try:
            yield from self._response.iter_bytes(chunk_size=size)
        except httpx.HTTPError as error:
            raise Unavailable(f"download of {self._where} interrupted: {error}") from None


def verify(data: bytes, expected: str, what: str) -> str:
    algorithm, _, _ = expected.partition(":")
    if algorithm != "sha256":
        raise DataLoss(f"{what}: unsupported digest algorithm {algorithm!r}")
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise digest_mismatch(what, expected, actual)
    return actual


def blob_stream(
    response: httpx.Response, ref: Reference, digest: str, endpoint: Endpoint, offset: int
) -> BlobStream:
    where = f"blob {digest}"
    if response.status_code in (200, 206) and response.headers.get("Content-Type", "").startswith(
        "text/html"
    ):
        # A captive portal or a proxy's error page: not a blob, and nothing to keep or resume.
        raise DataLoss(f"{where}: {endpoint.host} answered with a web page, not the blob")
    if response.status_code == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != offset:
            raise DataLoss(f"{where}: bad Content-Range {response.headers.get('Content-Range')!r}")
        total = None if match.group(3) == "*" else int(match.group(3))
        return BlobStream(response, offset, total, where)
    if response.status_code == 200:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        return BlobStream(response, 0, total, where)
    raise blob_error(response, ref, digest, endpoint.host)


def read_capped(response: httpx.Response, limit: int, what: str) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise DataLoss(f"{what} is too large: {length} bytes, the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise DataLoss(f"{what} is too large: more than {limit} bytes")
            chunks.append(chunk)
    except httpx.HTTPError as error:
        raise Unavailable(f"reading {what} failed: {error}") from None
    return b"".join(chunks)


def choose_failure(failures: list[tuple[Endpoint, BerthError]], what: str) -> BerthError:
    """The error that explains best why nothing worked.

    The registry's own answer wins over its mirrors'; an HTTP answer wins over a failed
    connection. When only mirrors were tried (mirrors_only), say so.
    """
    upstream = [error for endpoint, error in failures if not endpoint.mirror]
    if upstream:
        answered = [error for error in upstream if not isinstance(error, Unavailable)]
        return answered[-1] if answered else upstream[-1]
    if not failures:
        return Unavailable(f"{what}: no registry endpoint is configured")
    answered = [error for _, error in failures if not isinstance(error, Unavailable)]
    if answered:
        return answered[-1]
    tried = "; ".join(f"{endpoint}: {error}" for endpoint, error in failures)
    return Unavailable(
        f"{what}: no mirror could be reached and mirrors_only forbids asking the registry "
        f"itself ({tried})",
        hint="check the mirrors in registries.toml",
    )
