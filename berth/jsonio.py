"""JSON for the hot paths: the columns every listing decodes, the monitors' status files,
the Engine API's answers.

The stdlib's codec by default: a CLI command must start fast, and importing orjson costs
~15 ms here (it loads dataclasses, uuid and inspect). A long-lived process — `berth serve` —
calls `prefer_fast()` once: orjson then decodes a container's columns ~3x faster and encodes
answers ~5x faster (`GET /containers/json` with 50 containers decodes ~250 documents).
Whatever orjson refuses and the stdlib takes (a lone surrogate from an argument in a
non-UTF-8 locale, a NaN, nesting deeper than 1024) goes to the stdlib, so both codecs read
the same documents. One difference is left: orjson reads an integer over 64 bits as a float.
None is stored: the API refuses such numbers (`Request.json`), as dockerd does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_fast_loads: Callable[[str | bytes], Any] | None = None
_fast_dumps: Callable[[Any], bytes] | None = None


def loads(text: str | bytes) -> Any:
    if _fast_loads is not None:
        try:
            return _fast_loads(text)
        except ValueError:
            pass  # the stdlib decides (and raises the error callers expect)
    return json.loads(text)


def dumps(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON."""
    if _fast_dumps is not None:
        try:
            return _fast_dumps(value)
        except TypeError:
            pass
    return json.dumps(value, separators=(",", ":")).encode()


def prefer_fast() -> bool:
    """Use orjson from now on, if it is installed; whether it is."""
    global _fast_loads, _fast_dumps
    try:
        import orjson
    except ImportError:
        return False
    _fast_loads, _fast_dumps = orjson.loads, orjson.dumps
    return True
