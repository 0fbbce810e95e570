"""Signals by Docker's names: `SIGTERM`, `TERM`, `term` or a number, checked against what
the kernel has (1 to SIGRTMAX), at create for a stop signal and before any kill."""

from __future__ import annotations

import signal

from berth.errors import InvalidArgument


def signal_number(name: str) -> int:
    text = name.strip().upper()
    if text.isdigit():
        number = int(text)
        if not 0 < number <= signal.SIGRTMAX:
            raise InvalidArgument(f"Invalid signal: {name}")
        return number
    try:
        return int(signal.Signals[text if text.startswith("SIG") else f"SIG{text}"])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {name}") from None
