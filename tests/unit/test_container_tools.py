"""Pure parts of top, stats and container prune: ps output filtering, Docker's binary sizes
and the `until` filter's times."""

from __future__ import annotations

import time

import pytest

from berth.cli.commands.container_prune import parse_filters, until_time
from berth.cli.commands.stats import binary_size
from berth.engine.container_admin import parse_ps
from berth.errors import InvalidArgument

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


def test_until_times() -> None:
    now = time.time()
    assert abs(until_time("1h30m") - (now - 5400)) < 5
    assert until_time("1700000000") == 1700000000
    assert until_time("2000-01-01T00:00:00Z") == 946684800
    with pytest.raises(InvalidArgument):
        until_time("yesterday")


def test_prune_filters() -> None:
    labels, until = parse_filters(["label=a=b", "label!=c", "label!=d=e", "until=10m"])
    assert labels == ["a=b", "c!", "d!=e"]
    assert until is not None and until < time.time()
    with pytest.raises(InvalidArgument):
        parse_filters(["status=exited"])
