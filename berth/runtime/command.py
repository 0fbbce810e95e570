"""Resolve the container's command the way Docker reports it: through PATH from the
process's env inside the container's root, with Docker's wording and exit statuses
(127 not found, 126 found but not executable). Runs after pivot_root; os only.
"""

from __future__ import annotations

import os

from berth.runtime.sync import InitError


def find_command(args: list[str], env: list[str]) -> str:
    """The path to execve for `args[0]`, or InitError with status 126/127."""
    command = args[0]
    if "/" in command:
        candidates = [command]
    else:
        path = next((e[5:] for e in env if e.startswith("PATH=")), "")
        candidates = [os.path.join(d or ".", command) for d in path.split(":")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            if not os.access(candidate, os.X_OK):
                raise InitError(f'exec: "{command}": permission denied', 126)
            return candidate
        if "/" in command and os.path.isdir(candidate):
            raise InitError(f'exec: "{command}": is a directory', 126)
    if "/" in command:
        raise InitError(f'exec: "{command}": stat {command}: no such file or directory', 127)
    raise InitError(f'exec: "{command}": executable file not found in $PATH', 127)
