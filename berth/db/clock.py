"""Rows' timestamps: RFC 3339 in UTC, as Docker prints times; they sort as text. Apart from
the database module so that the quick paths (berth.db.direct) write them without its imports."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    """A row's timestamp: RFC 3339 in UTC, as Docker prints times."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def stamp(seconds: float) -> str:
    """A Unix time as a row's timestamp (`now()`'s format, which sorts as text), to compare
    stored times with in SQL."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
