"""Leaving a berth process without the interpreter's teardown.

A normal exit frees every module and object one by one (~5-10 ms for the CLI or a monitor),
work the kernel does at once when the process ends; on `run --rm` both the monitor's and the
CLI's exits are on the path the user waits for. What a normal exit does that matters is done
here: the standard streams and logging are flushed. With other threads still running the
normal exit is kept, since it waits for them.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing and contextlib cost the quick `ps` (berth.cli.commands.ps) ~4 ms
if TYPE_CHECKING:
    from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    threading = sys.modules.get("threading")  # never imported: no other threads
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            continue  # a closed pipe: nothing more to say
    os._exit(code)
