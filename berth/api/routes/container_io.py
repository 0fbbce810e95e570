"""A container's input and output: `/containers/{id}/attach` and `/resize` here, `/logs`
(`log_stream`) and `/archive` (`archive`).

Attach takes the connection over and relays between the client and the container's monitor,
which owns the container's stdio and serves it on its attach socket in its own framing
(`berth.monitor.protocol`): the monitor's frames go to the client as stdcopy frames (raw
with a TTY), the client's input to the monitor as STDIN frames, watched for the detach keys
with a TTY. An attach to a created container waits for its start: the start route sees it
waiting (`Shared.attach_pending`) and has the monitor hold the process until it connects,
as the docker CLI's `run` attaches before it starts and must miss no output.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from typing import TYPE_CHECKING

from berth.api.request import Answer, Hijacked, Reply, Request
from berth.api.router import RouteSpec
from berth.api.routes import archive, log_stream
from berth.api.routes.hijack import (
    DEFAULT_DETACH_KEYS,
    Input,
    Output,
    parse_detach_keys,
    take_over,
    window_size,
)
from berth.container.state import Status
from berth.errors import BerthError, Conflict, NotFound
from berth.monitor import protocol
from berth.monitor.config import ATTACH_SOCKET, MonitorConfig

if TYPE_CHECKING:
    from pathlib import Path

    from berth.container.records import ContainerRecord

STOPPED = (Status.EXITED, Status.DEAD, Status.REMOVING)
CONNECT_RETRY_SECONDS = 0.01  # while a created container's monitor is not up yet
STATUS_LOOK_SECONDS = 0.25  # how often a waiting attach looks whether its container is gone
RESIZE_WAIT_SECONDS = 10.0  # a resize waits this long for a pending attach to connect
READ_SIZE = 64 * 1024
HANG_UP_WAIT_SECONDS = 5.0


def _check_attachable(record: ContainerRecord, name: str) -> None:
    """dockerd's refusals; a stopped container is attached to until it is started again
    (`docker start -a` attaches first, then starts)."""
    if record.status == Status.PAUSED:
        raise Conflict(f"container {name} is paused, unpause the container before attach")
    if record.status == Status.RESTARTING:
        raise Conflict(f"container {name} is restarting, wait until the container is running")


def attach(request: Request) -> Answer:
    name = request.params["id"]
    keys = parse_detach_keys(request.arg("detachKeys") or DEFAULT_DETACH_KEYS)
    record = request.engine.containers.lookup(name)
    wants_stream = request.flag("stream")
    _check_attachable(record, name)
    tty = bool(record.config.get("Tty"))
    options = log_stream.LogOptions(
        stdout=request.flag("stdout"), stderr=request.flag("stderr"), tty=tty
    )
    with contextlib.ExitStack() as waiting:
        if wants_stream and (record.status == Status.CREATED or record.status in STOPPED):
            # Seen waiting before the answer goes out: the client starts the container then.
            waiting.enter_context(request.shared.attaching(record.id))
        sock, ahead = take_over(request, tty=tty)
        output = Output(sock, tty=tty)
        if request.flag("logs"):
            for chunk in log_stream.chunks(request.engine.containers, record.id, options):
                output.send(chunk)
        if wants_stream:
            stdin = request.flag("stdin") and bool(record.config.get("OpenStdin"))
            monitor = _connect(request, record, sock)
            waiting.close()
            if monitor is not None:
                _attach_stream(request, record, monitor, options, output, ahead, stdin, keys)
    return Hijacked()


def _attach_stream(
    request: Request,
    record: ContainerRecord,
    monitor: socket.socket,
    options: log_stream.LogOptions,
    output: Output,
    ahead: bytes,
    stdin: bool,
    keys: bytes,
) -> None:
    containers = request.engine.containers
    run_dir = containers.run_dir(record.id)
    greeting = {"stdin": stdin, "stdout": options.stdout, "stderr": options.stderr}
    with contextlib.suppress(OSError):
        monitor.sendall(json.dumps(greeting).encode() + b"\n")
    client: Input | None = None
    if stdin:

        def send(kind: int, payload: bytes) -> None:
            with contextlib.suppress(OSError):
                monitor.sendall(protocol.frame(kind, payload))

        def ended() -> None:
            if record.config.get("StdinOnce"):
                send(protocol.STDIN_CLOSE, b"")

        def detached() -> None:
            with contextlib.suppress(OSError):
                monitor.shutdown(socket.SHUT_RDWR)

        client = Input(
            output.sock,
            ahead,
            lambda data: send(protocol.STDIN, data),
            ended=ended,
            detached=detached,
            detach=keys if options.tty else b"",
        )
        client.start()
    try:
        heard_exit = _relay(monitor, output, request)
        removes = (
            heard_exit
            and record.host_config.get("AutoRemove")
            and _leaves_removal_to_client(run_dir)
        )
        if removes:
            _await_hang_up(monitor)
    finally:
        if client is not None:
            client.finish()
        monitor.close()
    if removes:
        # The monitor leaves the removal of a --rm container to the client that heard its
        # exit, when it was started for that client (as the CLI's `run --rm` removes it).
        with contextlib.suppress(BerthError):
            containers.remove(containers.get(record.id), force=True)


def _relay(monitor: socket.socket, output: Output, request: Request) -> bool:
    """The monitor's frames to the client until the container exits (True), the monitor
    hangs up, the client goes or detaches, or the server stops."""
    reader = protocol.FrameReader()
    while not output.gone and not request.stopping.is_set():
        try:
            ready, _, _ = select.select([monitor], [], [], 0.5)
            if not ready:
                # A client that closed its connection (not only its writing side, as the
                # docker CLI does at once without stdin) ends its attach while all is quiet.
                if _hung_up(output.sock):
                    return False
                continue
            data = monitor.recv(READ_SIZE)
        except (OSError, ValueError):
            return False
        if not data:
            return False
        for kind, payload in reader.feed(data):
            if kind == protocol.EXIT:
                return True
            if kind in (protocol.STDOUT, protocol.STDERR):
                output.write(kind, payload)
    return False


def _await_hang_up(monitor: socket.socket) -> None:
    """Wait (briefly) for the monitor to hang up: it does once it has recorded the exit in
    full (the `die` event a `wait` for the removal reads), which must come before the
    removal."""
    deadline = time.monotonic() + HANG_UP_WAIT_SECONDS
    with contextlib.suppress(OSError, ValueError):
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([monitor], [], [], left)
            if ready and not monitor.recv(READ_SIZE):
                return


def _hung_up(client: socket.socket) -> bool:
    """Whether the client closed its connection (not only its writing side)."""
    poller = select.poll()
    poller.register(client, 0)
    return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))


def _connect(
    request: Request, record: ContainerRecord, client: socket.socket
) -> socket.socket | None:
    """The monitor's attach socket; for a container not running yet, once it has started
    (None when it is removed or ends first, or the client goes)."""
    containers = request.engine.containers
    path = containers.run_dir(record.id) / ATTACH_SOCKET
    if record.status != Status.CREATED and record.status not in STOPPED:
        return _try_connect(path)
    began = record.state.get("StartedAt")
    looked = time.monotonic()
    while not request.stopping.is_set():
        sock = _try_connect(path)
        if sock is not None:
            return sock
        if time.monotonic() - looked > STATUS_LOOK_SECONDS:
            looked = time.monotonic()
            if _hung_up(client):
                return None
            try:
                current = containers.get(record.id)
            except NotFound:
                return None
            if current.status in STOPPED and current.state.get("StartedAt") != began:
                return _try_connect(path)  # it ran (and ended) meanwhile
        time.sleep(CONNECT_RETRY_SECONDS)
    return None


def _try_connect(path: Path) -> socket.socket | None:
    try:
        return protocol.connect(path)
    except OSError:
        return None


def _leaves_removal_to_client(run_dir: Path) -> bool:
    """Whether berth's monitor waited for this client: it leaves the removal of an --rm
    container to the client that heard its exit (conmon's exit command removes it)."""
    from berth.monitor.conmon import is_conmon

    try:
        return MonitorConfig.read(run_dir).wait_for_attach and not is_conmon(run_dir)
    except (OSError, ValueError, TypeError):
        return False


def resize(request: Request) -> Answer:
    """The monitor holds the container's pty: it is asked to resize it, as `berth attach`
    asks, over a connection that wants no output."""
    rows, columns = window_size(request)
    containers = request.engine.containers
    record = containers.lookup(request.params["id"])
    if record.status != Status.RUNNING:
        raise Conflict(f"container {record.id} is not running")
    if not record.config.get("Tty"):
        return Reply(200)
    # A resize must not be the first client of a monitor that waits for an attach.
    deadline = time.monotonic() + RESIZE_WAIT_SECONDS
    while request.shared.attach_pending(record.id) and time.monotonic() < deadline:
        time.sleep(CONNECT_RETRY_SECONDS)
    monitor = _try_connect(containers.run_dir(record.id) / ATTACH_SOCKET)
    if monitor is None:
        raise Conflict(f"container {record.id} is not running")
    greeting = json.dumps({"stdin": False, "stdout": False, "stderr": False}).encode() + b"\n"
    size = protocol.frame(protocol.RESIZE, f"{rows} {columns}".encode())
    with monitor, contextlib.suppress(OSError):
        monitor.sendall(greeting + size)
    return Reply(200)


ROUTES: list[RouteSpec] = [
    ("GET", "/containers/{id}/logs", log_stream.container_logs),
    ("POST", "/containers/{id}/attach", attach),
    ("POST", "/containers/{id}/resize", resize),
    ("GET", "/containers/{id}/archive", archive.get_archive),
    ("PUT", "/containers/{id}/archive", archive.put_archive),
    ("GET", "/containers/{id}/export", archive.export),
]
