"""What a build is asked for, from the CLI's flags or the API's query."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import threading

    from berth.build.replay import Fingerprint
    from berth.reference import Reference


class Options(NamedTuple):
    tags: tuple[Reference, ...] = ()
    build_args: dict[str, str] = {}
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    labels: dict[str, str] = {}
    network: str = "default"
    epoch: int | None = None  # SOURCE_DATE_EPOCH
    cache_from: tuple[str, ...] = ()  # images whose inline cache a step may take
    inline_cache: bool = False  # BUILDKIT_INLINE_CACHE=1: the image names its steps' keys
    secrets: dict[str, str] = {}  # --secret id -> the file's host path
    canceled: threading.Event | None = None  # set by the caller: the build stops, cleaned up
    # The CLI's build from a context directory: noted for a rebuild to replay if it succeeds.
    replay: Fingerprint | None = None
