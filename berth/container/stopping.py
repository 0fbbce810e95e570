"""Signals and the end of a container's run: kill, stop (the stop signal, a grace period,
then SIGKILL), pause and unpause (the cgroup freezer), wait, and remove.

A stop or kill that ends the container for good leaves `stop-requested` in its run
directory, so its monitor applies no restart policy (Docker's manual stop).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from berth import space
from berth.container import monitors, state
from berth.container.lifecycle import Lifecycle
from berth.container.records import ContainerRecord
from berth.container.signals import signal_number
from berth.container.state import FINISHED, Status
from berth.errors import BerthError, Conflict, NoSpace, NotFound, PermissionDenied
from berth.monitor.config import REMOVE_REQUESTED, STOP_REQUESTED

KILL_WAIT_SECONDS = 30.0


class Controls:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.paths = lifecycle.paths

    def _stopping(self, record: ContainerRecord) -> bool:
        return (self.paths.run_dir(record.id) / STOP_REQUESTED).exists()

    def _make_room(self) -> None:
        """Stopping and removing free space: on a full disk, once the container's processes
        are gone (they would take it first), the store's reserve (berth.space) is the room
        for what they must write."""
        space.make_room(self.paths.layout.reserve)
        self.lifecycle.records.database.make_writable()

    def _current(
        self, record: ContainerRecord, *, ending: bool, removing: bool = False
    ) -> ContainerRecord:
        """The container as it is once no start of it is in flight (a stop or kill that came
        during a start applies to the container the start made, as Docker's container lock
        orders them, never to what a record read before says). With `ending`, it is marked
        as ending for good (no restart policy applies) and thawed if paused, under its lock,
        so no pause freezes it again while it is being ended (its SIGKILL would wait for a
        thaw that never comes). With `removing`, its monitor leaves the release to the
        remover (berth.monitor.cleanup.exec_last_step)."""
        with self.paths.start_lock(record.id):
            current = self.lifecycle.refresh(self.lifecycle.records.get(record.id))
            if ending and current.status in state.ACTIVE:
                run_dir = self.paths.run_dir(record.id)
                run_dir.mkdir(parents=True, exist_ok=True)  # it may have been wiped with /run
                (run_dir / STOP_REQUESTED).touch()
                if removing:
                    (run_dir / REMOVE_REQUESTED).touch()
                if current.status == Status.PAUSED:
                    current = self._thaw(current)
        return current

    def kill(self, record: ContainerRecord, sig: int, *, all_processes: bool = False) -> None:
        configured = record.config.get("StopSignal")
        # As Docker's: this ends the container for good, whatever its restart policy
        # (another signal, when a stop signal is configured, is just a signal).
        ending = not configured or sig in (signal.SIGKILL, signal_number(str(configured)))
        record = self._current(record, ending=False)
        state.check_kill(record.id, record.status)
        if ending:
            record = self._current(record, ending=True)
        self._signal(record, sig, all_processes=all_processes)

    def stop(
        self, record: ContainerRecord, timeout: float | None = None, signal_name: str | None = None
    ) -> ContainerRecord:
        """`signal_name`: instead of the container's stop signal (`stop -s`)."""
        record = self._current(record, ending=True)
        if record.status not in state.ACTIVE:
            return record
        configured = record.config.get("StopTimeout")
        grace = timeout if timeout is not None else 10 if configured is None else configured
        stop_signal = signal_number(
            signal_name or str(record.config.get("StopSignal") or "SIGTERM")
        )
        self._signal(record, stop_signal)
        try:
            stopped = self.wait_exit(record, float(grace))
            if stopped is None:
                self._signal(record, signal.SIGKILL, all_processes=True)
                stopped = self.wait_exit(record, KILL_WAIT_SECONDS)
            if stopped is not None:
                # Its monitor, then the cleanup it execs, release the network: done when stop
                # returns, as Docker's (inspect right after shows no address).
                self._wait_monitor_gone(record)
                self._make_room()
                stopped = self.lifecycle.refresh(self.lifecycle.records.get(record.id))
                self.lifecycle.announce("stop", stopped)
            return stopped or self.lifecycle.refresh(record)
        except NotFound:
            if not record.host_config.get("AutoRemove"):
                raise
            return record.with_state(**state.finished())  # stopped, and removed by its monitor

    def wait_exit(self, record: ContainerRecord, timeout: float | None) -> ContainerRecord | None:
        """The container once it has exited (and will not restart), or None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.001  # a killed container's exit is reported within a few ms
        while True:
            current = self.lifecycle.refresh(self.lifecycle.records.get(record.id))
            if current.status in FINISHED:
                return current
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def wait_removed(self, record: ContainerRecord, timeout: float = 30.0) -> None:
        """Wait while the monitor removes an `--rm` container, as Docker's CLI waits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.lifecycle.records.get(record.id)
            except NotFound:
                return
            time.sleep(0.01)

    def pause(self, record: ContainerRecord) -> None:
        from berth.cgroups import open_cgroup

        with self.paths.start_lock(record.id):
            record = self.lifecycle.refresh(self.lifecycle.records.get(record.id))
            state.check_pause(record.id, record.status)
            if self._stopping(record):
                raise Conflict(f"Container {record.id} is being stopped")
            open_cgroup(record.id, parent=self.paths.cgroup_parent).freeze()
            self.lifecycle.records.save_state(record.with_state(**state.paused()))
        self.lifecycle.announce("pause", record)

    def unpause(self, record: ContainerRecord) -> None:
        with self.paths.start_lock(record.id):
            record = self.lifecycle.refresh(self.lifecycle.records.get(record.id))
            state.check_unpause(record.id, record.status)
            self._thaw(record)
        self.lifecycle.announce("unpause", record)

    def _thaw(self, record: ContainerRecord) -> ContainerRecord:
        from berth.cgroups import open_cgroup

        open_cgroup(record.id, parent=self.paths.cgroup_parent).thaw()
        thawed = record.with_state(**state.unpaused())
        with contextlib.suppress(NoSpace, PermissionDenied):  # ending it on a full disk
            self.lifecycle.records.save_state(thawed)
        return thawed

    def remove(
        self, record: ContainerRecord, *, force: bool = False, volumes: bool = False
    ) -> None:
        """`volumes`: its anonymous volumes go too (`rm -v`, and --rm).

        The container is ended first (and its monitor, with the clean-up it execs, waited
        for) without its lock, which that clean-up takes; what is released and discarded
        is decided under the lock, so a start racing this removal either finished before
        (and its container is ended again) or finds the container gone."""
        lifecycle = self.lifecycle
        while True:
            record = lifecycle.refresh(lifecycle.records.get(record.id))
            state.check_remove(record.id, record.status, force=force)
            if record.status in state.ACTIVE:
                self._end(record)
            self._wait_monitor_gone(record)
            self._announce_end(record)
            with self.paths.start_lock(record.id):
                try:
                    current = lifecycle.refresh(lifecycle.records.get(record.id))
                except NotFound:
                    return  # removed meanwhile: by its own monitor (--rm), say
                if current.status in state.ACTIVE:
                    continue  # started again meanwhile
                self._make_room()
                lifecycle.release(current, cgroup_too=True)
                lifecycle.discard(current)
            break
        if volumes or record.host_config.get("AutoRemove"):
            lifecycle.remove_anonymous_volumes(record)

    def _end(self, record: ContainerRecord) -> None:
        """SIGKILL to every process of a running container, for good, to remove it."""
        record = self._current(record, ending=True, removing=True)
        self._signal(record, signal.SIGKILL, all_processes=True)
        with contextlib.suppress(NotFound):  # an --rm container's monitor may remove it first
            self.wait_exit(record, KILL_WAIT_SECONDS)

    def _signal(self, record: ContainerRecord, sig: int, *, all_processes: bool = False) -> None:
        """Signal the container through the runtime; when the runtime's state is gone (a
        wiped /run), through its cgroup, which is its processes' handle in the store."""
        self.lifecycle.announce("kill", record, signal=str(sig))
        try:
            self.lifecycle.runtime().kill(record.id, sig, all_processes=all_processes)
            return
        except NotFound:
            pass
        except BerthError:
            return
        from berth.cgroups import open_cgroup

        group = open_cgroup(record.id, parent=self.paths.cgroup_parent)
        with contextlib.suppress(BerthError, OSError):
            if all_processes:
                group.kill_all(sig)
            elif (pid := int(record.state.get("Pid") or 0)) in group.pids():
                os.kill(pid, sig)

    def _announce_end(self, record: ContainerRecord) -> None:
        """The oom and die events of a container conmon held, when no one said them yet
        (its exit command leaves a container being removed to its remover at once)."""
        monitors.say_end(self.paths.run_dir(record.id), self.lifecycle.announce, record)

    def _wait_monitor_gone(self, record: ContainerRecord) -> None:
        monitors.wait_gone(self.lifecycle.view.monitor_of(record))
