"""Which monitor holds a container that conmon can hold (`berth.monitor.conmon.eligible`):
conmon (podman's monitor, in C, ~0.4 MiB per container) when it and berth-runtime are
installed, berth's own (a forked Python, ~2.7 MiB) otherwise. `BERTH_MONITOR=conmon` insists
on conmon (a start fails without it), `BERTH_MONITOR=berth` keeps every container on berth's
own. Light: the CLI asks before it loads anything else (no shutil: ~6 ms to import)."""

from __future__ import annotations

import os
import sys

ASKED = "BERTH_MONITOR"


def conmon_wanted() -> bool:
    asked = os.environ.get(ASKED, "")
    if asked in ("conmon", "berth"):
        return asked == "conmon"
    return conmon_path() is not None and runtime_path() is not None


def conmon_path() -> str | None:
    return _on_path("conmon")


def runtime_path() -> str | None:
    """berth-runtime of this installation: beside the interpreter (a venv's bin), else on
    PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "berth-runtime")
    return beside if os.access(beside, os.X_OK) else _on_path("berth-runtime")


def _on_path(name: str) -> str | None:
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None
