"""Member-name normalisation and PAX time parsing used by the unpacker."""

from __future__ import annotations

import pytest

from berth.archive.names import clean, parse_ns


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("etc/passwd", "etc/passwd"),
        ("./etc/passwd", "etc/passwd"),
        ("/etc/passwd", "etc/passwd"),
        ("//etc//passwd/", "etc/passwd"),
        ("../evil", "evil"),
        ("../../../../evil", "evil"),
        ("a/b/../../../../c", "c"),
        ("a/./b/../c", "a/c"),
        (".", ""),
        ("./", ""),
        ("/", ""),
        ("..", ""),
        ("a/..", ""),
        ("..a/b..", "..a/b.."),
    ],
)
def test_clean_is_lexical_and_clamped_at_root(name: str, expected: str) -> None:
    assert clean(name) == expected


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1700000000", 1_700_000_000_000_000_000),
        ("1700000000.5", 1_700_000_000_500_000_000),
        ("1700000000.123456789", 1_700_000_000_123_456_789),
        ("1700000000.1234567891234", 1_700_000_000_123_456_789),
        ("-1.5", -1_500_000_000),
        ("0", 0),
    ],
)
def test_parse_ns_is_exact(text: str, ns: int) -> None:
    assert parse_ns(text) == ns
