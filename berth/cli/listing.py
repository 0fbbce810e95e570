"""`--format` for list commands: the default table, `table TEMPLATE`, `json`, or a template;
and for `inspect`: an indented JSON array, `json` (compact), or a template per document.

Rows are dicts of Docker's field names (`ID`, `Repository`, ...) to printed values, and
`Label` (a method: `{{.Label "com.example"}}`) where Docker's rows have one; headers come
from a map of the same names, as Docker's formatter builds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from berth.cli.gotemplate.values import Function
from berth.cli.tables import render_tabbed
from berth.cli.template import Template
from berth.errors import BerthError

if TYPE_CHECKING:
    from berth.cli.context import Context

# The header of a `.Label "com.example.some_name"` column: "some name", as Docker's.
_HEADER_LABEL = Function(
    lambda name: name.rsplit(".", 1)[-1].replace("-", " ").replace("_", " "), ("string",)
)


def label_method(labels: Mapping[str, str]) -> Function:
    """A row's `.Label "name"`: that label's value, "" if the object has no such label."""
    return Function(lambda name: labels.get(name, ""), ("string",))


def print_rows(
    out: TextIO,
    rows: Sequence[Mapping[str, Any]],
    fmt: str | None,
    default: str,
    headers: Mapping[str, str],
) -> None:
    """Print rows with a user format, or with `default` (a `table ...` template), as
    Docker's formatter does: `json` is `{{json .}}` (keys sorted), `table` adds a header
    line and aligns the columns, and a `\\t` or `\\n` written in the format is a tab or a
    newline."""
    chosen = fmt or default
    if chosen == "table":
        chosen = default
    if chosen == "json":
        chosen = "{{json .}}"
    table = chosen.startswith("table")
    text = chosen.removeprefix("table").strip(" ")
    template = Template(text.replace("\\t", "\t").replace("\\n", "\n"))
    lines = [template.render(dict(sorted(row.items()))) for row in rows]
    if not table:
        for line in lines:
            out.write(line + "\n")
        return
    header = template.render_header({**headers, "Label": _HEADER_LABEL})
    aligned = render_tabbed("\n".join([header, *lines]).split("\n"))
    if aligned:
        out.write(aligned + "\n")


def inspect_each(
    ctx: Context, names: Sequence[str], document: Callable[[str], Any], fmt: str | None
) -> int:
    """Docker's `inspect` of several objects: print the documents of those found, report each
    one that isn't (or can't be read), and exit 1 if any failed. A template that doesn't
    parse fails before any lookup, as Docker's."""
    if fmt:
        Template(fmt)  # a template that doesn't parse fails before any lookup
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
    """`inspect` output: an indented JSON array, `json` as one compact array, or the
    template once per document (a `\\t` written in it stays as it is, as Docker's)."""
    if not fmt or fmt == "json":
        indent = None if fmt else 4
        separators = (",", ":") if fmt else None
        text = json.dumps(list(documents), indent=indent, separators=separators, ensure_ascii=False)
        out.write(text + "\n")
        return
    template = Template(fmt)
    for document in documents:
        out.write(template.render(document) + "\n")


def print_document(out: TextIO, document: Any, fmt: str, *, name: str = "") -> None:
    """`version`/`info --format`: the template, `json` being `{{json .}}` (`name` is the
    template's, in its errors: Docker's `version`)."""
    out.write(Template("{{json .}}" if fmt == "json" else fmt, name).render(document))
    out.write("\n")
