"""Which monitor holds a started container, and waiting for one to be gone.

conmon for the containers it can hold, when it is installed (`berth.monitor.choice`,
`berth.monitor.conmon`); berth's own monitor otherwise (forked by the store's zygote:
`berth.monitor.launch`).
Either way the start gets the monitor's report: {"pid": …} or {"error": …, "exit_code": …}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.container.view import monitor_alive
from berth.errors import BerthError
from berth.monitor import choice, conmon

if TYPE_CHECKING:
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord
    from berth.monitor.config import MonitorConfig
    from berth.monitor.launch import MonitorLauncher

MONITOR_EXIT_SECONDS = 10


def ahead(config: MonitorConfig, host_config: dict[str, Any], name: str) -> Ahead | None:
    """conmon spawned now for a container it will hold (`config`: `starting.monitor_basics`),
    its runtime's create waiting for the bundle: its start overlaps the engine's preparations
    (`conmon.Spawned`). None when the container is berth's monitor's, or publishes ports
    (their reservations are given to conmon as it is spawned), or conmon can't be spawned."""
    if not (choice.conmon_wanted() and conmon.eligible(config)):
        return None
    if host_config.get("PortBindings") or host_config.get("PublishAllPorts"):
        return None
    from berth.cgroups import warmth

    try:
        spawned = conmon.Spawned(config, name, (), spec_text=None)
    except (BerthError, OSError):
        return None  # started the usual way, which says why it can't
    warmth.hold()  # until berth-runtime has placed the init (berth.cgroups.warmth)
    return Ahead(spawned)


# conmons spawned by this process's `run -d` for the start that follows its create, by id
_SPAWNED: dict[str, Ahead] = {}


def spawn_ahead(record: ContainerRecord, paths: ContainerPaths) -> None:
    """For `run -d`, before the engine loads: conmon spawned for the container about to be
    created, for its start to take (`take_ahead`), when it is conmon's to hold: its
    runtime's start overlaps the engine's loading, the create and the start's preparations.
    A process that never starts it (an error between) leaves it canceled by the gate's end
    of file, as it exits."""
    from berth.container.starting import monitor_basics

    if not choice.conmon_wanted() or record.id in _SPAWNED:
        return
    basics = monitor_basics(record, paths, wait_for_attach=False)
    made = [Path(basics.run_dir)]
    if basics.log_path:  # conmon opens it as it starts, in a directory the create makes next
        made.append(Path(basics.log_path).parent)
    try:
        for directory in made:
            directory.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only or full store: the create says what is wrong with it
        _remove(made)
        return
    spawned = ahead(basics, record.host_config, record.name)
    if spawned is not None:
        spawned.made = tuple(made)
        _SPAWNED[record.id] = spawned


def take_ahead(container_id: str) -> Ahead | None:
    return _SPAWNED.pop(container_id, None)


def cancel_ahead(container_id: str) -> None:
    """The container was not created (or its image had to be pulled first): its conmon
    canceled, the directories made for it gone."""
    if (spawned := _SPAWNED.pop(container_id, None)) is not None:
        spawned.abort()
        _remove(spawned.made)


def _remove(directories: Sequence[Path]) -> None:
    import shutil

    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


class Ahead:
    """A conmon spawned ahead (`ahead`), until `hand_over` finishes it or the start fails."""

    __slots__ = ("made", "spawned")

    def __init__(self, spawned: conmon.Spawned) -> None:
        self.spawned: conmon.Spawned | None = spawned
        self.made: tuple[Path, ...] = ()  # directories `spawn_ahead` made for it

    def take(self) -> conmon.Spawned | None:
        spawned, self.spawned = self.spawned, None
        return spawned

    def abort(self) -> None:
        """The start failed before the hand-over: the create canceled."""
        if (spawned := self.take()) is not None:
            from berth.cgroups import warmth

            spawned.abort()
            warmth.release()


def hand_over(
    config: MonitorConfig,
    name: str,
    spec: dict[str, Any],
    held: Sequence[int],
    launcher: Callable[[], MonitorLauncher],
    meanwhile: Callable[[], object] | None,
    ahead: Ahead | None = None,
    own_monitor: bool = False,
) -> dict[str, Any]:
    """Start the container of `config` (its spec written already, its monitor.json too)
    under its monitor, which takes the `held` fds (published ports, the DNS sockets) over:
    conmon (with the DNS sockets given to the store's supervisor; spawned `ahead`, or now),
    or berth's monitor: always with `own_monitor` (a build's RUN, whose
    start and end are on the build's path: conmon's runtime and exit command are two
    interpreters more per step, a forked monitor none; a cold build took 1.22x BuildKit's
    under conmon, 1.04x under berth's monitor)."""
    spawned = None
    if ahead is not None and _resolved(config):
        spawned = ahead.take()
    elif ahead is not None:
        ahead.abort()  # no DNS for it: berth's monitor, which has a resolver, holds it
    if spawned is not None or (
        ahead is None
        and not own_monitor
        and choice.conmon_wanted()
        and conmon.eligible(config)
        and _resolved(config)
    ):
        # conmon's runtime places the container in its cgroup (berth's monitor is told it)
        spec["linux"]["cgroupsPath"] = f"/{config.cgroup_parent}/{config.cgroup_name}"
        from berth.cgroups import warmth

        if spawned is None:
            warmth.hold()  # until berth-runtime has placed the init (berth.cgroups.warmth)
        try:
            text = json.dumps(spec)
            if spawned is None:
                spawned = conmon.Spawned(config, name, config.held_fds, spec_text=text)
            report = spawned.finish(text)
        finally:
            warmth.release()
        if "pid" in report and config.healthcheck:
            from berth.monitor.supervisor import probe_health

            probe_health(config, int(report["pid"]))
        if "error" in report and config.dns_fds:
            release(config.runroot, config.id)
        if meanwhile is not None:
            meanwhile()
        return report
    return launcher().hand_over(Path(config.run_dir), held, meanwhile)


def _resolved(config: MonitorConfig) -> bool:
    """Whether the container's names are served (by the store's DNS supervisor: conmon has
    no resolver) or need not be; else berth's monitor, which has one, holds it."""
    if not config.dns_fds:
        return True
    from berth.monitor import supervisor  # its socket imports: only where it is needed

    try:
        supervisor.register(
            config.runroot,
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


def say_end(run_dir: Path, announce: Callable[..., None], record: ContainerRecord) -> None:
    """The oom and die events of a run conmon held, said by the engine when it is the first
    to record the end (`conmon.claim_exit`): its exit command may not have said them yet
    (a `wait` returns once conmon's exit file is there), or never will (it leaves a container
    being removed to its remover at once, or was killed). `announce`: `Lifecycle.announce`."""
    if not conmon.claim_exit(run_dir) or (code := conmon.exit_code(run_dir)) is None:
        return
    if (run_dir / conmon.OOM_FILE).exists():
        announce("oom", record)
    announce("die", record, exitCode=str(code))


def wait_gone(status: dict[str, Any]) -> None:
    """Until the monitor that wrote `status` has exited (a pidfd turns readable the moment
    it does: no polling); one stuck past `MONITOR_EXIT_SECONDS` is killed."""
    from berth.runtime.processes import wait_or_kill

    pid = int(status.get("MonitorPid") or 0)
    if pid in (os.getpid(), os.getppid()) or not monitor_alive(status):
        return  # (the monitor execs its own rm or clean-up: this may be it)
    wait_or_kill(pid, MONITOR_EXIT_SECONDS, lambda: monitor_alive(status))
