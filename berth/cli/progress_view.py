"""Rendering pull and push progress: live per-layer bars on a terminal, plain lines otherwise.

Plain output follows Docker's non-terminal behaviour (status changes only, no byte
counters). Both add a total, which Docker lacks. Reporters are called from the pull's worker
threads, so every renderer serialises its output.
"""

from __future__ import annotations

import _thread  # threading's Lock, without threading's import (push's quick path)
import time

from berth import humanize
from berth.image.progress import (
    ALREADY_EXISTS,
    DOWNLOADING,
    LAYER_EXISTS,
    MOUNTED_FROM,
    PREPARING,
    PROGRESS_STATUSES,
    PULL_COMPLETE,
    PUSHED,
    PUSHING,
    ProgressEvent,
)

_DONE = frozenset({PULL_COMPLETE, ALREADY_EXISTS, PUSHED, LAYER_EXISTS})
_PUSH_STATUSES = frozenset({PREPARING, PUSHING, PUSHED, LAYER_EXISTS})

TYPE_CHECKING = False  # typing costs `push`'s quick path ~3 ms
if TYPE_CHECKING:
    from typing import Any, TextIO

    from rich.live import Live

BAR_WIDTH = 50


def bar(current: int, total: int | None, width: int = BAR_WIDTH) -> str:
    """Docker's `[=====>      ]  12.3MB/30.1MB`."""
    if not total:
        return humanize.size(current)
    filled = min(width, width * current // total)
    arrow = ">" if filled < width else "="
    body = ("=" * max(filled - 1, 0) + arrow if filled else ">").ljust(width)
    return f"[{body}]  {humanize.size(current)}/{humanize.size(total)}"


class _Totals:
    """What the whole pull (or push) has done: layers finished and bytes moved."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.layers: dict[str, str] = {}
        self.downloaded: dict[str, int] = {}  # or uploaded
        self.sizes: dict[str, int] = {}
        self.verb = "downloaded"

    def note(self, event: ProgressEvent) -> None:
        self.layers[event.id] = event.status
        if event.status in _PUSH_STATUSES or event.status.startswith(MOUNTED_FROM):
            self.verb = "pushed"  # a push whose layers are all there moves no byte
        if event.status in (DOWNLOADING, PUSHING):
            self.downloaded[event.id] = event.current
            if event.total:
                self.sizes[event.id] = event.total

    def summary(self) -> str:
        done = sum(1 for s in self.layers.values() if s in _DONE or s.startswith(MOUNTED_FROM))
        fetched = sum(self.downloaded.values())
        elapsed = time.monotonic() - self.started
        return (
            f"Total: {done}/{len(self.layers)} layers, "
            f"{humanize.size(fetched)} {self.verb} in {elapsed:.1f}s"
        )


class PlainView:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._lock = _thread.allocate_lock()
        self._last: dict[str, str] = {}
        self.totals = _Totals()

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            if event.id:
                self.totals.note(event)
            if event.status in PROGRESS_STATUSES:
                return
            if event.id and self._last.get(event.id) == event.status:
                return
            self._last[event.id] = event.status
            line = f"{event.id}: {event.status}" if event.id else event.status
            self.out.write(line + "\n")
            self.out.flush()

    def close(self) -> None:
        with self._lock:
            if self.totals.layers:
                self.out.write(self.totals.summary() + "\n")

    def message(self, text: str) -> None:
        with self._lock:
            self.out.write(text + "\n")


class LiveView:
    """One line per layer, redrawn in place by rich, with a total line at the bottom."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self.out = out
        self._lock = _thread.allocate_lock()
        self._header: list[str] = []
        self._lines: dict[str, str] = {}
        self.totals = _Totals()
        self._console = Console(file=out, highlight=False, soft_wrap=True)
        # Like Docker, shrink the bar on narrow terminals so the byte counts stay visible.
        self._bar_width = max(10, min(BAR_WIDTH, self._console.width - 48))
        self._live: Live = Live(console=self._console, refresh_per_second=8, transient=False)
        self._live.start()

    def _renderable(self) -> Any:
        from rich.text import Text

        lines = [*self._header, *(f"{i}: {s}" for i, s in self._lines.items())]
        if self._lines:
            fetched = sum(self.totals.downloaded.values())
            expected = sum(self.totals.sizes.values())
            lines.append(
                f"Total: {bar(fetched, expected, self._bar_width)}"
                if expected
                else self.totals.summary()
            )
        return Text("\n".join(lines))

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            if not event.id:
                self._header.append(event.status)
            else:
                self.totals.note(event)
                text = event.status
                if event.status in PROGRESS_STATUSES:
                    text = f"{event.status} {bar(event.current, event.total, self._bar_width)}"
                self._lines[event.id] = text
            self._live.update(self._renderable())

    def close(self) -> None:
        """Replace the live bars with the final statuses and the total."""
        from rich.text import Text

        with self._lock:
            lines = [*self._header, *(f"{i}: {s}" for i, s in self._lines.items())]
            if self._lines:
                lines.append(self.totals.summary())
            self._live.update(Text("\n".join(lines)))
            self._live.stop()

    def message(self, text: str) -> None:
        self._console.print(text, markup=False)
