"""`berth-runtime` start, state, kill, delete and features: runc's behaviour and words, on the
runtime's state (`cli_state`)."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import TYPE_CHECKING

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.runtime import cli_state
from berth.runtime.cli import SPEC_VERSION, container_id

if TYPE_CHECKING:
    from berth.runtime.cli import Log, Options
    from berth.runtime.runtime import Runtime

KILL_PATIENCE = 10.0  # runc's delete waits as long for a killed init to go


def start(options: Options, log: Log) -> int:
    ident = container_id(options, log)
    runtime = cli_state.open_runtime(options, log)
    current = cli_state.status(runtime, ident).status
    if current == "stopped":
        raise Conflict("cannot start a container that has stopped")
    if current == "running":
        raise Conflict("cannot start an already running container")
    runtime.start(ident)
    return 0


def state(options: Options, log: Log) -> int:
    ident = container_id(options, log)
    document = cli_state.document(cli_state.open_runtime(options, log), ident)
    os.write(1, json.dumps(document, indent=2).encode())
    return 0


def parse_signal(text: str) -> int:
    """A signal as runc takes it: a number, or a name with or without SIG, any case."""
    if text.isdigit():
        return int(text)
    name = text.upper()
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError:
        raise InvalidArgument(f"unknown signal {text!r}") from None


def kill(options: Options, log: Log) -> int:
    ident = container_id(options, log, extra=1)
    number = parse_signal(options.args[1] if len(options.args) > 1 else "SIGTERM")
    runtime = cli_state.open_runtime(options, log)
    record = cli_state.read_record(runtime, ident)
    if options.flag("all"):  # every process in its cgroup, as runc's --all
        cli_state.cgroup(record).kill_all(number)
        return 0
    if cli_state.status(runtime, ident).status == "stopped":
        raise Conflict("container not running")
    runtime.kill(ident, number)
    return 0


def _kill_and_wait(runtime: Runtime, ident: str, record: dict[str, object]) -> None:
    """SIGKILL every process of the container, then wait for its init to be gone (reaped or
    a zombie of its parent's): its cgroup can only be removed then."""
    cli_state.cgroup(record).kill_all(signal.SIGKILL)
    runtime.kill(ident, signal.SIGKILL, all_processes=True)
    deadline = time.monotonic() + KILL_PATIENCE
    while runtime.state(ident).status != "stopped":
        if time.monotonic() > deadline:
            raise Conflict("container init still running")
        time.sleep(0.005)


def delete(options: Options, log: Log) -> int:
    ident = container_id(options, log)
    force = options.flag("force")
    runtime = cli_state.open_runtime(options, log)
    try:
        record = cli_state.read_record(runtime, ident)
    except NotFound:
        runtime.delete(ident)  # what an aborted create may have left
        if force:
            return 0
        raise
    current = runtime.state(ident).status
    if current == "running" and not force:
        raise Conflict(f"cannot delete container {ident} that is not stopped: running")
    if force or current == "created":
        _kill_and_wait(runtime, ident, record)
    cli_state.cgroup(record).destroy()
    runtime.delete(ident)
    return 0


def features(options: Options, log: Log) -> int:
    """What this runtime implements, in the shape of runc's `features` (runtime-spec
    features.md); conservative: what is not listed is not promised."""
    del options, log
    from berth.runtime.init import NAMESPACE_FLAGS

    document = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": [],
        "linux": {
            "namespaces": sorted(NAMESPACE_FLAGS),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True},
        },
    }
    os.write(1, json.dumps(document, indent=2).encode())
    return 0
