"""Reading JSON columns: a value damaged on disk (a torn write, a bad block, a hand edit)
costs its row, never the store (every listing reads every row)."""

from __future__ import annotations

from typing import Any

from berth import jsonio


def decoded(text: object, kind: type = dict) -> Any | None:
    """The column's JSON value if it is a `kind`, else None (damaged)."""
    try:
        value = jsonio.loads(str(text))
    except (ValueError, TypeError, RecursionError):
        return None
    return value if isinstance(value, kind) else None
