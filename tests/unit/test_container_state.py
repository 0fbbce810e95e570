"""The container state machine: which operation may run in which status, with Docker's
messages, and the State each transition writes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from berth.container import state
from berth.container.state import ACTIVE, FINISHED, NOT_STARTED, Status
from berth.errors import Conflict

ID = "c" * 64


def test_statuses_are_dockers_words() -> None:
    assert [s.value for s in Status] == [
        "created",
        "running",
        "paused",
        "restarting",
        "exited",
        "dead",
        "removing",
    ]
    assert ACTIVE.isdisjoint(FINISHED)
    assert state.status_of({"Status": "paused"}) is Status.PAUSED
    assert state.status_of({}) is Status.CREATED
    assert state.status_of({"Status": "bogus"}) is Status.DEAD


def test_start_has_work_only_for_a_container_that_is_not_running() -> None:
    for status in (Status.CREATED, Status.EXITED):
        assert state.check_start(ID, status) is True
    for status in (Status.RUNNING, Status.RESTARTING):
        assert state.check_start(ID, status) is False
    with pytest.raises(Conflict, match="try unpause instead"):
        state.check_start(ID, Status.PAUSED)
    with pytest.raises(Conflict, match="marked for removal"):
        state.check_start(ID, Status.REMOVING)


@pytest.mark.parametrize(
    ("check", "allowed", "message"),
    [
        (state.check_kill, {Status.RUNNING, Status.RESTARTING}, "is not running"),
        (state.check_running, {Status.RUNNING, Status.PAUSED}, "is not running"),
        (state.check_unpause, {Status.PAUSED}, "is not paused"),
    ],
)
def test_checks_allow_exactly_their_statuses(
    check: Callable[[str, Status], None], allowed: set[Status], message: str
) -> None:
    for status in Status:
        if status in allowed:
            check(ID, status)
        else:
            with pytest.raises(Conflict, match=message):
                check(ID, status)


def test_pause_and_exec_say_why_they_refuse() -> None:
    state.check_pause(ID, Status.RUNNING)
    with pytest.raises(Conflict, match="already paused"):
        state.check_pause(ID, Status.PAUSED)
    with pytest.raises(Conflict, match="is not running"):
        state.check_pause(ID, Status.EXITED)
    state.check_exec(ID, Status.RUNNING)
    with pytest.raises(Conflict, match="unpause the container before exec"):
        state.check_exec(ID, Status.PAUSED)
    with pytest.raises(Conflict, match="is not running"):
        state.check_exec(ID, Status.CREATED)


def test_remove_needs_force_only_while_active() -> None:
    for status in Status:
        state.check_remove(ID, status, force=True)
        if status in ACTIVE:
            with pytest.raises(Conflict, match=f"cannot remove a {status} container"):
                state.check_remove(ID, status, force=False)
        else:
            state.check_remove(ID, status, force=False)


def test_a_failed_start_keeps_a_never_run_container_created() -> None:
    fresh = state.initial_state()
    assert fresh["StartedAt"] == NOT_STARTED
    assert state.start_failed(fresh, "no", 125)["Status"] == Status.CREATED
    ran = {**fresh, "StartedAt": "2026-01-01T00:00:00Z"}
    assert state.start_failed(ran, "no", 125)["Status"] == Status.EXITED
    assert state.process_failed("not found", 127, "now")["Status"] == Status.EXITED
    assert state.process_failed("engine", 125, "now")["Status"] == Status.CREATED


def test_pause_and_finish_write_consistent_flags() -> None:
    assert state.paused() == {"Status": "paused", "Paused": True}
    assert state.unpaused() == {"Status": "running", "Paused": False}
    done = state.finished()
    assert done["Status"] == "exited" and not done["Running"] and done["Pid"] == 0
