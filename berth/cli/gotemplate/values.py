"""How Go sees berth's values: types, truth, structs and maps, and callable functions.

Berth's data are JSON values (dict, list, str, int, float, bool, None). Docker's CLI runs
templates on Go structs (typed) and falls back to decoded JSON maps; a dict whose keys are
all Go field names (`HostConfig`, `ID`) plays a struct, any other dict (labels, ports,
networks) a map. MISSING is Go's invalid value: a map's missing key, printed `<no value>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


class Function:
    """A function or method a template can call.

    `params` are Go's parameter kinds ("any", "string", "int": they decide how arguments are
    checked and constants converted), `variadic` the kind of any further ones. A lazy
    function (Go's `and`/`or`) gets its arguments as thunks and evaluates what it needs.
    """

    __slots__ = ("call", "lazy", "params", "variadic")

    def __init__(
        self,
        call: Callable[..., object],
        params: tuple[str, ...] = (),
        variadic: str | None = None,
        *,
        lazy: bool = False,
    ) -> None:
        self.call = call
        self.params = params
        self.variadic = variadic
        self.lazy = lazy


def is_struct(value: Mapping[str, object]) -> bool:
    """Does this dict stand for a Go struct? Yes when every key is an exported Go name."""
    return bool(value) and all(
        key[:1].isupper() and key.isidentifier() and key.isascii() for key in value
    )


def go_type(value: object) -> str:
    """Go's name for the type of a value, as its error messages print it."""
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    if isinstance(value, Mapping):
        return "map[string]interface {}"  # as Docker's JSON fallback decodes any object
    return "func"


def truth(value: object) -> bool:
    """Go's truth: false, 0, nil, and empty strings, slices and maps are false."""
    if value is MISSING or value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, Mapping)):
        return bool(value)
    return True
