"""The server: a thread accepting on each listener, a thread per connection.

Daemonless still: each connection opens the store as a CLI command would, so containers are
the same whoever made them, and a stopped server leaves them running under their monitors.
`stop` (SIGTERM) closes the listeners, ends idle connections and streams, lets requests in
flight finish (up to `grace` seconds), then returns.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote

from berth import __version__
from berth.api import versions
from berth.api.engines import EnginePool
from berth.api.request import Hijacked, Reply, Request, Session, Stream, json_reply
from berth.api.router import Router, error_reply
from berth.api.shared import Shared
from berth.api.wire import ClientGone, HttpConnection
from berth.errors import BerthError

if TYPE_CHECKING:
    import ssl

    import h11

    from berth.layout import Layout

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 1024
TLS_HANDSHAKE_TIMEOUT = 10.0


def common_headers() -> list[tuple[str, str]]:
    """What dockerd puts on every answer; clients read the API version from any of them."""
    return [
        ("Api-Version", versions.text(versions.CURRENT)),
        ("Docker-Experimental", "false"),
        ("Ostype", "linux"),
        ("Server", f"berth/{__version__} (linux)"),
    ]


class Server:
    def __init__(
        self,
        layout: Layout,
        listeners: list[socket.socket],
        tls: ssl.SSLContext | None = None,
        router: Router | None = None,
        grace: float = 15.0,
    ) -> None:
        self.layout = layout
        self.listeners = listeners
        self.tls = tls
        self.router = router or Router.default()
        self.grace = grace
        self.shared = Shared()
        self.engines = EnginePool(layout)
        self.stopping = self.shared.stopping
        self._headers = common_headers()
        self._lock = threading.Lock()
        self._connections: dict[HttpConnection, bool] = {}  # -> busy with a request
        self._threads: set[threading.Thread] = set()
        self._acceptors: list[threading.Thread] = []

    def start(self) -> None:
        for listener in self.listeners:
            listener.settimeout(0.5)  # to notice `stop`; accepted sockets block
            thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
            thread.start()
            self._acceptors.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._acceptors:
            thread.join()
        for listener in self.listeners:
            listener.close()
        with self._lock:
            idle = [c for c, busy in self._connections.items() if not busy]
        for connection in idle:
            _shutdown(connection.sock)
        deadline = time.monotonic() + self.grace
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = list(self._connections)
        for connection in left:  # past the grace: cut
            _shutdown(connection.sock)
        self.engines.close()

    # -- connections -------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self.stopping.is_set():
                    return
                time.sleep(0.1)  # out of descriptors, say: try again shortly
                continue
            with self._lock:
                crowded = len(self._threads) >= MAX_CONNECTIONS
            if crowded:
                sock.close()
                continue
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            with self._lock:
                self._threads.add(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        connection: HttpConnection | None = None
        session = Session(self.engines, self.shared)
        clean = False  # the connection ended between requests, its engine as good as new
        try:
            if self.tls is not None and sock.family != socket.AF_UNIX:  # TLS is for TCP
                sock.settimeout(TLS_HANDSHAKE_TIMEOUT)
                sock = self.tls.wrap_socket(sock, server_side=True)
                sock.settimeout(None)
            connection = HttpConnection(sock, self._headers)
            with self._lock:
                self._connections[connection] = False
            while not self.stopping.is_set():
                head = connection.next_request()
                if head is None:
                    clean = True
                    break
                with self._lock:
                    self._connections[connection] = True
                hijacked = self._answer(head, connection, session)
                if hijacked:
                    break
                if self.stopping.is_set() or not connection.reusable():
                    clean = True
                    break
                with self._lock:
                    self._connections[connection] = False
        except (ClientGone, OSError) as error:
            log.debug("connection ended: %s", error)
        finally:
            session.close(reusable=clean)
            with self._lock:
                if connection is not None:
                    self._connections.pop(connection, None)
                self._threads.discard(threading.current_thread())
            if connection is not None:
                connection.close()
            else:
                sock.close()

    def _answer(self, head: h11.Request, connection: HttpConnection, session: Session) -> bool:
        """Answer one request; True when the route took the connection over."""
        method = head.method.decode("ascii", "replace")
        target = head.target.decode("ascii", "replace")
        path, _, query = target.partition("?")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers}
        try:
            version, path = versions.split(unquote(path))
            request = Request(method, path, query, headers, version, connection, session)
            answer = self.router.dispatch(request)
        except BerthError as error:
            answer = error_reply(error)
        except ClientGone:
            raise
        except Exception as error:  # the top of a connection: a 500, never a dropped socket
            log.exception("%s %s failed", method, target)
            answer = json_reply(
                {"message": f"internal error: {type(error).__name__}: {error}"}, 500
            )
        if isinstance(answer, Hijacked):
            log.debug("%s %s: hijacked", method, target)
            return True
        if isinstance(answer, Stream):
            log.debug("%s %s: %d, streaming", method, target, answer.status)
            try:
                connection.stream(
                    answer.status,
                    [("Content-Type", answer.content_type), *answer.headers],
                    answer.chunks,
                )
            except ClientGone:
                raise
            except BerthError as error:  # a failure the stream's source reported: cut short
                log.warning("%s %s: the stream failed: %s", method, target, error.message)
                return True
            except Exception:  # a stream that fails half-way can only be cut short
                log.exception("%s %s: the stream failed", method, target)
                return True
            return False
        assert isinstance(answer, Reply)
        log.debug("%s %s: %d", method, target, answer.status)
        if connection.responded:
            return False  # the route failed after answering: nothing more can be said
        connection.respond(answer.status, answer.headers, answer.body)
        return False


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
