"""Reading a container's state as it is now: its row merged with what its monitor reported
(status.json in the run directory). Pure reads, no side effects: the lifecycle records and
releases what a reading finds (`Lifecycle.refresh`), and the network asks it whether a
container still holds its addresses (`holds_network`, network's ContainerView).
"""

from pathlib import Path
from typing import Any, NamedTuple

from berth.container import state
from berth.container.paths import ContainerPaths
from berth.container.records import ContainerRecord, ContainerStore
from berth.container.state import ACTIVE, Status
from berth.errors import NotFound
from berth.monitor.config import ENGINE_FAILURE, STATUS_NAME, MonitorConfig
from berth.monitor.files import read_json

MONITOR_KEYS = ("MonitorPid", "MonitorStart")  # in status.json, not in the container's State


class Observation(NamedTuple):
    record: ContainerRecord  # with the monitor's report merged
    changed: bool  # the merged state must be recorded: the container finished
    monitor_gone: bool  # its monitor is gone: nothing released what the start set up


def monitor_alive(status: dict[str, Any]) -> bool:
    """Whether the monitor that wrote `status` still runs (pids are reused: its start time
    must match too)."""
    from berth.runtime import processes

    pid, started = int(status.get("MonitorPid") or 0), int(status.get("MonitorStart") or 0)
    return bool(pid and started) and processes.alive(pid, started)


def reported(status: dict[str, Any]) -> dict[str, Any]:
    """The State fields of a monitor's status.json."""
    return {k: v for k, v in status.items() if k not in MONITOR_KEYS}


class ContainerView:
    __slots__ = ("paths", "records")

    def __init__(self, records: ContainerStore, paths: ContainerPaths) -> None:
        self.records = records
        self.paths = paths

    def monitor_status(self, container_id: str) -> dict[str, Any]:
        return read_json(f"{self.paths.run_dirs}/{container_id}/{STATUS_NAME}") or {}

    def monitor_of(self, record: ContainerRecord) -> dict[str, Any]:
        """What the container's monitor reported, or, when its run directory is gone (a
        /run wiped without a reboot), the monitor the row remembers: a container whose
        monitor lives is still held, whatever happened to the files under /run."""
        status = self.monitor_status(record.id)
        if status:
            return status
        return {key: record.state[key] for key in MONITOR_KEYS if key in record.state}

    def observe(self, record: ContainerRecord) -> Observation:
        """Merge what the monitor reported; a monitor that is gone without reporting an exit
        means the container is gone too (a crash or a reboot): say so, never 'running'."""
        if record.status not in ACTIVE:
            return Observation(record, False, False)
        status = self.monitor_of(record)
        alive = monitor_alive(status)
        changes = reported(status)
        if status.get("Status") != Status.EXITED:
            # conmon writes the exit file at once, its exit command the status a moment later
            unreported = self._exit_file(record)
            if unreported is not None or not alive:
                changes = unreported or self._gone()
        if changes.get("Status") == Status.EXITED or not alive:
            changes.update(state.finished())
            return Observation(record.with_state(**changes), True, not alive)
        if record.status == Status.PAUSED:
            changes.update(state.paused())
        changes["Restarting"] = changes.get("Status") == Status.RESTARTING
        return Observation(record.with_state(**changes), False, False)

    def _exit_file(self, record: ContainerRecord) -> dict[str, Any] | None:
        """The exit conmon recorded (`berth.monitor.conmon`): in the exit file, before its
        exit command writes status.json, and after it if that command was killed; None when
        there is none (berth's monitor, or a container still running)."""
        from berth.monitor import conmon
        from berth.monitor.files import rfc3339_nano

        run_dir = Path(self.paths.run_dirs, record.id)
        try:
            finished = (run_dir / conmon.EXIT_FILE).stat().st_mtime
            if MonitorConfig.read(run_dir).restart_policy != "no":
                return None  # it may start again: its exit command says whether
        except (OSError, ValueError, TypeError):
            return None
        code = conmon.exit_code(run_dir)
        return {
            "Status": Status.EXITED,
            "ExitCode": ENGINE_FAILURE if code is None else code,
            "Error": "",
            "OOMKilled": (run_dir / conmon.OOM_FILE).exists(),
            "FinishedAt": rfc3339_nano(finished),
        }

    @staticmethod
    def _gone() -> dict[str, Any]:
        from berth.db import now

        return {"ExitCode": 255, "Error": "the container's monitor is gone", "FinishedAt": now()}

    def starting(self, container_id: str) -> bool:
        lock = self.paths.start_lock(container_id)
        if not lock.acquire(blocking=False):
            return True
        lock.release()
        return False

    # -- what the network asks (network.host.ContainerView) --------------------------------

    def name(self, container_id: str) -> str | None:
        try:
            return self.records.get(container_id).name
        except NotFound:
            return None

    def holds_network(self, container_id: str) -> bool:
        """Whether the container may still use what its start set up on the network: it is
        starting, or it runs under a live monitor."""
        if self.starting(container_id):
            return True
        try:
            record = self.records.get(container_id)
        except NotFound:
            return False
        observed = self.observe(record)
        return observed.record.status in ACTIVE
