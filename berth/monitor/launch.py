"""Starting a monitor before its container is ready for it.

A monitor is a fresh interpreter (small, and independent of whoever started it), and its
start-up — interpreter, imports — takes longer than anything else in a container's start.
A `MonitorLauncher` spawns it first, so it imports while the engine mounts the rootfs and
writes the spec on the other core; `hand_over` then sends it the run directory and the
published ports' sockets over a socket pair, and returns its report of the start. A launcher
never handed over is closed: its monitor reads end-of-file and exits without a trace.

Stdlib only, and cheap: the CLI creates one before it imports the engine.
"""

from __future__ import annotations

import _socket  # not socket: its imports (enum) would come before the spawn
import os
import sys

import berth
from berth.errors import SystemFailure

TYPE_CHECKING = False  # typing's own costs ~5 ms, before the spawn
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Sequence
    from pathlib import Path
    from typing import Any

LOG_NAME = "monitor.log"  # in the container's run dir: the monitor's stdout and stderr
MAX_FDS = 64
MESSAGE_SIZE = 64 * 1024
ZYGOTE = "berth.monitor.zygote"
REQUEST_SIZE = 256 * 1024  # a zygote request: the launcher's environment
ANSWER_SECONDS = 5.0  # how long a hand-over waits for the zygote before it spawns its own


# The monitor imports only berth and the stdlib, so it runs without `site` (~5 ms of its
# start: the venv's .pth files); -P and -s keep the caller's directory and user site out.
MONITOR_PYTHON = (sys.executable, "-P", "-s", "-S")
MONITOR_ARGV = [*MONITOR_PYTHON, "-m", "berth.monitor"]


def monitor_environment() -> dict[str, str]:
    """The caller's environment, without its PYTHON* variables (as -I would ignore them),
    and with berth's own directory as the only import path beyond the stdlib."""
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(berth.__file__)))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environment["PYTHONPATH"] = package_root
    return environment


class MonitorLauncher:
    """One monitor, started now, waiting for `hand_over` (or `close`). With the store's
    `runroot`, the monitor is forked by the store's zygote (`berth.monitor.zygote`), started
    now if none runs; a monitor is spawned instead when no zygote can answer."""

    __slots__ = ("_environment", "_pid", "_request", "_sock", "_zygote")

    def __init__(self, runroot: str | None = None) -> None:
        self._environment = monitor_environment()
        self._pid = self._zygote = 0  # our children to reap: none when the zygote forks it
        self._request: _socket.socket | None = None  # the zygote's answer comes on it
        self._sock: _socket.socket | None = None
        if runroot:
            ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
            try:
                self._request = self._ask_zygote(zygote_address(runroot), theirs)
            finally:
                theirs.close()
            if self._request is None:
                ours.close()
            else:
                self._sock = ours
        if self._sock is None:
            self._sock = self._spawned()
        from berth.cgroups import warmth  # after the spawn: its imports are the engine's too

        warmth.hold()  # until the monitor has placed the init

    def _spawned(self) -> _socket.socket:
        """A monitor spawned as an interpreter of its own; our end of its channel."""
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        try:
            self._pid = _spawn(MONITOR_ARGV, theirs, self._environment)
        except OSError as error:
            ours.close()
            raise SystemFailure(f"the container monitor failed to start: {error}") from None
        finally:
            theirs.close()
        return ours

    def _ask_zygote(self, name: str, channel: _socket.socket) -> _socket.socket | None:
        """The request for a monitor on `channel`, sent to the zygote at `name`; None when
        there is none to ask. With none listening, one is started: it takes over the
        socket listened on here, where the request waits while it starts up (its answer
        is read at the hand-over, so nothing here waits for it)."""
        for _ in range(2):  # a second time: another launcher was starting one meanwhile
            request = _request(name, channel.fileno(), self._environment)
            if request is not None:
                return request
            listener = listen(name)
            if listener is None:
                continue
            request = _request(name, channel.fileno(), self._environment)
            try:
                argv = [*MONITOR_PYTHON, "-m", ZYGOTE, name]
                self._zygote = _spawn(argv, listener, self._environment)
            except OSError:
                if request is not None:
                    request.close()
                return None
            finally:
                listener.close()
            return request
        return None

    def _confirmed(self) -> None:
        """The zygote's answer: a monitor forked for the channel. Without one (the zygote
        died, or hung), a monitor is spawned on a new channel."""
        request, self._request = self._request, None
        if request is None:
            return
        try:
            request.settimeout(ANSWER_SECONDS)
            answer = request.recv(64)
        except OSError:
            answer = b""
        finally:
            request.close()
        if answer.isdigit():
            return
        unanswered, self._sock = self._sock, self._spawned()
        if unanswered is not None:
            unanswered.close()

    def hand_over(
        self, run_dir: Path, fds: Sequence[int], meanwhile: Callable[[], object] | None = None
    ) -> dict[str, Any]:
        """Give the monitor its container (`monitor.json` written in `run_dir`) and the
        sockets it must hold; returns its report: {"pid": …} or {"error": …, "exit_code": …}.
        `meanwhile` runs while the monitor starts the container (the caller's imports for
        what comes after, say), on this core while the monitor works on the other.
        """
        import json
        import socket

        self._confirmed()
        raw = self._sock
        if raw is None:
            raise SystemFailure("the container monitor was handed over already")
        self._sock = None
        sock = socket.socket(fileno=raw.detach())
        message = json.dumps({"run_dir": str(run_dir), "fds": list(fds)}).encode()
        try:
            socket.send_fds(sock, [message], list(fds))
            if meanwhile is not None:
                meanwhile()
            report = sock.recv(MESSAGE_SIZE)
        except OSError:
            report = b""
        finally:
            sock.close()
            _release_warmth()
            self._reap()
        if not report:
            log = run_dir / LOG_NAME
            tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
            raise SystemFailure(f"the container monitor failed to start: {tail.strip()}")
        result: dict[str, Any] = json.loads(report)
        return result

    def close(self) -> None:
        """Let go: an idle monitor exits (one the zygote forks after this reads end-of-file
        at once)."""
        if self._request is not None:
            self._request.close()
            self._request = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            _release_warmth()
            self._reap()

    def _reap(self) -> None:
        """The first process only forks the monitor (or the zygote) off and exits: reaped
        here, so no long-lived caller collects zombies."""
        for pid in (self._pid, self._zygote):
            if pid:
                os.waitpid(pid, 0)


