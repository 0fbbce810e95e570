"""Pure parts of top, stats and the prunes: ps output filtering, Docker's binary sizes,
and the prune filters' `until` times and label conditions."""

from __future__ import annotations

import time

import pytest

from berth.cli.commands.stats import binary_size
from berth.container.top import parse_ps
from berth.engine.containers import PRUNE_FILTERS
from berth.errors import InvalidArgument
from berth.filters import Filters

PS_OUTPUT = """\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init splash
root         200       1  0 10:01 ?        00:00:00 sleep 60
nobody       300     200  0 10:02 pts/0    00:00:00 sh -c echo a  b
"""


def test_parse_ps_keeps_the_groups_lines_and_the_commands_spaces() -> None:
    titles, rows = parse_ps(PS_OUTPUT, {200, 300})
    assert titles == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert [row[1] for row in rows] == ["200", "300"]
    assert rows[1][-1] == "sh -c echo a  b"


def test_parse_ps_needs_a_pid_column() -> None:
    with pytest.raises(InvalidArgument, match="Couldn't find PID field"):
        parse_ps("USER COMMAND\nroot init\n", {1})


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0B"), (528 * 1024, "528KiB"), (64 * 1024 * 1024, "64MiB"), (25_275_600_000, "23.54GiB")],
)
def test_binary_size(value: int, text: str) -> None:
    assert binary_size(value) == text


def _until(text: str) -> float | None:
    return Filters.from_cli([f"until={text}"]).time("until")


def test_until_times() -> None:
    now = time.time()
    until = _until("1h30m")
    assert until is not None and abs(until - (now - 5400)) < 5
    assert _until("1700000000") == 1700000000
    assert _until("2000-01-01T00:00:00Z") == 946684800
    with pytest.raises(InvalidArgument):
        _until("yesterday")


def test_prune_filters() -> None:
    filters = Filters.from_cli(["label=a=b", "label!=c", "label!=d=e", "until=10m"])
    filters.only(PRUNE_FILTERS)
    assert filters.labels({"a": "b"})
    assert not filters.labels({"a": "other"})
    assert filters.labels({"a": "b", "c": ""})  # label! drops only what matches all of them
    assert not filters.labels({"a": "b", "c": "", "d": "e"})
    until = filters.time("until")
    assert until is not None and until < time.time()
    with pytest.raises(InvalidArgument):
        Filters.from_cli(["status=exited"]).only(PRUNE_FILTERS)
