"""Open engines kept between connections.

Opening the store costs a connection's first request ~0.4 ms (the database, its pragmas, the
store's directories), and the facades built on first use a little more: the docker CLI opens
a connection per command, so `docker ps` paid it every time. A connection whose session
ended cleanly gives its engine back; the next one takes it. An engine is used by one
connection at a time, as before. Not kept: an engine opened read-only (a full disk: the next
connection tries to open it for writing), and one whose connection ended in an error or was
taken over (a stream cut short may still hold its state, a hijacked route's threads may still
use it).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from berth.engine import Engine
    from berth.layout import Layout

MAX_IDLE = 4  # engines kept for the next connections; more at once are opened and closed


class EnginePool:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._lock = threading.Lock()
        self._idle: list[Engine] = []
        self._closed = False

    def take(self) -> Engine:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        from berth.engine import Engine

        return Engine.open(self.layout)

    def give(self, engine: Engine, *, reusable: bool) -> None:
        """Keep the engine for another connection, or close it."""
        with self._lock:
            keep = reusable and not self._closed and len(self._idle) < MAX_IDLE
            if keep and not engine.database.degraded:
                self._idle.append(engine)
                return
        engine.close()

    def close(self) -> None:
        """Close the idle engines; those given back later are closed too."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for engine in idle:
            engine.close()
