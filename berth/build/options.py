"""What a build is asked for, from the CLI's flags or the API's query, and the build args
that are switches rather than variables."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import NamedTuple

from berth.errors import InvalidArgument
from berth.reference import Reference

INLINE_CACHE_ARG = "BUILDKIT_INLINE_CACHE"  # BuildKit's name, so CI scripts carry over


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


def special_args(
    build_args: Mapping[str, str], environment: Mapping[str, str]
) -> tuple[int | None, bool]:
    """`SOURCE_DATE_EPOCH` (a build arg, else the environment's) and whether the image
    carries an inline cache (`BUILDKIT_INLINE_CACHE=1`)."""
    text = build_args.get("SOURCE_DATE_EPOCH") or environment.get("SOURCE_DATE_EPOCH")
    try:
        epoch = int(text) if text else None
    except ValueError:
        raise InvalidArgument(f"invalid SOURCE_DATE_EPOCH: {text!r}") from None
    inline = build_args.get(INLINE_CACHE_ARG, "").lower() in ("1", "true")
    return epoch, inline
