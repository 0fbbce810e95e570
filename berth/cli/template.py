"""`--format` templates as the docker CLI runs them: Go's text/template (berth.cli.gotemplate)
with Docker's functions json, split, join, title, lower, upper, pad and truncate, and its
error wording, `template parsing error: template: :1: unclosed action`.

A `table` header is the same template run on the column names with Docker's header
functions: json, split, join, title, lower, upper and truncate leave a name as it is (pad
and printf still apply, so columns stay aligned), and an error just ends the header.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping

from berth.cli.gotemplate import gofmt
from berth.cli.gotemplate.execute import execute
from berth.cli.gotemplate.functions import BUILTINS
from berth.cli.gotemplate.parser import parse
from berth.cli.gotemplate.values import MISSING, Function, go_type, is_struct
from berth.errors import InvalidArgument


def to_json(value: object) -> str:
    """Go's encoding/json without HTML escaping (Docker's `json`): struct-like dicts keep
    their order, maps sort their keys, methods are left out."""
    import json

    if value is None or value is MISSING:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    if isinstance(value, Mapping):
        keys = list(value) if is_struct(value) else sorted(value)
        pairs = (
            f"{to_json(str(key))}:{to_json(value[key])}"
            for key in keys
            if not isinstance(value[key], Function)
        )
        return "{" + ",".join(pairs) + "}"
    return "null"


def _json_float(value: float) -> str:
    if math.isinf(value) or math.isnan(value):
        raise InvalidArgument(f"json: unsupported value: {gofmt.format_value(value)}")
    return gofmt.json_float(value)


def _join(items: object, separator: str) -> str:
    if items is None or items is MISSING:
        return ""
    if isinstance(items, (list, tuple)):
        return separator.join(gofmt.format_value(item) for item in items)
    if isinstance(items, Mapping):
        return separator.join(sorted(gofmt.format_value(item) for item in items.values()))
    raise InvalidArgument(f"expected slice, got {go_type(items)}")


def _title(text: str) -> str:
    """Go's strings.Title: upper-case each letter that follows a separator."""
    out = []
    previous = " "
    for char in text:
        ascii_separator = previous.isascii() and not (previous.isalnum() or previous == "_")
        separator = ascii_separator or previous.isspace()
        titled = char.title() if separator else char
        out.append(titled if len(titled) == 1 else char)
        previous = char
    return "".join(out)


def _pad(text: str, before: int, after: int) -> str:
    return " " * before + text + " " * after if text else text


def _truncate(text: str, length: int) -> str:
    data = text.encode()  # Go counts bytes
    return text if len(data) < length else data[:length].decode("utf-8", "replace")


def _split(text: str, separator: str) -> list[str]:
    return list(text) if not separator else text.split(separator)


FUNCTIONS: dict[str, Function] = {
    **BUILTINS,
    "json": Function(to_json, ("any",)),
    "split": Function(_split, ("string", "string")),
    "join": Function(_join, ("any", "string")),
    "title": Function(_title, ("string",)),
    "lower": Function(str.lower, ("string",)),
    "upper": Function(str.upper, ("string",)),
    "pad": Function(_pad, ("string", "int", "int")),
    "truncate": Function(_truncate, ("string", "int")),
}
_SAME = Function(lambda name: name, ("string",))
HEADER_FUNCTIONS: dict[str, Function] = {
    **FUNCTIONS,
    "json": _SAME,
    "split": Function(lambda name, _: name, ("string", "string")),
    "join": Function(lambda name, _: name, ("string", "string")),
    "title": _SAME,
    "lower": _SAME,
    "upper": _SAME,
    "truncate": Function(lambda name, _: name, ("string", "int")),
}


class Template:
    """A parsed `--format` template (parse errors are raised here, before any work)."""

    def __init__(self, source: str, name: str = "") -> None:
        self.source = source
        self.name = name
        try:
            self.nodes = parse(source, name, FUNCTIONS)
        except InvalidArgument as error:
            raise InvalidArgument(f"template parsing error: {error.message}") from None

    def render(self, dot: object) -> str:
        """The template's output for one document or row."""
        out: list[str] = []
        try:
            self._execute(dot, FUNCTIONS, out)
        except InvalidArgument as error:
            raise InvalidArgument(f"template parsing error: {error.message}") from None
        return "".join(out)

    def render_header(self, headers: Mapping[str, object]) -> str:
        """A `table` header from the column names; output up to an error is kept, as Docker's."""
        out: list[str] = []
        with contextlib.suppress(InvalidArgument):
            self._execute(headers, HEADER_FUNCTIONS, out)
        return "".join(out)

    def _execute(self, dot: object, functions: Mapping[str, Function], out: list[str]) -> None:
        execute(self.nodes, dot, name=self.name, source=self.source, functions=functions, out=out)
