"""What every connection of one server shares: the stopping flag, and state that lives as
long as the server (exec instances, as dockerd keeps them in memory)."""

from __future__ import annotations

import threading
from typing import Any


class Shared:
    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.execs: dict[str, Any] = {}  # exec id -> the exec instance (berth.api.routes.exec)
