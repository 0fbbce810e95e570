"""Member-name normalisation and PAX time parsing used by the unpacker."""

from __future__ import annotations

import pytest

from berth.archive.names import clean, parse_ns


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (b"etc/passwd", b"etc/passwd"),
        (b"./etc/passwd", b"etc/passwd"),
        (b"/etc/passwd", b"etc/passwd"),
        (b"//etc//passwd/", b"etc/passwd"),
        (b"../evil", b"evil"),
        (b"../../../../evil", b"evil"),
        (b"a/b/../../../../c", b"c"),
        (b"a/./b/../c", b"a/c"),
        (b".", b""),
        (b"./", b""),
        (b"/", b""),
        (b"..", b""),
        (b"a/..", b""),
        (b"..a/b..", b"..a/b.."),
        (b"usr/lib/x.so.1", b"usr/lib/x.so.1"),
        (b"usr/lib/", b"usr/lib"),
        (b"a/.hidden/b", b"a/.hidden/b"),
        (b"a/.../b", b"a/.../b"),
    ],
)
def test_clean_is_lexical_and_clamped_at_root(name: bytes, expected: bytes) -> None:
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
