"""API versions: the range berth serves, and the version a request asks for.

A request path may start with `/vMAJOR.MINOR`; without it the request speaks the current
version. Clients older than the current one are served in their version's shapes (a route
asks `request.version >= (1, 44)` where a field changed).
"""

import re

from berth.errors import InvalidArgument

Version = tuple[int, int]

CURRENT: Version = (1, 47)
MINIMUM: Version = (1, 24)

_PREFIX = re.compile(r"/v(\d{1,4})\.(\d{1,4})(?=/)")


def text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def split(path: str) -> tuple[Version, str]:
    """The version a path asks for and the path without its prefix; a version outside the
    range served is refused with Docker's words."""
    match = _PREFIX.match(path)
    if match is None:
        return CURRENT, path
    version = (int(match.group(1)), int(match.group(2)))
    if version > CURRENT:
        raise InvalidArgument(
            f"client version {text(version)} is too new. "
            f"Maximum supported API version is {text(CURRENT)}"
        )
    if version < MINIMUM:
        raise InvalidArgument(
            f"client version {text(version)} is too old. Minimum supported API version is "
            f"{text(MINIMUM)}, please upgrade your client to a newer version"
        )
    return version, path[match.end() :]
