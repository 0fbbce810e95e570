"""A pull running in a worker thread, its events handed to the response through a bounded queue.

The worker opens an engine of its own: the pull's lifetime is not the connection's session's
(which closes its store when the connection ends). Byte counters are dropped while the queue
is full (the next one says more); every other event waits for room, so a slow reader slows
the pull rather than growing memory.

Cancelling (the client went away, the server stops) is noticed at the pull's next progress
report, which raises: the pull then fails as on any error, so what it committed stays and
what it had half-written is discarded, and the thread ends. Its owner joins it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from typing import TYPE_CHECKING, NamedTuple

from berth.errors import BerthError, SystemFailure, from_os_error
from berth.image.progress import PROGRESS_STATUSES, ProgressEvent

if TYPE_CHECKING:
    from berth.engine import Engine
    from berth.layout import Layout
    from berth.oci import Platform
    from berth.reference import Reference
    from berth.registry import CredentialSource

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
_PUT_WAIT = 0.5


class Pulled(NamedTuple):
    """One reference is in the store: the digest it resolved to, and whether it already was."""

    reference: Reference
    digest: str
    up_to_date: bool


class Failed(NamedTuple):
    """The pull failed; nothing follows."""

    error: BerthError


class Finished(NamedTuple):
    """Every reference was pulled; nothing follows."""


Item = ProgressEvent | Pulled | Failed | Finished


class _Cancelled(Exception):
    """Raised inside the pull by its progress report once the job is cancelled."""


class PullJob:
    def __init__(
        self,
        layout: Layout,
        reference: Reference,
        *,
        all_tags: bool,
        platform: Platform | None,
        credentials: CredentialSource,
    ) -> None:
        """`all_tags`: pull every tag of the reference's repository (`docker pull -a`)."""
        self.layout = layout
        self.reference = reference
        self.all_tags = all_tags
        self.platform = platform
        self.credentials = credentials
        self._queue: queue.Queue[Item] = queue.Queue(QUEUE_SIZE)
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pull", daemon=True)

    # -- the owner's side ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def next(self, timeout: float) -> Item | None:
        """The next item, or None when nothing came within `timeout` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            if self._thread.is_alive() or not self._queue.empty():
                return None
        # Only a cancelled worker ends without a last item; never wait on a dead one.
        return Failed(SystemFailure("the pull ended without saying how"))

    def cancel(self) -> None:
        self._cancelled.set()

    def join(self) -> None:
        self._thread.join()

    # -- the worker ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._pull()
        except _Cancelled:
            return  # nobody is listening any more
        except BerthError as error:
            self._finish(Failed(error))
        except OSError as error:
            self._finish(Failed(from_os_error(error)))
        except Exception as error:  # the top of a thread: the client hears of it
            log.exception("pull of %s failed", self.reference)
            self._finish(Failed(SystemFailure(f"internal error: {type(error).__name__}: {error}")))
        else:
            self._finish(Finished())

    def _pull(self) -> None:
        from berth.engine import Engine

        engine = Engine.open(self.layout)
        try:
            with engine.images.registry(self.credentials) as registry:
                references = [self.reference]
                if self.all_tags:
                    tags = registry.list_tags(self.reference)
                    references = [self.reference.with_tag(tag) for tag in tags]
                for reference in references:
                    here = reference.digest is not None and _stored(engine, reference)
                    result = engine.images.pull(
                        reference, platform=self.platform, report=self._report, registry=registry
                    )
                    self._put(Pulled(reference, result.digest, result.up_to_date or here))
        finally:
            engine.close()

    def _report(self, event: ProgressEvent) -> None:
        """The pull's reporter, called from its download threads."""
        if self._cancelled.is_set():
            raise _Cancelled
        if event.status in PROGRESS_STATUSES:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(event)
            return
        self._put(event)

    def _put(self, item: Item) -> None:
        while True:
            if self._cancelled.is_set():
                raise _Cancelled
            try:
                self._queue.put(item, timeout=_PUT_WAIT)
                return
            except queue.Full:
                continue

    def _finish(self, item: Item) -> None:
        with contextlib.suppress(_Cancelled):
            self._put(item)


def _stored(engine: Engine, reference: Reference) -> bool:
    """Whether a digest reference names an image the store holds (Docker then says the pull
    is up to date; a tag's pull knows it from the tag it moves)."""
    try:
        engine.images.lookup(str(reference))
    except BerthError:
        return False
    return True
