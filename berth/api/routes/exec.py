"""`/containers/{id}/exec` and `/exec/{id}/start|resize|json`: one more process in a running
container, as dockerd runs it — created first (an instance kept in the server's memory),
then started once, attached over a hijacked connection (raw with a TTY, stdcopy frames
without) or detached, and inspected for its exit code. See `exec_process` for the running.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from berth.api.request import Answer, Hijacked, Reply, Request, json_reply
from berth.api.router import RouteSpec
from berth.api.routes.exec_process import (
    FAILED_TO_START,
    ExecInstance,
    run_attached,
    run_detached,
)
from berth.api.routes.hijack import parse_detach_keys, take_over, window_size
from berth.container.state import Status
from berth.errors import Conflict, InvalidArgument, NotFound, Unavailable

if TYPE_CHECKING:
    from berth.container.records import ContainerRecord
    from berth.engine import Engine

MAX_INSTANCES = 4096
ENDED_KEPT_SECONDS = 300.0  # an ended instance stays inspectable this long (dockerd: ~5 min)
UNSTARTED_KEPT_SECONDS = 3600.0
RESIZE_WAIT_SECONDS = 10.0  # dockerd waits this long for a starting exec's terminal


def _strings(document: dict[str, Any], name: str) -> list[str]:
    value = document.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidArgument(f"invalid {name}: expected a list of strings")
    return value


def _text(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"invalid {name}: expected a string")
    return value


def _console_size(request: Request, document: dict[str, Any]) -> tuple[int, int] | None:
    """[height, width], from API 1.42 on (ignored before, as dockerd does)."""
    value = document.get("ConsoleSize")
    if value is None or request.version < (1, 42):
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and 0 <= v < 65536 for v in value)
    ):
        raise InvalidArgument("invalid ConsoleSize: expected [height, width]")
    return (value[0], value[1]) if value[0] and value[1] else None


def _running(engine: Engine, container_id: str) -> ContainerRecord:
    """The container of an exec, which must be running (dockerd's words)."""
    try:
        record = engine.containers.get(container_id)
    except NotFound:
        raise NotFound(f"No such container: {container_id}") from None
    if record.status == Status.PAUSED:
        raise Conflict(f"Container {record.id} is paused, unpause the container before exec")
    if record.status == Status.RESTARTING:
        raise Conflict(f"Container {record.id} is restarting, wait until the container is running")
    if record.status != Status.RUNNING:
        raise Conflict(f"container {record.id} is not running")
    return record


def _forget_old(execs: dict[str, ExecInstance]) -> None:
    """Drop instances that ended a while ago, or were never started (the caller holds the
    lock): a server that runs for months keeps a bounded table."""
    now = time.monotonic()
    for key, instance in list(execs.items()):
        if (instance.ended is not None and now - instance.ended > ENDED_KEPT_SECONDS) or (
            not instance.claimed and now - instance.created > UNSTARTED_KEPT_SECONDS
        ):
            del execs[key]


def create(request: Request) -> Answer:
    document = request.json_object(required=False)
    command = _strings(document, "Cmd")
    if not command:
        raise InvalidArgument("No exec command specified")
    detach_text = _text(document, "DetachKeys")
    try:
        detach_keys = parse_detach_keys(detach_text) if detach_text else b""
    except InvalidArgument:
        raise InvalidArgument(f"Invalid escape keys ({detach_text}) provided") from None
    engine = request.engine
    record = _running(engine, engine.containers.lookup(request.params["id"]).id)
    instance = ExecInstance(
        id=secrets.token_hex(32),
        container_id=record.id,
        command=command,
        env=_strings(document, "Env"),
        user=_text(document, "User") or str(record.config.get("User") or ""),
        workdir=_text(document, "WorkingDir"),
        tty=bool(document.get("Tty")),
        privileged=bool(document.get("Privileged")),
        attach_stdin=bool(document.get("AttachStdin")),
        attach_stdout=bool(document.get("AttachStdout")),
        attach_stderr=bool(document.get("AttachStderr")),
        detach_keys=detach_keys,
        console_size=_console_size(request, document),
    )
    shared = request.shared
    with shared.lock:
        _forget_old(shared.execs)
        if len(shared.execs) >= MAX_INSTANCES:
            raise Unavailable("too many exec instances; try again later")
        shared.execs[instance.id] = instance
    return json_reply({"Id": instance.id}, 201)


def _instance(request: Request) -> ExecInstance:
    exec_id = request.params["id"]
    with request.shared.lock:
        instance = request.shared.execs.get(exec_id)
    if instance is None:
        raise NotFound(f"No such exec instance: {exec_id}")
    return instance


def start(request: Request) -> Answer:
    document = request.json_object(required=False)
    instance = _instance(request)
    engine = request.engine
    record = _running(engine, instance.container_id)
    size = _console_size(request, document)
    if size is not None and instance.tty:
        instance.console_size = size
    instance.claim()
    if document.get("Detach"):
        try:
            run_detached(engine, instance, record)
        except Exception as error:
            instance.end(int(getattr(error, "exit_status", FAILED_TO_START)))
            raise
        return Reply(200)
    # As dockerd: the start's Tty says how the stream is framed; the create's, whether the
    # process gets a terminal.
    framed_tty = bool(document.get("Tty"))
    sock, ahead = take_over(request, tty=framed_tty)
    run_attached(
        engine, instance, record, sock, ahead, framed_tty=framed_tty, stopping=request.stopping
    )
    return Hijacked()


def resize(request: Request) -> Answer:
    rows, columns = window_size(request)
    instance = _instance(request)
    _running(request.engine, instance.container_id)
    if not instance.claimed:
        raise Conflict(f"exec {instance.id} is not running")
    if not instance.started.wait(RESIZE_WAIT_SECONDS):
        raise Unavailable("timeout waiting for exec session ready")
    instance.resize(rows, columns)
    return Reply(200)


def inspect(request: Request) -> Answer:
    instance = _instance(request)
    try:
        request.engine.containers.get(instance.container_id)
    except NotFound:
        raise NotFound(f"No such exec instance: {instance.id}") from None
    return json_reply(instance.document())


ROUTES: list[RouteSpec] = [
    ("POST", "/containers/{id}/exec", create),
    ("POST", "/exec/{id}/start", start),
    ("POST", "/exec/{id}/resize", resize),
    ("GET", "/exec/{id}/json", inspect),
]
