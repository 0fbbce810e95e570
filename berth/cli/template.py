"""The subset of Go's text/template that `docker --format` users rely on.

Supported: `{{.Field.Sub}}`, `{{.}}`, pipelines with `|`, string/number literals, `{{if}}`
/`{{else}}`/`{{range}}`/`{{with}}`/`{{end}}`, trim markers `{{-`/`-}}`, and Docker's
functions json, join, split, lower, upper, title, index, len, print, println, printf,
truncate, pad. A field that doesn't exist is an error, as in Go.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from berth.errors import InvalidArgument

_ACTION_RE = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


def go_string(value: Any) -> str:
    """How Go's fmt prints a value inside a template."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_string(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _index(container: Any, *keys: Any) -> Any:
    for key in keys:
        try:
            container = container[key]
        except (KeyError, IndexError, TypeError):
            return None
    return container


def _printf(fmt: str, *args: Any) -> str:
    converted = re.sub(r"%v|%s|%d|%q", "%s", fmt)
    return converted % tuple(go_string(a) for a in args)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "join": lambda items, sep: sep.join(go_string(i) for i in items or []),
    "split": lambda text, sep: text.split(sep),
    "lower": lambda text: str(text).lower(),
    "upper": lambda text: str(text).upper(),
    "title": lambda text: str(text).title(),
    "index": _index,
    "len": lambda value: len(value or []),
    "print": lambda *args: "".join(go_string(a) for a in args),
    "println": lambda *args: " ".join(go_string(a) for a in args) + "\n",
    "printf": _printf,
    "truncate": lambda text, length: str(text)[: int(length)],
    "pad": lambda text, left, right: " " * int(left) + str(text) + " " * int(right),
}


class _Node:
    """A parsed piece of a template: text, an action, or a block with its branches."""

    __slots__ = ("alternative", "body", "kind", "value")

    def __init__(self, kind: str, value: str = "") -> None:
        self.kind = kind  # "text", "expr", "if", "range", "with"
        self.value = value
        self.body: list[_Node] = []
        self.alternative: list[_Node] = []


def _parse(source: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node | None, list[_Node]]] = [(None, root)]
    position = 0
    pending_trim = False
    for match in _ACTION_RE.finditer(source):
        text = source[position : match.start()]
        if pending_trim:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        if text:
            stack[-1][1].append(_Node("text", text))
        pending_trim = bool(match.group(3))
        position = match.end()
        action = match.group(2).strip()
        word = action.split(None, 1)[0] if action else ""
        if word in ("if", "range", "with"):
            node = _Node(word, action[len(word) :].strip())
            stack[-1][1].append(node)
            stack.append((node, node.body))
        elif word == "else":
            owner = stack[-1][0]
            if owner is None:
                raise InvalidArgument("template: unexpected {{else}}")
            stack[-1] = (owner, owner.alternative)
        elif word == "end":
            if len(stack) == 1:
                raise InvalidArgument("template: unexpected {{end}}")
            stack.pop()
        elif action.startswith("/*"):
            continue
        else:
            stack[-1][1].append(_Node("expr", action))
    if len(stack) != 1:
        raise InvalidArgument("template: unexpected EOF (missing {{end}})")
    tail = source[position:]
    if "{{" in tail:
        raise InvalidArgument("template: unclosed action")
    if pending_trim:
        tail = tail.lstrip()
    if tail:
        root.append(_Node("text", tail))
    return root


def _field(value: Any, path: str, expression: str) -> Any:
    for name in path.split(".")[1:]:
        if not name:
            continue
        if isinstance(value, Mapping) and name in value:
            value = value[name]
        elif value is not None and not isinstance(value, Mapping) and hasattr(value, name):
            value = getattr(value, name)
        else:
            raise InvalidArgument(
                f'template: executing "" at <{expression}>: can\'t evaluate field {name}'
            )
    return value


def _operand(token: str, dot: Any, expression: str) -> Any:
    if token.startswith("."):
        return _field(dot, token, expression)
    if token.startswith('"') or token.startswith("`"):
        return token[1:-1].encode().decode("unicode_escape") if token[0] == '"' else token[1:-1]
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    if token in ("true", "false"):
        return token == "true"
    if token == "nil":
        return None
    raise InvalidArgument(f'template: function "{token}" not defined')


def _command(words: Sequence[str], dot: Any, piped: list[Any], expression: str) -> Any:
    head, *rest = words
    if head in FUNCTIONS:
        args = [_operand(w, dot, expression) for w in rest] + piped
        try:
            return FUNCTIONS[head](*args)
        except TypeError:
            raise InvalidArgument(f"template: wrong number of args for {head}") from None
    if rest or piped:
        raise InvalidArgument(f"template: can't give argument to non-function {head}")
    return _operand(head, dot, expression)


_PIPELINES: dict[str, list[list[str]]] = {}


def _pipeline(expression: str) -> list[list[str]]:
    """An action's commands, split into words once per template (rows reuse them)."""
    cached = _PIPELINES.get(expression)
    if cached is not None:
        return cached
    commands = []
    for segment in expression.split("|"):
        try:
            words = shlex.split(segment.replace("\\", "\\\\"), posix=False)
        except ValueError:
            raise InvalidArgument(f"template: malformed action {{{{{expression}}}}}") from None
        if not words:
            raise InvalidArgument(f"template: missing value for command in {{{{{expression}}}}}")
        commands.append(words)
    _PIPELINES[expression] = commands
    return commands


def _evaluate(expression: str, dot: Any) -> Any:
    commands = _pipeline(expression)
    if len(commands) == 1 and len(commands[0]) == 1 and commands[0][0].startswith("."):
        return _field(dot, commands[0][0], expression)  # the common `{{.Field}}`
    piped: list[Any] = []
    for words in commands:
        piped = [_command(words, dot, piped, expression)]
    return piped[0]


def _truthy(value: Any) -> bool:
    return bool(value)


def _execute(nodes: list[_Node], dot: Any, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "expr":
            out.append(go_string(_evaluate(node.value, dot)))
        else:
            value = _evaluate(node.value, dot)
            if node.kind == "if":
                _execute(node.body if _truthy(value) else node.alternative, dot, out)
            elif node.kind == "with":
                if _truthy(value):
                    _execute(node.body, value, out)
                else:
                    _execute(node.alternative, dot, out)
            elif value:
                items = sorted(value.items()) if isinstance(value, Mapping) else value
                for item in items:
                    _execute(node.body, item[1] if isinstance(value, Mapping) else item, out)
            else:
                _execute(node.alternative, dot, out)


class Template:
    def __init__(self, source: str) -> None:
        self.source = source.replace("\\t", "\t").replace("\\n", "\n")
        self.nodes = _parse(self.source)

    def render(self, dot: Any) -> str:
        out: list[str] = []
        _execute(self.nodes, dot, out)
        return "".join(out)
