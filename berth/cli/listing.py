"""`--format` for list commands: the default table, `table TEMPLATE`, `json`, or a template.

Rows are dicts of Docker's field names (`ID`, `Repository`, ...) to printed values; headers
come from a map of the same names, as Docker's formatter builds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from berth.cli.tables import render_tabbed
from berth.cli.template import Template
from berth.errors import BerthError

if TYPE_CHECKING:
    from berth.cli.context import Context


def print_rows(
    out: TextIO,
    rows: Sequence[Mapping[str, Any]],
    fmt: str | None,
    default: str,
    headers: Mapping[str, str],
) -> None:
    """Print rows with a user format, or with `default` (a `table ...` template)."""
    chosen = fmt or default
    if chosen == "table":
        chosen = default
    if chosen == "json":
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
        return
    if chosen.startswith("table"):
        template = Template(chosen[len("table") :].lstrip())
        lines = [template.render(headers)] + [template.render(row) for row in rows]
        text = render_tabbed(lines)
        if text:
            out.write(text + "\n")
        return
    template = Template(chosen)
    for row in rows:
        out.write(template.render(row) + "\n")


def inspect_each(
    ctx: Context, names: Sequence[str], document: Callable[[str], Any], fmt: str | None
) -> int:
    """Docker's `inspect` of several objects: print the documents of those found, report each
    one that isn't (or can't be read), and exit 1 if any failed."""
    documents: list[Any] = []
    failed = False
    for name in names:
        try:
            documents.append(document(name))
        except BerthError as error:
            ctx.stderr.write(f"Error: {error.message}\n")
            failed = True
    if documents or not fmt:
        print_documents(ctx.stdout, documents, fmt)
    return 1 if failed else 0


def print_documents(out: TextIO, documents: Sequence[Any], fmt: str | None) -> None:
    """`inspect` output: a JSON array, or one rendered template per document."""
    if not fmt:
        out.write(json.dumps(list(documents), indent=4, ensure_ascii=False) + "\n")
        return
    if fmt == "json":
        for document in documents:
            out.write(json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n")
        return
    template = Template(fmt)
    for document in documents:
        out.write(template.render(document) + "\n")
