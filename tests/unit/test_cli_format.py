"""Docker-style output helpers: sizes, durations and tables (templates: test_template.py)."""

from datetime import UTC, datetime

import pytest

from berth import humanize
from berth.cli.tables import render


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (4_261_000, "4.26MB"),
        (123_456_789, "123MB"),
        (1_234_567_890, "1.23GB"),
    ],
)
def test_sizes_are_decimal_with_three_digits(value: int, text: str) -> None:
    assert humanize.size(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (30, "30 seconds"),
        (60, "About a minute"),
        (600, "10 minutes"),
        (3600, "About an hour"),
        (5 * 3600, "5 hours"),
        (3 * 86400, "3 days"),
        (20 * 86400, "2 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_durations_like_go_units(seconds: float, text: str) -> None:
    assert humanize.duration(seconds) == text


def test_since_and_go_time() -> None:
    now = datetime(2024, 1, 15, tzinfo=UTC)
    assert humanize.since("2024-01-01T00:00:00.123456789Z", now) == "2 weeks ago"
    assert humanize.since(None) == "N/A"
    assert humanize.go_time("2024-01-01T10:20:30Z") == "2024-01-01 10:20:30 +0000 UTC"


def test_table_columns_are_padded_like_tabwriter() -> None:
    text = render([["REPOSITORY", "TAG"], ["busybox", "latest"]])
    assert text.splitlines() == ["REPOSITORY   TAG", "busybox      latest"]