def _spawn(
    argv: list[str], given: _socket.socket, environment: dict[str, str], *, quiet: bool = False
) -> int:
    """A fresh interpreter: the monitor (its channel's fd last in argv) or the zygote (its
    listening socket's). `quiet`: stdout and stderr on /dev/null too."""
    # Inheritable only for this spawn; callers start monitors from one thread.
    os.set_inheritable(given.fileno(), True)
    argv = [*argv, str(given.fileno())]
    devnull = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
    # Else stdout and stderr stay the caller's until the monitor knows its run dir, so a
    # monitor that can't even import says so where the user looks.
    if quiet:
        devnull += [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    return os.posix_spawn(argv[0], argv, environment, file_actions=devnull)


def zygote_address(runroot: str) -> str:
    """The abstract socket name (without its leading NUL) of the zygote of `runroot`."""
    return service_address("berth-monitors", runroot)


def service_address(kind: str, runroot: str, *more: str) -> str:
    """The abstract socket name (without its leading NUL) of the per-store process `kind`
    (the monitor zygote, the DNS supervisor, the CLI zygote) of `runroot` and this
    installation of berth (any of the same code could serve a store; one per store keeps
    stores apart and lets each go when its containers have); `more`: what else tells one
    such process from another (the CLI zygote's import path)."""
    import zlib

    package = os.path.dirname(os.path.abspath(berth.__file__))
    python = os.path.realpath(sys.executable)  # a venv's link or its target: one process
    parts = (os.path.abspath(runroot), package, berth.__version__, python, *more)
    identity = "\0".join(parts)
    data = identity.encode(errors="surrogateescape")
    return f"{kind}-{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def spawn(
    arguments: list[str],
    listener: _socket.socket,
    environment: dict[str, str] | None = None,
    *,
    wait: bool = True,
) -> None:
    """A per-store process (`python -m MODULE NAME` in `arguments`) started on the socket
    `listener` it takes over, in `environment` (else `monitor_environment()`); its first
    process, which only forks it off, reaped. Without `wait`, not waited for (a caller about
    to exit leaves it to be reaped as an orphan) and given none of the caller's streams (a
    reader of the caller's output sees its end when the caller exits)."""
    chosen = monitor_environment() if environment is None else environment
    pid = _spawn([*MONITOR_PYTHON, *arguments], listener, chosen, quiet=not wait)
    if wait:
        os.waitpid(pid, 0)


