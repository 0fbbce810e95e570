"""A pull or a push running in a worker thread, answered as Docker's JSON progress stream.

The worker opens an engine of its own: the job's lifetime is not the connection's session's
(which closes its store when the connection ends). Its events reach the response through a
bounded queue: byte counters are dropped while the queue is full (the next one says more);
every other item waits for room, so a slow reader slows the job rather than growing memory.

The answer's status is chosen once there is something to show: a job that fails before its
`Lines` let anything out is a plain JSON error with Docker's status, as dockerd answers before
its first write; one that fails later ends the stream with an error line
(`{"errorDetail": ..., "error": ...}`, which the docker CLI prints). The response waits for
the worker in one-second steps, each a chance to notice a client that went away or a server
that stops: the job is then cancelled, noticed at its next progress report, which raises, so
it fails as on any error (what it committed stays, what it half-wrote is discarded).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from berth.api.request import Answer, Request, Stream
from berth.api.wire import ClientGone
from berth.errors import BerthError, SystemFailure, Unavailable, from_os_error
from berth.image.progress import PROGRESS_STATUSES, ProgressEvent

if TYPE_CHECKING:
    from berth.engine import Engine
    from berth.layout import Layout

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
WAIT_STEP = 1.0
_PUT_WAIT = 0.5

Document = dict[str, Any]


class Failed(NamedTuple):
    """The job failed; nothing follows."""

    error: BerthError


class Finished(NamedTuple):
    """The job is done; nothing follows."""


class _Cancelled(Exception):
    """Raised inside the job by its progress report once the job is cancelled."""


class Lines(Protocol):
    """Docker's documents for a job's items."""

    shown: bool  # something went out: the answer's status is given
    done: bool

    def feed(self, item: object) -> list[Document]: ...


class Job:
    """The worker's side; subclasses say what it does in `work`."""

    what = "job"

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._queue: queue.Queue[object] = queue.Queue(QUEUE_SIZE)
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.what, daemon=True)

    def work(self, engine: Engine) -> None:
        raise NotImplementedError

    # -- the owner's side ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def next(self, timeout: float) -> object | None:
        """The next item, or None when nothing came within `timeout` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            if self._thread.is_alive() or not self._queue.empty():
                return None
        # Only a cancelled worker ends without a last item; never wait on a dead one.
        return Failed(SystemFailure(f"the {self.what} ended without saying how"))

    def cancel(self) -> None:
        self._cancelled.set()

    def join(self) -> None:
        self._thread.join()

    # -- the worker ---------------------------------------------------------------------------

    def _run(self) -> None:
        from berth.engine import Engine

        try:
            engine = Engine.open(self.layout)
            try:
                self.work(engine)
            finally:
                engine.close()
        except _Cancelled:
            return  # nobody is listening any more
        except BerthError as error:
            self._finish(Failed(error))
        except OSError as error:
            self._finish(Failed(from_os_error(error)))
        except Exception as error:  # the top of a thread: the client hears of it
            log.exception("%s failed", self.what)
            self._finish(Failed(SystemFailure(f"internal error: {type(error).__name__}: {error}")))
        else:
            self._finish(Finished())

    def report(self, event: ProgressEvent) -> None:
        """The job's reporter, called from its worker threads."""
        if self._cancelled.is_set():
            raise _Cancelled
        if event.status in PROGRESS_STATUSES:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(event)
            return
        self.put(event)

    def put(self, item: object) -> None:
        while True:
            if self._cancelled.is_set():
                raise _Cancelled
            try:
                self._queue.put(item, timeout=_PUT_WAIT)
                return
            except queue.Full:
                continue

    def _finish(self, item: object) -> None:
        with contextlib.suppress(_Cancelled):
            self.put(item)


def respond(job: Job, lines: Lines, request: Request) -> Answer:
    """Start the job; answer an error if it fails before showing anything, else the stream."""
    job.start()
    try:
        first = _first_lines(job, lines, request)
    except BaseException:
        job.cancel()
        job.join()
        raise
    chunks = _stream(job, lines, first, request.stopping)
    # A stream the server never starts (its head could not be sent) cancels the job when
    # it is dropped; one it starts does so itself when it ends, however it ends.
    weakref.finalize(chunks, job.cancel)
    return Stream(chunks)


def shutting_down(what: str) -> str:
    return f"the server is shutting down: the {what} was stopped"


def _first_lines(job: Job, lines: Lines, request: Request) -> list[Document]:
    while True:
        item = job.next(WAIT_STEP)
        if item is None:
            if request.connection.client_gone():
                raise ClientGone(f"the client closed the connection during the {job.what}")
            if request.stopping.is_set():
                raise Unavailable(shutting_down(job.what))
            continue
        if isinstance(item, Failed) and not lines.shown:
            job.join()
            raise item.error
        documents = lines.feed(item)
        if documents or lines.done:
            return documents


def _stream(
    job: Job, lines: Lines, first: list[Document], stopping: threading.Event
) -> Iterator[bytes]:
    try:
        yield from map(_encode, first)
        while not lines.done:
            if stopping.is_set():
                job.cancel()
                yield _encode(error_document(shutting_down(job.what)))
                return
            item = job.next(WAIT_STEP)
            if item is None:
                yield b""  # a chance for the connection to notice a client that went away
                continue
            yield from map(_encode, lines.feed(item))
    finally:
        job.cancel()  # a no-op once the worker is done
        job.join()


def _encode(document: Document) -> bytes:
    return json.dumps(document).encode() + b"\n"


def error_document(message: str) -> Document:
    return {"errorDetail": {"message": message}, "error": message}
