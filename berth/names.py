"""Docker's rule for the names users give containers and networks (moby's
restrictedNameChars): a letter or digit, then letters, digits, `_`, `.` or `-`."""

from __future__ import annotations

import re

from berth.errors import InvalidArgument

_VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def check_name(name: str, kind: str) -> str:
    """The name without Docker's leading `/`; InvalidArgument when it breaks the rule."""
    if not _VALID.match(name):
        raise InvalidArgument(
            f"Invalid {kind} name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name.removeprefix("/")
