"""The push side of the registry API (distribution spec): blobs asked for first, mounted from
another repository, uploaded whole or in chunks, resumed; then manifests.

An upload is a session at the registry: `POST …/blobs/uploads/` answers its `Location`,
each `PATCH` of a chunk answers the next one (distribution signs the offset into it), and
`PUT Location&digest=` closes it. A session is resumable only from a `Location` whose offset
is what the registry holds: distribution keeps the part of a chunk that arrived before a
connection broke and then refuses the session (`BLOB_UPLOAD_INVALID`), so the caller starts
a new one when `status` answers None.

Imports httpx at module level: import this module only where HTTP is about to happen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from typing import NamedTuple

import httpx

from berth.errors import BerthError, DataLoss, Unavailable
from berth.reference import Reference
from berth.registry.client import MAX_MANIFEST_SIZE, Registry
from berth.registry.config import Endpoint
from berth.registry.errors import digest_mismatch, push_error

_RANGE = re.compile(r"^(?:bytes=)?0-(\d+)$")
_READ_SIZE = 1 << 20


class Session(NamedTuple):
    """An upload in progress: where to send the next bytes, and how many the registry has."""

    location: str
    offset: int


class FileSpan:
    """Bytes `[start, end)` of a file as a request body that can be sent again (the auth
    handshake resends a request that met a 401), reporting the absolute position reached."""

    def __init__(self, path: str, start: int, end: int, sent: Callable[[int], None]) -> None:
        self.path = path
        self.start = start
        self.end = end
        self.sent = sent

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as blob:
            blob.seek(self.start)
            position = self.start
            while position < self.end:
                data = blob.read(min(_READ_SIZE, self.end - position))
                if not data:
                    raise DataLoss(f"{self.path} ended at {position}, before {self.end}")
                position += len(data)
                yield data
                self.sent(position)


class Pushing:
    """Writes to one repository of one registry endpoint. Thread-safe (the registry is)."""

    def __init__(self, registry: Registry, endpoint: Endpoint, ref: Reference) -> None:
        self.registry = registry
        self.endpoint = endpoint
        self.ref = ref
        self._base = f"/v2/{ref.path}"

    def _send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | FileSpan | None = None,
    ) -> httpx.Response:
        return self.registry.send(self.endpoint, method, path, headers=headers, content=content)

    def _fail(self, response: httpx.Response, what: str) -> BerthError:
        return push_error(response, self.ref, self.endpoint.host, what)

    def has_blob(self, digest: str) -> bool:
        response = self._send("HEAD", f"{self._base}/blobs/{digest}")
        with closing(response):
            if response.status_code == 200:
                return True
            if response.status_code == 404:
                return False
            raise self._fail(response, f"HEAD blob {digest}")

    def mount(self, digest: str, source: str) -> Session | None:
        """Ask the registry to link `digest` from repository `source` (a path on the same
        registry): None when it did, else the upload session it opened instead."""
        query = httpx.QueryParams({"mount": digest, "from": source})
        response = self._send("POST", f"{self._base}/blobs/uploads/?{query}")
        with closing(response):
            if response.status_code == 201:
                return None
            if response.status_code == 202:
                return self._session(response, 0)
            raise self._fail(response, f"mount of {digest} from {source}")

    def start(self) -> Session:
        response = self._send("POST", f"{self._base}/blobs/uploads/")
        with closing(response):
            if response.status_code != 202:
                raise self._fail(response, "starting an upload")
            return self._session(response, 0)

    def status(self, location: str) -> Session | None:
        """The session's offset as the registry holds it; None if it no longer takes it."""
        try:
            response = self._send("GET", location)
        except Unavailable:
            return None
        with closing(response):
            if response.status_code in (200, 204):
                return self._session(response, None)
            return None

    def cancel(self, session: Session) -> None:
        """Best effort: an abandoned session only costs the registry some scratch space."""
        with suppress(BerthError):
            self._send("DELETE", session.location).close()

    def patch(self, session: Session, path: str, end: int, sent: Callable[[int], None]) -> Session:
        """Send the file's bytes from the session's offset to `end` as one chunk."""
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(end - session.offset),
            "Content-Range": f"{session.offset}-{end - 1}",
        }
        span = FileSpan(path, session.offset, end, sent)
        response = self._send("PATCH", session.location, headers=headers, content=span)
        with closing(response):
            if response.status_code != 202:
                raise self._fail(response, "uploading a chunk")
            following = self._session(response, end)
        if following.offset != end:
            raise Unavailable(
                f"registry {self.endpoint.host} took {following.offset} bytes of an upload, "
                f"{end} were sent"
            )
        return following

    def finish(self, session: Session, digest: str, rest: FileSpan | None = None) -> None:
        """Close the session as blob `digest`, sending `rest` (the whole blob of a
        monolithic upload) with it."""
        url = httpx.URL(session.location).copy_merge_params({"digest": digest})
        headers = {"Content-Type": "application/octet-stream"}
        headers["Content-Length"] = str(rest.end - rest.start) if rest is not None else "0"
        response = self._send("PUT", str(url), headers=headers, content=rest or b"")
        with closing(response):
            if response.status_code not in (201, 204):
                raise self._fail(response, f"completing the upload of {digest}")
            stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != digest:
            raise digest_mismatch(f"blob pushed to {self.endpoint.host}", digest, stored)

    def put_manifest(self, reference: str, media_type: str, data: bytes, digest: str) -> None:
        """Store a manifest under a tag (or its digest); the registry must agree on the
        digest."""
        if len(data) > MAX_MANIFEST_SIZE:
            raise DataLoss(f"manifest {digest} is too large to push: {len(data)} bytes")
        response = self._send(
            "PUT",
            f"{self._base}/manifests/{reference}",
            headers={"Content-Type": media_type},
            content=data,
        )
        with closing(response):
            if response.status_code not in (200, 201):
                raise self._fail(response, f"pushing the manifest of {self.ref.familiar()}")
            stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != digest:
            raise digest_mismatch(f"manifest pushed to {self.endpoint.host}", digest, stored)

    def _session(self, response: httpx.Response, offset: int | None) -> Session:
        """The session an answer names: its absolute Location, and the offset from its
        `Range` (`offset` when the answer has none)."""
        location = response.headers.get("Location")
        if not location:
            raise Unavailable(f"registry {self.endpoint.host} gave no upload location")
        absolute = str(response.request.url.join(location))
        match = _RANGE.match(response.headers.get("Range", ""))
        if match is not None:
            held = int(match.group(1)) + 1
            # `0-0` is how distribution says "nothing yet" as well as "one byte".
            offset = held if held > 1 or offset == 1 else 0
        return Session(absolute, offset or 0)
