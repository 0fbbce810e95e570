"""A JSON body's fields, read with the types Docker's Go structs give them.

Go's decoder is the model: a field's name matches whatever its case, `null` is the zero value,
and a value of another type is the request's fault (400, nothing done). Unlike Go's decoder,
a field the route does not know is refused as well: ignoring it would drop a setting the
client believes it made (a misspelt "Lables", a field of a newer API) without a word.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from berth.errors import InvalidArgument

_JSON_KINDS = {bool: "bool", str: "string", int: "number", float: "number", list: "array"}


def _kind(value: Any) -> str:
    return _JSON_KINDS.get(type(value), "object")


class Fields:
    """The fields of one JSON object; `where` names it in errors (`NetworkCreateRequest`)."""

    def __init__(self, document: Any, known: Iterable[str], where: str) -> None:
        if not isinstance(document, dict):
            raise InvalidArgument(
                f"invalid JSON: cannot unmarshal {_kind(document)} into {where} of type object"
            )
        names = {name.lower(): name for name in known}
        self.where = where
        self._values: dict[str, Any] = {}
        for key, value in document.items():
            name = names.get(key.lower())
            if name is None:
                raise InvalidArgument(f"invalid JSON: unknown field {key!r} in {where}")
            if value is not None:
                self._values[name] = value

    def _typed(self, name: str, kind: type, type_name: str) -> Any:
        value = self._values.get(name)
        if value is not None and type(value) is not kind:
            raise InvalidArgument(
                f"invalid JSON: cannot unmarshal {_kind(value)} into {self.where}.{name} "
                f"of type {type_name}"
            )
        return value

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def string(self, name: str) -> str:
        return str(self._typed(name, str, "string") or "")

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._typed(name, bool, "bool")
        return default if value is None else bool(value)

    def strings(self, name: str) -> list[str]:
        """A `[]string`; a null item is Go's empty string."""
        items = self._typed(name, list, "[]string") or []
        for item in items:
            if item is not None and not isinstance(item, str):
                raise InvalidArgument(
                    f"invalid JSON: cannot unmarshal {_kind(item)} into {self.where}.{name} "
                    "of type string"
                )
        return [item or "" for item in items]

    def string_map(self, name: str) -> dict[str, str]:
        """A `map[string]string`; a null value is Go's empty string."""
        document = self._typed(name, dict, "map[string]string") or {}
        for value in document.values():
            if value is not None and not isinstance(value, str):
                raise InvalidArgument(
                    f"invalid JSON: cannot unmarshal {_kind(value)} into {self.where}.{name} "
                    "of type string"
                )
        return {str(key): value or "" for key, value in document.items()}

    def object(self, name: str, known: Iterable[str]) -> Fields:
        """A nested struct (its fields all zero when absent)."""
        value = self._values.get(name)
        return Fields({} if value is None else value, known, f"{self.where}.{name}")

    def objects(self, name: str, known: Iterable[str]) -> list[Fields]:
        """A slice of structs."""
        items = self._typed(name, list, "array") or []
        return [
            Fields({} if item is None else item, known, f"{self.where}.{name}[{index}]")
            for index, item in enumerate(items)
        ]
