"""The init's side of the sync pipe: JSON lines to the runtime, and the failure that carries
the exit status Docker reports (125 set-up, 126 not executable, 127 not found).
Runs in the init and the exec helper: json and os only.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class InitError(Exception):
    """A set-up or exec failure of the init, with the exit status the caller reports."""

    def __init__(self, message: str, exit_status: int = 125) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def send(fd: int, message: dict[str, Any]) -> None:
    """Write one message; a message is one line, so the reader can split them."""
    os.write(fd, (json.dumps(message) + "\n").encode())
