"""Which monitor holds a started container, and waiting for one to be gone.

berth's own monitor by default (forked by the store's zygote: `berth.monitor.launch`); conmon
for the containers it can hold when `BERTH_MONITOR=conmon` asks for it (`berth.monitor.conmon`).
Either way the start gets the monitor's report: {"pid": …} or {"error": …, "exit_code": …}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.container.view import monitor_alive
from berth.monitor import conmon

if TYPE_CHECKING:
    from berth.monitor.config import MonitorConfig
    from berth.monitor.launch import MonitorLauncher

MONITOR_EXIT_SECONDS = 10


def hand_over(
    config: MonitorConfig,
    name: str,
    spec: dict[str, Any],
    held: Sequence[int],
    launcher: Callable[[], MonitorLauncher],
    meanwhile: Callable[[], object] | None,
) -> dict[str, Any]:
    """Start the container of `config` (its spec written already, its monitor.json too)
    under its monitor, which takes the `held` fds (published ports) over."""
    if conmon.wanted() and conmon.eligible(config):
        # conmon's runtime places the container in its cgroup (berth's monitor is told it)
        spec["linux"]["cgroupsPath"] = f"/{config.cgroup_parent}/{config.cgroup_name}"
        from berth.cgroups import warmth

        warmth.hold()  # until berth-runtime has placed the init (berth.cgroups.warmth)
        try:
            report = conmon.start(config, name, json.dumps(spec), held)
        finally:
            warmth.release()
        if meanwhile is not None:
            meanwhile()
        return report
    return launcher().hand_over(Path(config.run_dir), held, meanwhile)


def wait_gone(status: dict[str, Any]) -> None:
    """Until the monitor that wrote `status` has exited (a pidfd turns readable the moment
    it does: no polling); one stuck past `MONITOR_EXIT_SECONDS` is killed."""
    import select
    import signal

    pid = int(status.get("MonitorPid") or 0)
    if pid in (os.getpid(), os.getppid()) or not monitor_alive(status):
        return  # (the monitor execs its own rm or clean-up: this may be it)
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([pidfd], [], [], MONITOR_EXIT_SECONDS)
        if not ready and monitor_alive(status):
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(pidfd)
