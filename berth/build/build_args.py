"""The build args that are switches rather than variables: `SOURCE_DATE_EPOCH` and
`BUILDKIT_INLINE_CACHE`. Light (the CLI's quick path reads them)."""

from __future__ import annotations

from berth.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs the quick path ~2 ms
if TYPE_CHECKING:
    from collections.abc import Mapping

INLINE_CACHE_ARG = "BUILDKIT_INLINE_CACHE"  # BuildKit's name, so CI scripts carry over


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
