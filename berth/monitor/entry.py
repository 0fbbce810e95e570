"""The monitor process's entry: receive a container from the launcher, hold it until it is
done (`Monitor`), then take the last step (remove it, or free its network).

Never raises: a monitor has no one to raise to; what went wrong goes to the container's
status file, where `ps` and `inspect` read it.
"""

from __future__ import annotations

import ctypes
import importlib
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from berth.monitor import cleanup, launch
from berth.monitor.config import CONFIG_NAME, ENGINE_FAILURE, STATUS_NAME, MonitorConfig
from berth.monitor.files import rfc3339_nano, write_json_atomically
from berth.monitor.monitor import Monitor

if TYPE_CHECKING:
    from berth.cgroups import Layout as CgroupLayout

PR_SET_CHILD_SUBREAPER = 36
# Imported while the launcher still prepares the container, not on the critical path: the
# forked init's code (seccomp, mounts), and the unmount and cgroup calls of the exit.
PRELOAD = ("berth.runtime.init", "berth.sys.mounting", "berth.sys.namespace", "berth.cgroups")


def serve(channel_fd: int, forked: Forked | None = None) -> int:
    """The monitor's entry point (after detaching): wait for a container from the launcher,
    then hold it. Never raises: it has no one to raise to. `forked`: what the zygote that
    forked this monitor found once for all of them (`berth.monitor.zygote`)."""
    from berth.sys.process import set_name

    set_name(b"berth-monitor")  # not "python3": what `ps` and `top` show of it
    channel = socket.socket(fileno=channel_fd)
    if forked is None:
        for module in PRELOAD:
            importlib.import_module(module)
        # as the imports: not on the container's start path
        forked = Forked(cleanup.cgroup_layout(), None)
    try:
        received = launch.receive(channel)
    except (OSError, ValueError, KeyError):
        return 1
    if received is None:
        return 0  # the launcher was closed unused
    run_dir, moved = received
    try:
        launch.log_to(run_dir)
        config = MonitorConfig.read(run_dir)
        config = config._replace(
            dns_fds=[moved[fd] for fd in config.dns_fds],
            held_fds=[moved[fd] for fd in config.held_fds],
        )
    except (OSError, ValueError, TypeError, KeyError) as error:
        failure = f"monitor failed: cannot read {run_dir / CONFIG_NAME}: {error!r}"
        launch.report(channel.detach(), {"error": failure, "exit_code": ENGINE_FAILURE})
        return 1
    return run(config, channel.detach(), forked.cgroup_layout, forked.environment)


class Forked:
    """A zygote's gift to the monitors it forks: the host's cgroup layout, and the launcher's
    environment (`launch.encode_environment`'s bytes), for the clean-up command the monitor
    execs at the end. Kept as it came, the environment costs the monitor no memory of its
    own until then (its pages stay shared with the zygote's)."""

    __slots__ = ("cgroup_layout", "environment")

    def __init__(self, cgroup_layout: CgroupLayout | None, environment: bytes | None) -> None:
        self.cgroup_layout = cgroup_layout
        self.environment = environment


def run(
    config: MonitorConfig,
    ready_fd: int,
    cgroup_layout: CgroupLayout | None = None,
    environment: bytes | None = None,
) -> int:
    """Hold one container; `ready_fd` hears how its start went; `environment`: the clean-up
    command's (None: this process's)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    run_dir = Path(config.run_dir)
    monitor: Monitor | None = None
    try:
        monitor = Monitor(config, cgroup_layout)
        monitor.run(ready_fd)
    except Exception as error:  # the top of the monitor: record why, for ps and inspect
        write_json_atomically(
            run_dir / STATUS_NAME,
            {
                "Status": "exited",
                "Running": False,
                "Pid": 0,
                "ExitCode": ENGINE_FAILURE,
                "Error": f"monitor failed: {error}",
                "FinishedAt": rfc3339_nano(),
            },
        )
        failure = {"error": f"monitor failed: {error}", "exit_code": ENGINE_FAILURE}
        if monitor is not None:
            monitor._report(failure)
        else:
            launch.report(ready_fd, failure)
        return 1
    heard = config.wait_for_attach and monitor is not None and monitor.exit_delivered
    cleanup.exec_last_step(config, heard, environment)
    return 0
