"""Paths to routes, and errors to statuses (in one place: `berth.errors.http_status`).

Each module of `berth.api.routes` lists its routes as (method, template, handler); a template's
`{name}` matches one path segment, `{name:path}` any number (image names hold slashes).
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Sequence
from typing import NamedTuple

from berth.api.request import Answer, Handler, Request, json_reply
from berth.api.wire import ClientGone, TooLarge
from berth.errors import BerthError, from_os_error, http_status

log = logging.getLogger(__name__)

ROUTE_MODULES = (
    "system",
    "containers",
    "container_io",
    "exec",
    "images",
    "image_archives",
    "push",
    "registry",
    "networks",
    "volumes",
    "events",
    "build",
)

RouteSpec = tuple[str, str, Handler]


class Route(NamedTuple):
    method: str
    pattern: re.Pattern[str]
    handler: Handler


_PARAMETER = re.compile(r"\{([a-z_]+)(:path)?\}")


def _compile(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    last = 0
    for match in _PARAMETER.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        parts.append(f"(?P<{match.group(1)}>{'.+' if match.group(2) else '[^/]+'})")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts) + r"/?\Z")


class Router:
    def __init__(self, specs: Sequence[RouteSpec]) -> None:
        self.routes = [Route(method, _compile(path), handler) for method, path, handler in specs]

    @classmethod
    def default(cls) -> Router:
        specs: list[RouteSpec] = []
        for name in ROUTE_MODULES:
            module = importlib.import_module(f"berth.api.routes.{name}")
            specs.extend(module.ROUTES)
        return cls(specs)

    def find(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
        """The handler and the path's parameters, and whether any route has this path (for
        another method, when there is no handler)."""
        known = False
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route.handler, match.groupdict(), True
            known = True
        return None, {}, known

    def dispatch(self, request: Request) -> Answer:
        handler, params, known = self.find(request.method, request.path)
        if handler is None:
            if known:
                return json_reply({"message": "method not allowed"}, 405)
            return json_reply({"message": "page not found"}, 404)
        request.params = params
        try:
            return handler(request)
        except ClientGone:
            raise
        except TooLarge as error:
            return json_reply({"message": error.message}, 413)
        except BerthError as error:
            return error_reply(error)
        except OSError as error:
            return error_reply(from_os_error(error))


def error_reply(error: BerthError) -> Answer:
    status = http_status(error)
    log.debug("answer %d: %s", status, error.message)
    return json_reply({"message": error.message}, status)
