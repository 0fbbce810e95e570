"""Go's predefined template functions, with Go's comparison, indexing and error rules.

A failing function raises InvalidArgument with Go's message; the executor wraps it as
`error calling index: index out of range: 5` at the command's position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from berth.cli.gotemplate import gofmt
from berth.cli.gotemplate.values import MISSING, Function, go_type, truth
from berth.errors import InvalidArgument

Thunk = Callable[[], object]


def _and(*thunks: Thunk) -> object:
    """The first false argument, or the last one; the rest are not evaluated."""
    value: object = MISSING
    for thunk in thunks:
        value = thunk()
        if not truth(value):
            return value
    return value


def _or(*thunks: Thunk) -> object:
    """The first true argument, or the last one; the rest are not evaluated."""
    value: object = MISSING
    for thunk in thunks:
        value = thunk()
        if truth(value):
            return value
    return value


def _is_nil(value: object) -> bool:
    return value is None or value is MISSING


def _length(value: object) -> int:
    if _is_nil(value):
        raise InvalidArgument("len of nil pointer")
    if isinstance(value, str):
        return len(value.encode())  # Go's len counts bytes
    if isinstance(value, (list, tuple, Mapping)):
        return len(value)
    raise InvalidArgument(f"len of type {go_type(value)}")


def _position(index: object, cap: int) -> int:
    if _is_nil(index):
        raise InvalidArgument("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise InvalidArgument(f"cannot index slice/array with type {go_type(index)}")
    if not 0 <= index <= cap:
        raise InvalidArgument(f"index out of range: {index}")
    return index


def map_zero(mapping: Mapping[str, object]) -> object:
    """Go's zero value for a missing key, guessed from the map's values: "" for a map of
    strings (labels, options: Docker's map[string]string), else no value."""
    return "" if all(isinstance(v, str) for v in mapping.values()) else MISSING


def _index(item: object, *indexes: object) -> object:
    """`index x 1 2` is Go's x[1][2]: slices and strings by position, maps by key."""
    if _is_nil(item):
        raise InvalidArgument("index of untyped nil")
    for index in indexes:
        if _is_nil(item):
            raise InvalidArgument("index of nil pointer")
        if isinstance(item, (str, list, tuple)):
            sequence = item.encode() if isinstance(item, str) else item
            position = _position(index, len(sequence))
            if position == len(sequence):
                raise InvalidArgument(f"index out of range: {position}")
            item = sequence[position]
        elif isinstance(item, Mapping):
            if _is_nil(index):
                raise InvalidArgument("value is nil; should be of type string")
            if not isinstance(index, str):
                raise InvalidArgument(f"value has type {go_type(index)}; should be string")
            item = item[index] if index in item else map_zero(item)
        else:
            raise InvalidArgument(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: object, *indexes: object) -> object:
    """`slice x 1 2` is Go's x[1:2] (strings by byte, as Go's)."""
    if _is_nil(item):
        raise InvalidArgument("slice of untyped nil")
    if len(indexes) > 3:
        raise InvalidArgument(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str) and len(indexes) == 3:
        raise InvalidArgument("cannot 3-index slice a string")
    if not isinstance(item, (str, list, tuple)):
        raise InvalidArgument(f"can't slice item of type {go_type(item)}")
    data = item.encode() if isinstance(item, str) else item
    bounds = [0, len(data), len(data)]
    for i, index in enumerate(indexes):
        bounds[i] = _position(index, len(data))
    for low, high in ((bounds[0], bounds[1]), (bounds[1], bounds[2])):
        if low > high:
            raise InvalidArgument(f"invalid slice index: {low} > {high}")
    part = data[bounds[0] : bounds[1]]
    return part.decode("utf-8", "replace") if isinstance(part, bytes) else part


def _kind(value: object) -> str | None:
    """Go's basic kind for comparisons; None for nil, slices and maps."""
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("string", str)):
        if isinstance(value, types):
            return kind
    return None


def _eq(first: object, *others: object) -> bool:
    """`eq a b c` is a == b || a == c; values of different kinds are an error, except nil."""
    if not others:
        raise InvalidArgument("missing argument for comparison")
    kind = _kind(first)
    for other in others:
        if kind != _kind(other):
            if not _is_nil(first) and not _is_nil(other):
                raise InvalidArgument("incompatible types for comparison")
            equal = False
        elif kind is not None:
            equal = first == other
        elif _is_nil(first) or _is_nil(other):
            equal = _is_nil(first) and _is_nil(other)
        else:
            raise InvalidArgument(
                f"non-comparable type {gofmt.format_value(other)}: {go_type(other)}"
            )
        if equal:
            return True
    return False


def _lt(first: object, second: object) -> bool:
    kinds = (_kind(first), _kind(second))
    if None in kinds or "bool" in kinds:
        raise InvalidArgument("invalid type for comparison")
    if kinds[0] != kinds[1]:
        raise InvalidArgument("incompatible types for comparison")
    return bool(first < second)  # type: ignore[operator]


def _joined(args: tuple[object, ...]) -> str:
    """The text html, js and urlquery escape: one string as is, else Go's Sprint."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return gofmt.sprint(args)


def _html(*args: object) -> str:
    text = _joined(args)
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;")):
        text = text.replace(raw, escaped)
    return text.replace("'", "&#39;").replace("\0", "\ufffd")


def _js(*args: object) -> str:
    out = []
    for char in _joined(args):
        if char in "\\'\"":
            out.append("\\" + char)
        elif char in "<>&=" or not char.isprintable():
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def _urlquery(*args: object) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_joined(args), safe="~")


BUILTINS: dict[str, Function] = {
    "and": Function(_and, ("any",), "any", lazy=True),
    "or": Function(_or, ("any",), "any", lazy=True),
    "not": Function(lambda value: not truth(value), ("any",)),
    "len": Function(_length, ("any",)),
    "index": Function(_index, ("any",), "any"),
    "slice": Function(_slice, ("any",), "any"),
    "print": Function(lambda *args: gofmt.sprint(args), (), "any"),
    "println": Function(lambda *args: gofmt.sprintln(args), (), "any"),
    "printf": Function(lambda text, *args: gofmt.sprintf(text, args), ("string",), "any"),
    "eq": Function(_eq, ("any",), "any"),
    "ne": Function(lambda a, b: not _eq(a, b), ("any", "any")),
    "lt": Function(_lt, ("any", "any")),
    "le": Function(lambda a, b: _lt(a, b) or _eq(a, b), ("any", "any")),
    "gt": Function(lambda a, b: not (_lt(a, b) or _eq(a, b)), ("any", "any")),
    "ge": Function(lambda a, b: not _lt(a, b), ("any", "any")),
    "html": Function(_html, (), "any"),
    "js": Function(_js, (), "any"),
    "urlquery": Function(_urlquery, (), "any"),
}
