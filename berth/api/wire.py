"""One client connection: HTTP/1.1 requests in, responses out, on h11.

Limits keep a hostile client from costing more than a thread: a request's head is at most
`MAX_HEAD` bytes, a body read whole at most what the route allows. Streams (logs, events,
progress) go out chunked; a hijack (attach, exec) hands the raw socket to the route after
`101 UPGRADED`, with any bytes the client sent ahead.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import Any

import h11

from berth.errors import BerthError, InvalidArgument

MAX_HEAD = 256 * 1024
RECEIVE_SIZE = 64 * 1024
DRAIN_LIMIT = 1024 * 1024  # unread body bytes skipped to keep a connection; beyond, close
LINGER_SECONDS = 1.0
LINGER_LIMIT = 64 * 1024 * 1024  # unread body bytes read (and dropped) while closing

Headers = list[tuple[str, str]]


class TooLarge(BerthError):
    """A request body over the route's limit (413)."""


class ClientGone(Exception):
    """The client closed its connection while a response was going out."""


class HttpConnection:
    def __init__(self, sock: socket.socket, common_headers: Headers) -> None:
        self.sock = sock
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._common = [(k.encode(), v.encode()) for k, v in common_headers]
        self.responded = False
        self._head_only = False  # the request is a HEAD: its response has no body

    # -- requests ----------------------------------------------------------------------------

    def next_request(self) -> h11.Request | None:
        """The next request's head, or None when the client is done (or broke the protocol,
        which gets a 400 first)."""
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
        self.responded = False
        try:
            event = self._next_event()
        except h11.RemoteProtocolError as error:
            self._refuse(error.error_status_hint, str(error))
            return None
        if isinstance(event, h11.Request):
            if _framed_twice(event):
                self._refuse(400, "both Transfer-Encoding and Content-Length frame the body")
                return None
            self._head_only = event.method == b"HEAD"
            return event
        return None

    def _next_event(self) -> Any:
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                data = self.sock.recv(RECEIVE_SIZE)
            except (ConnectionError, TimeoutError, OSError):
                data = b""
            self._h11.receive_data(data)

    def _refuse(self, status: int, message: str) -> None:
        if self._h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        import json

        body = json.dumps({"message": f"bad request: {message}"}).encode()
        with contextlib.suppress(ClientGone, h11.LocalProtocolError):
            self.respond(status, [("Content-Type", "application/json")], body, close=True)

    def body_chunks(self) -> Iterator[bytes]:
        """The request's body as it arrives."""
        while True:
            try:
                event = self._next_event()
            except h11.RemoteProtocolError as error:
                raise InvalidArgument(f"malformed request body: {error}") from None
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise InvalidArgument("the request's body ended early")

    def read_body(self, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        for chunk in self.body_chunks():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"request body too large (over {limit} bytes)")
            parts.append(chunk)
        return b"".join(parts)

    # -- responses ---------------------------------------------------------------------------

    def _head(self, headers: Headers) -> list[tuple[bytes, bytes]]:
        return [*self._common, *((k.encode(), v.encode()) for k, v in headers)]

    def _send(self, event: Any) -> None:
        data = self._h11.send(event)
        if data:
            self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (ConnectionError, TimeoutError, OSError) as error:
            raise ClientGone(str(error)) from None

    def respond(self, status: int, headers: Headers, body: bytes, *, close: bool = False) -> None:
        """A whole response. A HEAD request gets the head only."""
        self.responded = True
        head = self._head([*headers, ("Content-Length", str(len(body)))])
        if close:
            head.append((b"Connection", b"close"))
        # One write for the whole answer: a client reading the head then the body is woken
        # once.
        send = self._h11.send
        data = send(h11.Response(status_code=status, headers=head, reason=_reason(status))) or b""
        if body and not self._head_only and self._h11.our_state is h11.SEND_BODY:
            data += send(h11.Data(data=body)) or b""
        data += send(h11.EndOfMessage()) or b""
        self._write(data)

    def stream(self, status: int, headers: Headers, chunks: Iterable[bytes]) -> None:
        """A response whose body is written as `chunks` come; an empty chunk writes nothing
        (a route yields one now and then so a stream with nothing to say notices a client
        that went away)."""
        self.responded = True
        self._send(
            h11.Response(status_code=status, headers=self._head(headers), reason=_reason(status))
        )
        for chunk in chunks:
            if chunk:
                self._send(h11.Data(data=chunk))
            elif self.client_gone():
                raise ClientGone("the client closed the connection")
        self._send(h11.EndOfMessage())

    def hijack(self, headers: Headers, *, upgrade: bool) -> tuple[socket.socket, bytes]:
        """Take the socket over: `101 UPGRADED` (or `200 OK` for a client that did not ask
        to upgrade, as dockerd answers it), then raw bytes both ways. Returns the socket and
        what the client sent after its request."""
        self.responded = True
        if upgrade:
            status = "101 UPGRADED"
            headers = [*headers, ("Connection", "Upgrade"), ("Upgrade", "tcp")]
        else:
            status = "200 OK"
        lines = [f"HTTP/1.1 {status}"]
        lines += [f"{k.decode()}: {v.decode()}" for k, v in self._common]
        lines += [f"{k}: {v}" for k, v in headers]
        self._write(("\r\n".join(lines) + "\r\n\r\n").encode())
        leftover, _closed = self._h11.trailing_data
        return self.sock, bytes(leftover)

    def client_gone(self) -> bool:
        """Whether the client closed its side (a readable socket with nothing to read)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return False
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    # -- between requests -------------------------------------------------------------------

    def reusable(self) -> bool:
        """Whether another request may follow: the response went out whole and the request's
        body was read (or was small enough to skip)."""
        if self._h11.our_state is not h11.DONE:
            return False
        skipped = 0
        while self._h11.their_state is h11.SEND_BODY:
            try:
                event = self._next_event()
            except h11.RemoteProtocolError:
                return False
            if isinstance(event, h11.Data):
                skipped += len(event.data)
                if skipped > DRAIN_LIMIT:
                    return False
            elif not isinstance(event, h11.EndOfMessage):
                return False
        return self._h11.their_state is h11.DONE

    def close(self) -> None:
        """Close after a lingering read: a client whose request was refused half-read must
        get the answer, which an unread receive buffer would turn into a reset. A client
        still sending a large body (an import refused before it was read) must be let finish
        it too, or the reset reaches it before the answer does: the read is bounded by time
        and by `LINGER_LIMIT`, not by the small `DRAIN_LIMIT` that keeps a connection."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            drained = 0
            while drained < LINGER_LIMIT and time.monotonic() < deadline:
                data = self.sock.recv(RECEIVE_SIZE)
                if not data:
                    break
                drained += len(data)
        self.sock.close()


def _framed_twice(request: h11.Request) -> bool:
    """A body framed both ways is ambiguous (RFC 9112 6.3): refused, or its bytes would be
    read as chunks the client never meant (docker-py's `import_image_from_stream` of a file
    sends a plain body so) and the request would wait for a chunk header that never comes."""
    names = {name for name, _ in request.headers}  # h11 gives them in lower case
    return b"transfer-encoding" in names and b"content-length" in names


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""
