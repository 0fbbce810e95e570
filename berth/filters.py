"""Docker's filter arguments, one shape for both front ends: `--filter key=value` on the CLI
and the `filters` query parameter of the Engine API (`{"key": ["value"]}`, or the older
`{"key": {"value": true}}`). Each listing checks the keys it accepts (`only`) and asks
questions in Docker's terms: any value matches (`any`), every label condition holds
(`labels`), a boolean (`dangling`), a time (`until`).

Stdlib and the bottom layer only: the CLI's `ps` imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from berth.errors import InvalidArgument

_TRUE = ("true", "1")
_FALSE = ("false", "0")


class Filters:
    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Iterable[str]] | None = None) -> None:
        self._values: dict[str, list[str]] = {k: list(v) for k, v in (values or {}).items()}

    @classmethod
    def from_cli(cls, items: Iterable[str]) -> Filters:
        """`--filter` words, each `key=value` (the value may hold more `=`: `label=a=b`)."""
        values: dict[str, list[str]] = {}
        for item in items:
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
            values.setdefault(key.strip().lower(), []).append(value)
        return cls(values)

    @classmethod
    def from_json(cls, text: str | None) -> Filters:
        """The API's `filters` parameter: JSON `{"key": ["v", ...]}` or `{"key": {"v": true}}`."""
        if not text:
            return cls()
        import json

        try:
            document = json.loads(text)
        except ValueError as error:
            raise InvalidArgument(f"invalid filters: {error}") from None
        if not isinstance(document, dict):
            raise InvalidArgument("invalid filters: expected a JSON object")
        values: dict[str, list[str]] = {}
        for key, given in document.items():
            if isinstance(given, list) and all(isinstance(v, str) for v in given):
                values[str(key)] = list(given)
            elif isinstance(given, dict):
                values[str(key)] = [str(v) for v, on in given.items() if on]
            else:
                raise InvalidArgument(f"invalid filters: the value of {key!r} is not a list")
        return cls(values)

    def only(self, accepted: Iterable[str]) -> Filters:
        """This, if every key is one the listing accepts (Docker's `invalid filter 'KEY'`)."""
        allowed = set(accepted)
        for key in self._values:
            if key not in allowed:
                raise InvalidArgument(f"invalid filter '{key}'")
        return self

    def adding(self, key: str, value: str) -> Filters:
        """These filters with one more value for `key` (a filter an older API implies)."""
        return Filters({**self._values, key: [*self._values.get(key, ()), value]})

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def __bool__(self) -> bool:
        return bool(self._values)

    def get(self, key: str) -> list[str]:
        return list(self._values.get(key, ()))

    def any(self, key: str, predicate: Callable[[str], bool]) -> bool:
        """True when the key is absent or one of its values satisfies `predicate` (Docker ORs
        the values of one key and ANDs the keys)."""
        values = self._values.get(key)
        return values is None or any(predicate(value) for value in values)

    def match(self, key: str, *texts: str) -> bool:
        """Docker's `Match` (names): true when the key is absent or one of its values equals
        one of `texts` or is a regular expression found in one (`name=^db$` is exact); a
        value that is not a valid expression only matches exactly."""
        values = self._values.get(key)
        if values is None:
            return True
        import re

        for value in values:
            try:
                pattern = re.compile(value)
            except re.error:
                pattern = None
            for text in texts:
                if value == text or (pattern is not None and pattern.search(text)):
                    return True
        return False

    def labels(self, labels: Mapping[str, str] | None, key: str = "label") -> bool:
        """Every `key` condition holds: `NAME` (present) or `NAME=VALUE`; and, for the prunes'
        `label!=...`, not every one of the `key!` conditions holds (moby's MatchKVList)."""
        present = labels or {}

        def holds(condition: str) -> bool:
            name, eq, value = condition.partition("=")
            return name in present and (not eq or present[name] == value)

        negated = self._values.get(key + "!", ())
        return all(holds(c) for c in self._values.get(key, ())) and not (
            negated and all(holds(c) for c in negated)
        )

    def boolean(self, key: str) -> bool | None:
        """The last value of a true/false key (`dangling=true`), None when absent."""
        values = self._values.get(key)
        if not values:
            return None
        value = values[-1].lower()
        if value not in _TRUE + _FALSE:
            raise InvalidArgument(f"invalid filter '{key}={values[-1]}'")
        return value in _TRUE

    def time(self, key: str) -> float | None:
        """A time key (`until`) as a Unix time: Docker's durations, timestamps or dates."""
        values = self._values.get(key)
        if not values:
            return None
        from berth.humanize import moment

        found = moment(values[-1])
        if found is None:
            raise InvalidArgument(f"invalid filter '{key}={values[-1]}'")
        return found
