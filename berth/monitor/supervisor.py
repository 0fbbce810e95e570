"""The embedded DNS (127.0.0.11), the healthchecks and the rotated log files of the
containers conmon holds (`berth.monitor.conmon`), for all of them in one process:
`python -m berth.monitor.supervisor NAME FD`, one per store (its run root) and berth
installation, reached on the abstract unix socket NAME (which the client that starts it binds
and listens on, and hands over as FD), as the monitor zygote is.

berth's own monitor answers its container's names in a thread of its own and runs its probes
from its loop; conmon does neither. So a container on a user-defined network registers here
once conmon has started it: its id, its run directory, its networks' name tables, its --dns
servers and link aliases, and the two sockets the engine bound inside its network namespace
(SCM_RIGHTS). Each gets a resolver (`berth.monitor.resolver.Resolver`) until the container is
released (`release`, from `Lifecycle.release`: not at each exit, since a restart by policy
keeps its namespace), or its run directory is gone (a release this never heard of). A
container with a healthcheck is watched from each start (`probe_health`) until its pid 1 ends
(`berth.monitor.supervised_health`). A log that keeps rotated files is watched from before each
start until its conmon exits (`keep_rotated`, `berth.monitor.supervised_logs`). With none of
these left for `LINGER_SECONDS` it exits; killed, the names of the containers it served go
unanswered, their probes unrun and their logs' rotated files dropped, until they start again.

Only the supervisor's own user may register (SO_PEERCRED): an abstract socket has no file
permissions.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

from berth.monitor.launch import (
    ANSWER_SECONDS,
    LOG_NAME,
    detached_listener,
    listen,
    service_address,
    spawn,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from berth.monitor.config import MonitorConfig
    from berth.monitor.resolver import Resolver
    from berth.monitor.supervised_health import HealthWatch
    from berth.monitor.supervised_logs import LogRotations

KIND = "berth-supervisor"
LINGER_SECONDS = 2.0  # with no container registered
SWEEP_SECONDS = 2.0  # how often run directories are looked for
MESSAGE_SIZE = 64 * 1024
LISTENER = "listener"


# -- the client's side: the engine's ------------------------------------------------------


def register(
    runroot: str,
    container_id: str,
    run_dir: str,
    fds: Sequence[int],
    names: Sequence[str],
    servers: Sequence[str],
    aliases: dict[str, str],
) -> None:
    """The container's resolver, served from now on by the store's supervisor (started now
    if none runs). Raises OSError when none can be reached."""
    request = {
        "register": container_id,
        "run_dir": run_dir,
        "names": list(names),
        "servers": list(servers),
        "aliases": aliases,
    }
    _request(runroot, request, fds)


def probe_health(config: MonitorConfig, pid: int) -> None:
    """The container's healthcheck probed by the store's supervisor (started now if none
    runs) from its start with pid 1 `pid`; one the supervisor can't take runs unprobed (its
    health stays `starting`), and its monitor log says why."""
    request = {"health": config.id, "run_dir": config.run_dir, "pid": pid}
    _request_or_note(config, request, "healthcheck")


def keep_rotated(config: MonitorConfig, conmon_pid: int) -> None:
    """The rotated files of the container's log kept from now until conmon `conmon_pid`
    exits (`berth.monitor.supervised_logs`); with no supervisor to keep them, conmon starts
    its log over at max-size (as with max-file 1), and the monitor log says why."""
    request = {"logs": config.id, "run_dir": config.run_dir, "conmon": conmon_pid}
    _request_or_note(config, request, "log rotation")


def settle_log(config: MonitorConfig) -> None:
    """From conmon's exit command, once conmon has written the container's last output: its
    log's last rotation done before the exit is recorded (`LogRotations.settle`). Only the
    supervisor that watched the log has a rotation of it to finish: with none running, none
    is started for this (it would know nothing of the log, and stay on for nothing)."""
    try:
        _ask(service_address(KIND, config.runroot), {"settle": config.id}, ())
    except (ConnectionRefusedError, FileNotFoundError):
        return
    except OSError as error:
        _note(config, "log rotation", error)


def _request_or_note(config: MonitorConfig, request: dict[str, Any], what: str) -> None:
    try:
        _request(config.runroot, request, ())
    except OSError as error:
        _note(config, what, error)


def _note(config: MonitorConfig, what: str, error: OSError) -> None:
    """Why the supervisor couldn't do `what` for the container, in its monitor log."""
    with contextlib.suppress(OSError), open(f"{config.run_dir}/{LOG_NAME}", "a") as log:
        log.write(f"{what}: {error}\n")


def _request(runroot: str, request: dict[str, Any], fds: Sequence[int]) -> None:
    name = service_address(KIND, runroot)
    for _ in range(2):  # a second time: another client was starting one meanwhile
        with contextlib.suppress(OSError):
            _ask(name, request, fds)
            return
        listener = listen(name)
        if listener is None:
            continue
        try:
            spawn(["-m", "berth.monitor.supervisor", name], listener)
        finally:
            listener.close()
        _ask(name, request, fds)
        return
    raise OSError(f"the store's DNS supervisor ({name}) cannot be reached")


