"""A request as routes see it, and the replies they return.

Query parameters are read in Docker's terms: a boolean is true unless empty, `0`, `no`,
`false` or `none` (moby's `httputils.BoolValue`); filters are the `filters` JSON.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs

from berth import jsonio
from berth.api.shared import Shared
from berth.api.versions import Version
from berth.api.wire import Headers, HttpConnection
from berth.errors import InvalidArgument

if TYPE_CHECKING:
    from berth.api.engines import EnginePool
    from berth.engine import Engine
    from berth.filters import Filters
    from berth.layout import Layout

MAX_JSON_BODY = 16 * 1024 * 1024
_FALSE = ("", "0", "no", "false", "none")


class Reply(NamedTuple):
    """A whole response: a status, headers and a body."""

    status: int
    body: bytes = b""
    headers: Headers = []


class Stream(NamedTuple):
    """A response written as its chunks come (see `HttpConnection.stream`)."""

    chunks: Iterable[bytes]
    content_type: str = "application/json"
    status: int = 200
    headers: Headers = []  # more than the content type (GET archive's path stat)


class Hijacked(NamedTuple):
    """The route took the connection over; nothing more is written on it."""


Answer = Reply | Stream | Hijacked


def json_reply(value: Any, status: int = 200) -> Reply:
    return Reply(status, jsonio.dumps(value), [("Content-Type", "application/json")])


def no_content(status: int = 204) -> Reply:
    return Reply(status)


class Request:
    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        version: Version,
        connection: HttpConnection,
        session: Session,
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers  # names in lower case
        self.version = version
        self.connection = connection
        self.session = session
        self.params: dict[str, str] = {}
        self._query = parse_qs(query, keep_blank_values=True)

    @property
    def engine(self) -> Engine:
        return self.session.engine

    @property
    def wants_upgrade(self) -> bool:
        """A hijacking client (attach, exec start) asks `Connection: Upgrade`, `Upgrade: tcp`."""
        tokens = self.headers.get("connection", "").lower().replace(" ", "").split(",")
        return "upgrade" in tokens and "upgrade" in self.headers

    @property
    def shared(self) -> Shared:
        return self.session.shared

    @property
    def stopping(self) -> threading.Event:
        """Set when the server stops: a long stream ends at its next chance."""
        return self.session.shared.stopping

    # -- the query ---------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name in self._query

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self._query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return list(self._query.get(name, ()))

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        if value is None:
            return default
        return value.strip().lower() not in _FALSE

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise InvalidArgument(f"invalid value for {name}: {value!r}") from None

    def filters(self) -> Filters:
        from berth.filters import Filters

        return Filters.from_json(self.arg("filters"))

    # -- the body ----------------------------------------------------------------------------

    def json(self, *, required: bool = True) -> Any:
        """The body as JSON (Docker accepts an empty body where a route's fields are all
        optional: None then)."""
        body = self.connection.read_body(MAX_JSON_BODY)
        if not body.strip():
            if required:
                raise InvalidArgument("the request needs a JSON body")
            return None
        try:
            return json.loads(body, parse_int=_int64, parse_constant=_no_constant)
        except (ValueError, RecursionError) as error:
            raise InvalidArgument(f"invalid JSON: {error}") from None

    def json_object(self, *, required: bool = True) -> dict[str, Any]:
        document = self.json(required=required)
        if document is None:
            return {}
        if not isinstance(document, dict):
            raise InvalidArgument("invalid JSON: expected an object")
        return document


def _int64(text: str) -> int:
    """An integer as Go's decoder takes one: what doesn't fit 64 bits is refused, as dockerd
    refuses it (and every codec berth reads its store with agrees on what is stored)."""
    value = int(text)
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"number {text} out of range")
    return value


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


class Session:
    """What the requests of one connection share: the store, opened on first use (or taken
    from the engines an earlier connection gave back), and what the whole server shares."""

    def __init__(self, engines: EnginePool, shared: Shared) -> None:
        self.engines = engines
        self.layout: Layout = engines.layout
        self.shared = shared
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self.engines.take()
        return self._engine

    def close(self, *, reusable: bool = False) -> None:
        """`reusable`: the connection ended cleanly, so its engine may serve another."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            self.engines.give(engine, reusable=reusable)


Handler = Callable[[Request], Answer]