def _request(name: str, channel_fd: int, environment: dict[str, str]) -> _socket.socket | None:
    """A request sent to the zygote at `name` for a monitor on `channel_fd` (the far end of
    the launcher's channel), its answer to come on the returned socket; None when nothing
    listens there."""
    sock = connect(name)
    if sock is None:
        return None
    try:
        rights = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS, channel_fd.to_bytes(4, sys.byteorder))
        sock.sendmsg([encode_environment(environment)], [rights])
    except OSError:
        sock.close()
        return None
    return sock


def connect(name: str) -> _socket.socket | None:
    """A connection to the per-store process listening on `name`; None when nothing of our
    own user listens there. Anyone may bind an abstract name first: only a process of our
    user is given a request (its fds, its environment); with a squatter, the caller does
    without (a monitor is spawned, a command runs in its own process)."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:
        sock.connect("\0" + name)
        credentials = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        if int.from_bytes(credentials[4:8], sys.byteorder) != os.getuid():
            raise PermissionError(f"{name} is held by another user")
    except OSError:
        sock.close()
        return None
    return sock


def detached_listener(argv: list[str]) -> socket.socket:
    """A per-store process's start (`python -m MODULE NAME FD`): detached from the client
    that spawned it (which reaps this first process), in no directory anyone may want to
    unmount, its streams on /dev/null, holding no fd but the listening socket FD that the
    client bound to the abstract NAME (requests wait in its backlog meanwhile)."""
    import socket

    if os.fork():
        os._exit(0)
    os.setsid()
    os.chdir("/")
    listening = int(argv[2])
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the client's streams: a caller reading them must not wait on us
        os.dup2(null, fd)
    os.closerange(3, listening)
    os.closerange(listening + 1, os.sysconf("SC_OPEN_MAX"))
    return socket.socket(fileno=listening)


def listen(name: str) -> _socket.socket | None:
    """A per-store process's socket (the zygote's, the DNS supervisor's), bound and
    listening, for that process to take over; None when another holds the name already."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:
        sock.bind("\0" + name)
        sock.listen(64)
    except OSError:
        sock.close()
        return None
    return sock


def encode_environment(environment: dict[str, str]) -> bytes:
    return "\0".join(f"{key}={value}" for key, value in environment.items()).encode()


def decode_environment(data: bytes) -> dict[str, str] | None:
    """`encode_environment`'s, or None for what it can't have written."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return None
    pairs = [item.partition("=") for item in text.split("\0")] if text else []
    if any(not key or not sep for key, sep, _ in pairs):
        return None
    return {key: value for key, _, value in pairs}


def _release_warmth() -> None:
    from berth.cgroups import warmth

    warmth.release()


def receive(channel: socket.socket) -> tuple[Path, dict[int, int]] | None:
    """The monitor's side of `hand_over`: its run dir and {the sender's fd: ours}, or None
    when the launcher was closed unused."""
    import json
    import socket
    from pathlib import Path

    message, fds, _, _ = socket.recv_fds(channel, MESSAGE_SIZE, MAX_FDS)
    if not message:
        return None
    handover = json.loads(message)
    return Path(handover["run_dir"]), dict(zip(handover["fds"], fds, strict=True))


def log_to(run_dir: Path) -> None:
    """From now on the monitor's stdout and stderr go to its log, not the launcher's."""
    fd = os.open(run_dir / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def report(fd: int, message: dict[str, Any]) -> int:
    """The monitor's answer to `hand_over`, on the channel's `fd`: how the start went. Sent
    once: the channel is closed, and the -1 returned is what the caller keeps as its fd."""
    if fd >= 0:
        import contextlib
        import json

        with contextlib.suppress(OSError):
            os.write(fd, (json.dumps(message) + "\n").encode())
        os.close(fd)
    return -1
