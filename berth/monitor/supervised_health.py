"""The healthchecks of the containers conmon holds, run by the store's supervisor
(`berth.monitor.supervisor`): conmon runs no probes, and a process of berth's for each such
container would cost what conmon saves (~2.7 MiB each); the supervisor is one per store, and
only runs while a container needs it.

Each container gets the `HealthChecker` berth's own monitor runs (`berth.monitor.probes`:
Docker's rules, probes through the runtime's exec), all on the supervisor's selector. A
container is watched from its start (`watch`: the engine's, or the exit command's restart by
policy) until its pid 1 ends (a pidfd turns readable) or it is started again. Each change of
its health goes to its status.json, read, changed and written under the run directory's
status lock (`berth.monitor.files.status_lock`: the start and the exit command write it too),
and a change of its status to the store's journal (`health_status: …`), as berth's monitor
says them.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
from pathlib import Path

from berth.monitor.config import STATUS_NAME, MonitorConfig
from berth.monitor.files import announce, read_json, status_lock, write_status
from berth.monitor.health import HealthConfig
from berth.monitor.probes import HealthChecker, exec_spawner, frozen

WAKE = "health-wake"  # the selector's data: a probe's spawning thread, or a SIGCHLD
PROBE_OUTPUT = "health"  # as HealthChecker registers its probe's pipe
ENDED = "health-ended"  # with the container's id: its pid 1's pidfd


class _Watched:
    __slots__ = ("checker", "config", "pidfd")

    def __init__(self, checker: HealthChecker, config: MonitorConfig, pidfd: int) -> None:
        self.checker = checker
        self.config = config
        self.pidfd = pidfd


class HealthWatch:
    """The probes of every watched container, on `selector`, from the supervisor's loop:
    it asks `deadline()` for its timeout, hands each ready key's data to `ready` and calls
    `tick()` after every wake-up. Takes over SIGCHLD (the probes' helpers are its children)."""

    def __init__(self, selector: selectors.BaseSelector) -> None:
        self._selector = selector
        self._watched: dict[str, _Watched] = {}
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        selector.register(self._wake_r, selectors.EVENT_READ, WAKE)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def watching(self) -> bool:
        return bool(self._watched)

    def watch(self, run_dir: str, pid: int) -> None:
        """Probe the container of `run_dir`, started with pid 1 `pid`, from now (its health
        starting over, as Docker's at every start)."""
        config = MonitorConfig.read(Path(run_dir))
        self.forget(config.id)
        health = HealthConfig.parse(config.healthcheck, config.shell)
        if health is None:
            return
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return  # ended already: nothing to probe
        from berth.runtime import Runtime

        procs = config.cgroup_procs
        runtime = Runtime(Path(config.runtime_root))
        checker = HealthChecker(
            health,
            exec_spawner(runtime, config.id, Path(config.bundle), procs),
            selector=self._selector,
            wake=self._poke,
            on_change=lambda: self._publish(config.id),
            paused=lambda: frozen(procs),
        )
        self._watched[config.id] = _Watched(checker, config, pidfd)
        self._selector.register(pidfd, selectors.EVENT_READ, (ENDED, config.id))
        checker.begin()
        self._publish(config.id)

    def forget(self, container_id: str) -> None:
        """No more probes of the container: one running is killed."""
        watched = self._watched.pop(container_id, None)
        if watched is None:
            return
        watched.checker.stop()
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(watched.pidfd)
        os.close(watched.pidfd)

    def ready(self, data: object) -> bool:
        """Handle a ready key's data; False when it is not the health checks'."""
        if data == WAKE:
            with contextlib.suppress(OSError):
                while os.read(self._wake_r, 4096):
                    pass
            self._reap()
        elif data == PROBE_OUTPUT:
            for watched in list(self._watched.values()):
                watched.checker.readable()
        elif isinstance(data, tuple) and data[0] == ENDED:
            self.forget(str(data[1]))
        else:
            return False
        return True

    def deadline(self) -> float | None:
        """The soonest moment a probe is due or times out (monotonic), if any."""
        due = [w.checker.deadline() for w in self._watched.values()]
        return min((d for d in due if d is not None), default=None)

    def tick(self) -> None:
        for watched in list(self._watched.values()):
            watched.checker.tick()

    def _poke(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"\0")

    def _reap(self) -> None:
        from berth.runtime.processes import reaped

        for pid, status in reaped():
            for watched in list(self._watched.values()):
                watched.checker.reaped(pid, status)

    def _publish(self, container_id: str) -> None:
        watched = self._watched.get(container_id)
        if watched is None:
            return
        config, document = watched.config, watched.checker.document()
        run_dir = Path(config.run_dir)
        with status_lock(run_dir) as held:
            status = read_json(run_dir / STATUS_NAME) if held else None
            if status is None:
                return  # removed meanwhile
            previous = (status.get("Health") or {}).get("Status")
            status["Health"] = document
            write_status(run_dir / STATUS_NAME, status, config.reserve)
        if document.get("Status") != previous:
            announce(config, f"health_status: {document.get('Status')}")
