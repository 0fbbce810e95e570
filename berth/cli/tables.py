"""Column output as Docker's tabwriter lays it out: min width 10, padding 3."""

from __future__ import annotations

from collections.abc import Sequence

MIN_WIDTH = 10
PADDING = 3


def render(rows: Sequence[Sequence[str]]) -> str:
    """Align cells (the first row is usually the header); the last column is not padded."""
    if not rows:
        return ""
    columns = max(len(row) for row in rows)
    widths = [
        max(MIN_WIDTH, max(len(row[i]) for row in rows if i < len(row)) + PADDING)
        for i in range(columns)
    ]
    lines = []
    for row in rows:
        cells = [cell if i == len(row) - 1 else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def render_tabbed(lines: Sequence[str]) -> str:
    """Lines whose cells are separated by tabs (from a `table` format) aligned as columns."""
    return render([line.split("\t") for line in lines])
