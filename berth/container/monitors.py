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
    runroot: str,
    config: MonitorConfig,
    name: str,
    spec: dict[str, Any],
    held: Sequence[int],
    launcher: Callable[[], MonitorLauncher],
    meanwhile: Callable[[], object] | None,
) -> dict[str, Any]:
    """Start the container of `config` (its spec written already, its monitor.json too)
    under its monitor, which takes the `held` fds (published ports, the DNS sockets) over:
    conmon (with the DNS sockets given to the store's supervisor), or berth's monitor."""
    if conmon.wanted() and conmon.eligible(config) and _resolved(runroot, config):
        # conmon's runtime places the container in its cgroup (berth's monitor is told it)
        spec["linux"]["cgroupsPath"] = f"/{config.cgroup_parent}/{config.cgroup_name}"
        from berth.cgroups import warmth

        warmth.hold()  # until berth-runtime has placed the init (berth.cgroups.warmth)
        try:
            report = conmon.start(config, name, json.dumps(spec), config.held_fds)
        finally:
            warmth.release()
        if "error" in report and config.dns_fds:
            release(runroot, config.id)
        if meanwhile is not None:
            meanwhile()
        return report
    return launcher().hand_over(Path(config.run_dir), held, meanwhile)


def _resolved(runroot: str, config: MonitorConfig) -> bool:
    """Whether the container's names are served (by the store's DNS supervisor: conmon has
    no resolver) or need not be; else berth's monitor, which has one, holds it."""
    if not config.dns_fds:
        return True
    from berth.monitor import supervisor  # its socket imports: only where it is needed

    try:
        supervisor.register(
            runroot,
            config.id,
            config.run_dir,
            config.dns_fds,
            config.dns_names,
            config.dns_servers,
            config.dns_aliases or {},
        )
    except OSError:
        return False
    return True


def release(runroot: str, container_id: str) -> None:
    """What the store's supervisor serves for the container, let go (its DNS sockets)."""
    from berth.monitor import supervisor

    supervisor.release(runroot, container_id)


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
