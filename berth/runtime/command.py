"""Resolve the container's command the way Docker reports it: through PATH from the
process's env inside the container's root, with Docker's wording and exit statuses
(127 not found, 126 found but not executable). Runs after pivot_root; os only.
"""

from __future__ import annotations

import os
import signal

from berth.runtime.sync import InitError


def find_command(args: list[str], env: list[str]) -> str:
    """The path to execve for `args[0]`, or InitError with status 126/127.

    As Go's exec.LookPath (which Docker's messages come from): a PATH entry that is not an
    executable file is skipped, so a non-executable match is "not found" (127); a command
    with a slash is taken as is, and not being executable is "permission denied" (126).
    """
    command = args[0]
    if not command:
        raise InitError('exec: "": executable file not found in $PATH', 127)
    if "/" in command:
        if os.path.isdir(command):
            raise InitError(f'exec: "{command}": is a directory', 126)
        if not os.path.lexists(command):
            raise InitError(f'exec: "{command}": stat {command}: no such file or directory', 127)
        if not os.access(command, os.X_OK):
            raise InitError(f'exec: "{command}": permission denied', 126)
        return command
    path = next((e[5:] for e in reversed(env) if e.startswith("PATH=")), "")
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", command)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise InitError(f'exec: "{command}": executable file not found in $PATH', 127)


def exec_command(executable: str, args: list[str], env: list[str]) -> None:
    """Become the container's process: Python's signal dispositions undone, then execve;
    a failure is Docker's 127 (not found) or 126."""
    for number in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        os.execve(executable, args, dict(e.split("=", 1) for e in env if "=" in e))
    except OSError as error:
        code = 127 if error.errno == 2 else 126
        reason = (error.strerror or "exec failed").lower()
        raise InitError(f'exec: "{args[0]}": {reason}', code) from None