def release(runroot: str, container_id: str) -> None:
    """The container's resolver stopped, its sockets closed (nothing when none serves it)."""
    with contextlib.suppress(OSError):
        _ask(service_address(KIND, runroot), {"release": container_id}, ())


def _ask(name: str, request: dict[str, Any], fds: Sequence[int]) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC) as sock:
        sock.settimeout(ANSWER_SECONDS)
        sock.connect("\0" + name)
        socket.send_fds(sock, [json.dumps(request).encode()], list(fds))
        if sock.recv(16) != b"ok":
            raise OSError("the DNS supervisor refused the request")


# -- the supervisor's side --------------------------------------------------------------------


class Served:
    """One container's resolver and where its run directory is."""

    __slots__ = ("resolver", "run_dir")

    def __init__(self, resolver: Resolver, run_dir: str) -> None:
        self.resolver = resolver
        self.run_dir = run_dir


class Supervisor:
    """The resolvers it serves, the healthchecks it runs and the logs it keeps the rotated
    files of (each module imported with the first that needs it)."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.served: dict[str, Served] = {}
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ, LISTENER)
        self.health: HealthWatch | None = None
        self.logs: LogRotations | None = None

    def busy(self) -> bool:
        return (
            bool(self.served)
            or (self.health is not None and self.health.watching())
            or (self.logs is not None and self.logs.watching())
        )

    def serve(self) -> None:
        idle_since = swept = time.monotonic()
        while self.busy() or time.monotonic() - idle_since <= LINGER_SECONDS:
            timeout = SWEEP_SECONDS / 4
            for due in (
                self.health.deadline() if self.health is not None else None,
                self.logs.deadline() if self.logs is not None else None,
            ):
                if due is not None:
                    timeout = max(0.0, min(timeout, due - time.monotonic()))
            for key, _ in self.selector.select(timeout):
                if key.data == LISTENER:
                    with contextlib.suppress(OSError):
                        connection, _ = self.listener.accept()
                        with connection:
                            self._answer(connection)
                elif self.health is not None:
                    self.health.ready(key.data)
            if self.health is not None:
                self.health.tick()
            if self.logs is not None:
                self.logs.tick()
            if time.monotonic() - swept >= SWEEP_SECONDS:
                swept = time.monotonic()
                for ident in [i for i, s in self.served.items() if not os.path.isdir(s.run_dir)]:
                    self.served.pop(ident).resolver.stop()
            if self.busy():
                idle_since = time.monotonic()

    def _answer(self, connection: socket.socket) -> None:
        credentials = connection.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
        )
        if struct.unpack("3i", credentials)[1] != os.getuid():
            return
        connection.settimeout(ANSWER_SECONDS)
        message, fds, _, _ = socket.recv_fds(connection, MESSAGE_SIZE, 2)
        try:
            request = json.loads(message)
            if "release" in request:
                self._release(str(request["release"]))
            elif "health" in request:
                self._health().watch(str(request["run_dir"]), int(request["pid"]))
            elif "logs" in request:
                self._logs().watch(str(request["run_dir"]), int(request["conmon"]))
            elif "settle" in request:
                if self.logs is not None:
                    self.logs.settle(str(request["settle"]))
            elif len(fds) == 2:
                self._register(request, fds)
                fds = []  # the resolver's now
            else:
                return
        except (OSError, ValueError, KeyError, TypeError):
            return
        finally:
            for fd in fds:
                os.close(fd)
        connection.send(b"ok")

    def _register(self, request: dict[str, Any], fds: list[int]) -> None:
        from berth.monitor.resolver import Resolver

        ident = str(request["register"])
        previous = self.served.pop(ident, None)
        if previous is not None:  # started again: its new sockets
            previous.resolver.stop()
        resolver = Resolver(fds, request["names"], request["servers"], request["aliases"])
        self.served[ident] = Served(resolver, str(request["run_dir"]))

    def _release(self, ident: str) -> None:
        gone = self.served.pop(ident, None)
        if gone is not None:
            gone.resolver.stop()
        if self.health is not None:
            self.health.forget(ident)
        if self.logs is not None:
            self.logs.forget(ident)

    def _health(self) -> HealthWatch:
        if self.health is None:
            from berth.monitor.supervised_health import HealthWatch

            self.health = HealthWatch(self.selector)
        return self.health

    def _logs(self) -> LogRotations:
        if self.logs is None:
            from berth.monitor.supervised_logs import LogRotations

            self.logs = LogRotations()
        return self.logs


def main(argv: list[str]) -> None:
    """Serve on the socket the client bound to the abstract name `argv[1]` and listens on
    (fd `argv[2]`)."""
    listener = detached_listener(argv)
    from berth.sys.process import set_name

    set_name(KIND.encode())
    Supervisor(listener).serve()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
