"""Sizes and durations written the way Docker's CLI writes them (go-units)."""

from __future__ import annotations

import time

TYPE_CHECKING = False  # datetime is imported where a time is parsed: `push`'s quick path
if TYPE_CHECKING:  # prints sizes only (~1.5 ms)
    from datetime import datetime

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def size(value: float, digits: int = 3) -> str:
    """4261000 -> "4.26MB": decimal units, three significant digits (the CLI's tables;
    progress bars use four, as go-units' HumanSize does)."""
    unit = 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.{digits}g}{_UNITS[unit]}"


def duration(seconds: float) -> str:
    """go-units' HumanDuration: "Less than a second", "About a minute", "3 weeks"."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def parse_time(text: str | None) -> datetime | None:
    """RFC 3339 timestamps as images carry them (nanoseconds and `Z` included)."""
    if not text:
        return None
    from datetime import UTC, datetime

    moment: datetime | None
    try:  # Python 3.11's parser takes RFC 3339 (nanoseconds cut to micro) at C speed
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = _parse_loosely(text)
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_loosely(text: str) -> datetime | None:
    """What fromisoformat refuses: spaces around, more than 9 fractional digits."""
    cleaned = text.strip().replace("Z", "+00:00")
    if "." in cleaned:
        head, _, tail = cleaned.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        cleaned = f"{head}.{digits[:6]}{zone}"
    from datetime import datetime

    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        return None


def timestamp(text: str | None) -> float:
    """An RFC 3339 time as a Unix time; 0 when unknown (older than anything)."""
    moment = parse_time(text)
    return moment.timestamp() if moment else 0.0


# Compiled on first use: `ps` imports this module, and re costs it ~5 ms.
_DURATION = r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)"
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def moment(text: str) -> float | None:
    """Docker's time arguments (`logs --since`, prune's `until`) as a Unix time: a Go
    duration before now (`10m`, `1h30m`), a Unix timestamp, or an RFC 3339 date; None when
    the text is none of these."""
    import re

    if text and re.sub(_DURATION, "", text) == "":
        return time.time() - sum(float(n) * _SECONDS[u] for n, u in re.findall(_DURATION, text))
    try:
        return float(text)
    except ValueError:
        pass
    parsed = parse_time(text)
    return None if parsed is None else parsed.timestamp()


def since(text: str | None, now: datetime | None = None) -> str:
    """ "2 weeks ago", or "N/A" for an unknown time."""
    moment = parse_time(text)
    if moment is None:
        return "N/A"
    from datetime import UTC, datetime

    elapsed = ((now or datetime.now(UTC)) - moment).total_seconds()
    return f"{duration(max(elapsed, 0))} ago"


def ago(seconds: float) -> str:
    """`since` of a Unix time (the API's `Created`); 0 means unknown."""
    return f"{duration(max(time.time() - seconds, 0))} ago" if seconds else "N/A"


def go_time(text: str | None) -> str:
    """Go's time.String() as `docker images --format json` prints CreatedAt."""
    moment = parse_time(text)
    if moment is None:
        return ""
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def go_time_of(seconds: float) -> str:
    """`go_time` of a Unix time; 0 means unknown."""
    if not seconds:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(seconds))
