"""A container's state: Docker's statuses as an enum, the State document each transition
writes, and the checks (with Docker's messages) that say which operation may run in which
status. Every status change in berth goes through a function here.

    created ──start──► running ◄──unpause── paused
       ▲                │  ▲ └──pause──────────▲
       │           exit │  │ restart policy
       │                ▼  │
       │             restarting ──► exited ──start──► running
       └── a start that failed before the process ran stays created
    any but running, paused and restarting ──rm──► gone (rm -f stops it first)

The monitor reports running, restarting and exited in its status.json; the rest are
written by the lifecycle. Stdlib only (`ps` imports this module); Docker's words for a state
(its Status text, its health) are berth.container.summary's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from berth.errors import Conflict

NOT_STARTED = "0001-01-01T00:00:00Z"


class Status(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    EXITED = "exited"
    DEAD = "dead"
    REMOVING = "removing"


_BY_VALUE: dict[str, Status] = {status.value: status for status in Status}
# A container whose processes may exist: its monitor holds it.
ACTIVE = frozenset({Status.RUNNING, Status.PAUSED, Status.RESTARTING})
# Done: `wait` returns, nothing runs.
FINISHED = frozenset({Status.CREATED, Status.EXITED, Status.DEAD})


def initial_state() -> dict[str, Any]:
    """The State of a container just created."""
    return {
        "Status": Status.CREATED.value,
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": NOT_STARTED,
        "FinishedAt": NOT_STARTED,
        "RestartCount": 0,
    }


def status_of(state: dict[str, Any]) -> Status:
    """The Status a state says; DEAD for a value no berth wrote (the container is broken)."""
    value = state.get("Status", "created")
    return _BY_VALUE.get(value, Status.DEAD) if isinstance(value, str) else Status.DEAD


# -- the State each transition writes --------------------------------------------------------


def paused() -> dict[str, Any]:
    return {"Status": Status.PAUSED.value, "Paused": True}


def unpaused() -> dict[str, Any]:
    return {"Status": Status.RUNNING.value, "Paused": False}


def finished() -> dict[str, Any]:
    """The process is gone (the monitor's report, or the caller, says with which code)."""
    return {
        "Status": Status.EXITED.value,
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "Pid": 0,
    }


def start_failed(state: dict[str, Any], error: str, exit_code: int) -> dict[str, Any]:
    """Setting up the start failed: a container that never ran stays created (so it can be
    started once the cause is fixed), one that ran before is exited."""
    return {
        "Status": (Status.CREATED if state.get("StartedAt") == NOT_STARTED else Status.EXITED),
        "Error": error,
        "ExitCode": exit_code,
    }


def process_failed(error: str, exit_code: int, finished_at: str) -> dict[str, Any]:
    """The monitor could not start the process: with the engine's code (125) nothing ran,
    so the container stays created; a 126/127 (not executable, not found) ran and exited."""
    return {
        "Status": Status.CREATED if exit_code == 125 else Status.EXITED,
        "Error": error,
        "ExitCode": exit_code,
        "FinishedAt": finished_at,
    }


# -- which operation may run in which status (Docker's messages) -----------------------------


def check_start(container_id: str, status: Status) -> bool:
    """Whether a start has work to do: False when it already runs; an error when it can't."""
    if status in (Status.RUNNING, Status.RESTARTING):
        return False
    if status == Status.PAUSED:
        raise Conflict("cannot start a paused container, try unpause instead")
    if status == Status.REMOVING:
        raise Conflict(f"container is marked for removal and cannot be started: {container_id}")
    if status == Status.DEAD:
        raise Conflict(f"container {container_id} is dead: remove it with rm -f")
    return True


def check_kill(container_id: str, status: Status) -> None:
    if status not in (Status.RUNNING, Status.RESTARTING):
        raise Conflict(
            f"Cannot kill container: {container_id}: Container {container_id} is not running"
        )


def check_running(container_id: str, status: Status) -> None:
    """pause, top, stats: the container's processes must exist."""
    if status not in (Status.RUNNING, Status.PAUSED):
        raise Conflict(f"Container {container_id} is not running")


def check_pause(container_id: str, status: Status) -> None:
    if status == Status.PAUSED:
        raise Conflict(f"Container {container_id} is already paused")
    if status != Status.RUNNING:
        raise Conflict(f"Container {container_id} is not running")


def check_unpause(container_id: str, status: Status) -> None:
    if status != Status.PAUSED:
        raise Conflict(f"Container {container_id} is not paused")


def check_exec(container_id: str, status: Status) -> None:
    if status == Status.PAUSED:
        raise Conflict(f"Container {container_id} is paused, unpause the container before exec")
    if status != Status.RUNNING:
        raise Conflict(f"Container {container_id} is not running")


def check_remove(container_id: str, status: Status, *, force: bool) -> None:
    if status in ACTIVE and not force:
        raise Conflict(
            f"You cannot remove a {status} container {container_id}. Stop the container "
            "before attempting removal or force remove"
        )
