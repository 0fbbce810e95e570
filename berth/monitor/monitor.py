"""The monitor's life: create and start the container, pump its stdio, wait, restart it as its
policy says, clean up.

One thread, one selector: the container's output pipes (or pty), the attach socket and its
clients (`relay`), and a self-pipe that turns SIGCHLD into readable input. The container's
pid 1 is the monitor's child (directly, or through PR_SET_CHILD_SUBREAPER), so waitpid gives
its exit status; every other orphan that lands here is reaped and forgotten. What is left once
the container is done is undone by `cleanup`.

Imported on every container start: plain classes, no dataclasses; health checks, the resolver
and cgroups are imported only when needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.errors import BerthError
from berth.monitor import cleanup, launch, protocol
from berth.monitor.config import (
    ATTACH_SOCKET,
    ENGINE_FAILURE,
    STATUS_NAME,
    MonitorConfig,
)
from berth.monitor.files import JsonLog, announce, ended, rfc3339_nano, running, write_status
from berth.monitor.relay import ContainerStdio, Relay, open_stdio
from berth.runtime import Runtime, processes

if TYPE_CHECKING:
    from berth.cgroups import Layout as CgroupLayout
    from berth.monitor.probes import HealthChecker

DRAIN_SECONDS = 2.0
ATTACH_WAIT_SECONDS = 30.0


def _exit_code(status: int) -> int:
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return ENGINE_FAILURE


class Monitor:
    def __init__(self, config: MonitorConfig, cgroup_layout: CgroupLayout | None = None) -> None:
        self.config = config
        self.cleanup = cleanup.Cleanup(config, cgroup_layout)
        self.run_dir = Path(config.run_dir)
        self.runtime = Runtime(Path(config.runtime_root))
        self.log = JsonLog(
            Path(config.log_path) if config.log_path else None,  # none: the `none` driver
            self._log_drops,
            config.log_max_size,
            config.log_max_files,
        )
        self.selector = selectors.DefaultSelector()
        self.restart_count = 0
        # With the pid, how readers know the monitor is still this process.
        self.started = processes.start_time(os.getpid())
        self.status: dict[str, Any] = {}
        self.pid: int | None = None
        self.exit_status: int | None = None
        self.ready_fd = -1
        # A foreground `run --rm` that heard the exit removes the container itself (its CLI
        # has the engine loaded already); only an unheard exit makes the monitor do it.
        self.exit_delivered = False
        wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wake_r = wake_r
        self.selector.register(wake_r, selectors.EVENT_READ, "wake")
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.relay = Relay(self.run_dir / ATTACH_SOCKET, self.selector, self.log, self._kill)
        self.health = self._health_checker()

    def _health_checker(self) -> HealthChecker | None:
        if not self.config.healthcheck:
            return None
        from berth.monitor.health import HealthConfig
        from berth.monitor.probes import HealthChecker, exec_spawner, frozen

        health = HealthConfig.parse(self.config.healthcheck, self.config.shell)
        if health is None:
            return None
        procs = self.config.cgroup_procs
        return HealthChecker(
            health,
            exec_spawner(self.runtime, self.config.id, Path(self.config.bundle), procs),
            selector=self.selector,
            wake=lambda: _poke(self._wake_w),
            on_change=self._publish,
            paused=lambda: frozen(procs),
        )

    # -- status -----------------------------------------------------------------------

    def _publish(self, **changes: Any) -> None:
        self.status.update(
            changes,
            RestartCount=self.restart_count,
            MonitorPid=os.getpid(),
            MonitorStart=self.started,
        )
        if self.health is not None:
            health = self.health.document()
            if health.get("Status") != (self.status.get("Health") or {}).get("Status"):
                self._announce(f"health_status: {health.get('Status')}")
            self.status["Health"] = health
        write_status(self.run_dir / STATUS_NAME, self.status, self.config.reserve)

    def _announce(self, action: str, **attributes: str) -> None:
        announce(self.config, action, **attributes)

    def _log_drops(self, total: int) -> None:
        """Log records lost to a full disk, in the container's State (inspect shows it)."""
        self._publish(LogRecordsDropped=total)

    def _publish_running(self, started_at: str | None) -> None:
        self._publish(**running(self.pid, started_at))

    # -- the container ----------------------------------------------------------------

    def _start(self, stdio: ContainerStdio) -> None:
        """Create and start the container.

        With `wait_for_attach` the launcher is told as soon as the container exists, then the
        start waits for the first client, so a foreground `run` misses no output.
        """
        self.pid = self.runtime.create(
            self.config.id,
            Path(self.config.bundle),
            stdio.container,
            cgroup_procs=[Path(p) for p in self.config.cgroup_procs],
            console_socket=stdio.to_close[-1] if stdio.console is not None else None,
        )
        stdio.handed_over()
        if self.config.wait_for_attach and self.ready_fd >= 0:
            self._publish_running(rfc3339_nano())
            self._report({"pid": self.pid})
            self._wait_for_client(stdio)
        self.runtime.start(self.config.id)

    def _report(self, message: dict[str, Any]) -> None:
        """Tell the launcher how the start went, once; later reports go nowhere."""
        self.ready_fd = launch.report(self.ready_fd, message)

    def _wait_for_client(self, stdio: ContainerStdio) -> None:
        """Until a client has said which streams it wants: one only connected yet would miss
        what the container writes first (a loaded machine made that visible)."""
        deadline = time.monotonic() + ATTACH_WAIT_SECONDS
        while not self.relay.greeted() and time.monotonic() < deadline:
            for key, _ in self.selector.select(0.5):
                if key.data == "listener":
                    self.relay.accept()
                elif key.data == "client":
                    self.relay.client_input(key.fd, stdio)
                elif key.data == "wake":
                    _drain(self._wake_r)

    def _kill(self, sig: int) -> None:
        """A signal an attached client sent, for the container's pid 1."""
        if self.pid is not None:
            with contextlib.suppress(BerthError):
                self.runtime.kill(self.config.id, sig)

    def _reap(self) -> None:
        for pid, status in processes.reaped():
            if pid == self.pid:
                self.exit_status = status
            elif self.health is not None:
                self.health.reaped(pid, status)

    def _pump(self, stdio: ContainerStdio) -> None:
        for fd in stdio.outputs:
            self.selector.register(fd, selectors.EVENT_READ, "output")
        open_outputs = set(stdio.outputs)
        drain_deadline: float | None = None
        # With a healthcheck, a container that closed its output is still probed until it exits.
        while open_outputs or (self.health is not None and self.exit_status is None):
            deadlines = [drain_deadline, self.health.deadline() if self.health else None]
            due = min((d for d in deadlines if d is not None), default=None)
            timeout = None if due is None else max(0.0, due - time.monotonic())
            events = self.selector.select(timeout)
            if not events and drain_deadline is not None and time.monotonic() >= drain_deadline:
                break
            for key, _ in events:
                if key.data == "wake":
                    _drain(self._wake_r)
                    self._reap()
                elif key.data == "listener":
                    self.relay.accept()
                elif key.data == "client":
                    self.relay.client_input(key.fd, stdio)
                elif key.data == "output" and not self.relay.output(key.fd, stdio):
                    open_outputs.discard(key.fd)
                elif key.data == "health" and self.health is not None:
                    self.health.readable()
            if self.exit_status is not None and drain_deadline is None:
                drain_deadline = time.monotonic() + DRAIN_SECONDS
                if self.health is not None:
                    self.health.stop()
            if self.health is not None and self.exit_status is None:
                self.health.tick()
        for fd in stdio.outputs:
            self.selector.unregister(fd)
            os.close(fd)
        if self.exit_status is None and self.pid is not None:
            # The container closed its output but lives on: wait for it.
            try:
                _, self.exit_status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.exit_status = ENGINE_FAILURE << 8

    def _exit(self, code: int, error: str) -> None:
        """Tell attached clients the container ended, with why if it never ran."""
        message = json.dumps({"ExitCode": code, "Error": error}).encode()
        self.exit_delivered = self.relay.broadcast(protocol.EXIT, message) > 0

    def run(self, ready_fd: int) -> None:
        self.ready_fd = ready_fd
        delay = 0.1
        while True:
            stdio = open_stdio(self.config)
            self.exit_status = None
            try:
                self._start(stdio)
            except BerthError as error:
                for fd in stdio.to_close:
                    os.close(fd)
                self.cleanup.release_held()
                code = int(getattr(error, "exit_status", ENGINE_FAILURE))
                self._publish(
                    Status="exited",
                    Running=False,
                    Pid=0,
                    ExitCode=code,
                    Error=error.message,
                    FinishedAt=rfc3339_nano(),
                )
                self._report({"error": error.message, "exit_code": code})
                self._exit(code, error.message)
                with contextlib.suppress(BerthError):
                    self.runtime.delete(self.config.id)
                break
            if self.config.dns_fds and self.restart_count == 0:
                # After the first start: the init is forked only while this is one thread.
                # Queries sent meanwhile wait in the socket, already bound.
                from berth.monitor.resolver import Resolver

                self.cleanup.resolver = Resolver(
                    self.config.dns_fds,
                    self.config.dns_names,
                    self.config.dns_servers,
                    self.config.dns_aliases or {},
                )
            if self.health is not None:
                self.health.begin()
            self._publish_running(
                self.status.get("StartedAt")
                if self.config.wait_for_attach and self.restart_count == 0
                else rfc3339_nano()
            )
            self._report({"pid": self.pid})
            if self.restart_count:
                self._announce("start")
            started = time.monotonic()
            self._pump(stdio)
            if stdio.stdin is not None and stdio.stdin not in stdio.outputs:
                os.close(stdio.stdin)
            self.log.flush()
            exit_code = _exit_code(self.exit_status or 0)
            oom = self.cleanup.oom_killed()
            with contextlib.suppress(BerthError):
                self.runtime.delete(self.config.id)
            restart = self.config.restarts(exit_code, self.restart_count)
            if not restart:
                self.cleanup.release_held()  # before "exited": a start right after needs the ports
            self._publish(**ended(restart, exit_code, oom))
            self._exit(exit_code, "")
            if oom:
                self._announce("oom")
            self._announce("die", exitCode=str(exit_code))
            if not restart:
                break
            # Docker's back-off: double the delay after a quick failure, reset after 10 s up.
            delay = 0.1 if time.monotonic() - started > 10 else min(delay * 2, 60.0)
            time.sleep(delay)
            self.restart_count += 1
        self.relay.close()
        self.log.close()
        self.cleanup.unmount_and_destroy()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _poke(fd: int) -> None:
    """Wake the loop (from the thread that starts a health probe)."""
    with contextlib.suppress(BlockingIOError):
        os.write(fd, b"\0")
