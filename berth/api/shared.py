"""What every connection of one server shares: the stopping flag, and state that lives as
long as the server (exec instances, as dockerd keeps them in memory; the attach requests
waiting for their containers to start)."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from berth.api.routes.exec_process import ExecInstance


class Shared:
    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.execs: dict[str, ExecInstance] = {}  # exec id -> instance (berth.api.routes.exec)
        self._attaching: Counter[str] = Counter()  # container id -> attaches waiting for it

    @contextlib.contextmanager
    def attaching(self, container_id: str) -> Iterator[None]:
        """An attach request waits for the container's start (the docker CLI's `run`
        attaches before it starts) while in this block."""
        with self.lock:
            self._attaching[container_id] += 1
        try:
            yield
        finally:
            with self.lock:
                self._attaching[container_id] -= 1
                if self._attaching[container_id] <= 0:
                    del self._attaching[container_id]

    def attach_pending(self, container_id: str) -> bool:
        """Whether an attach waits for this container: the start route then starts it with
        `wait_for_attach`, so the monitor holds the container's process until that client is
        connected and none of its output is missed (dockerd's attach before start misses
        none either)."""
        with self.lock:
            return self._attaching[container_id] > 0
