"""`berth build`'s view on a terminal, like BuildKit's: a header with the elapsed time and
the steps done, one line per step (`=> [app 2/5] RUN make  1.3s`, `=> CACHED [app 3/5] …`),
and under a running RUN the last lines it wrote. Redrawn in place by rich (imported only
here, only on a terminal); what is left at the end is the finished list, errors included.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, TextIO

TAIL = 6  # the lines of a running step's output kept on screen


@dataclass
class _Step:
    title: str
    started: float
    ended: float | None = None
    cached: bool = False
    error: str | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL))


class TtyProgress:
    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=out, highlight=False, soft_wrap=False)
        self._lock = threading.Lock()
        self._steps: dict[int, _Step] = {}
        self._notes: list[str] = []
        self._started = time.monotonic()
        self._live = Live(
            console=self._console,
            refresh_per_second=8,
            transient=False,
            get_renderable=self._renderable,
        )
        self._live.start()

    def _renderable(self) -> Any:
        from rich.text import Text

        with self._lock:
            now = time.monotonic()
            done = sum(1 for s in self._steps.values() if s.ended is not None)
            elapsed = now - self._started
            text = Text(f"[+] Building {elapsed:.1f}s ({done}/{len(self._steps)})\n")
            for step in self._steps.values():
                seconds = (step.ended or now) - step.started
                prefix = " => CACHED " if step.cached else " => "
                style = "red" if step.error else ("blue" if step.ended is None else "")
                text.append(f"{prefix}{step.title}", style=style)
                if not step.cached:
                    text.append(f"  {seconds:.1f}s", style="dim")
                text.append("\n")
                if step.error:
                    text.append(f" => ERROR: {step.error}\n", style="red")
                if step.ended is None or step.error:
                    for line in step.tail:
                        text.append(f" => => {line}\n", style="dim")
            for note in self._notes:
                text.append(f" => {note}\n")
            return text

    def step(self, number: int, title: str) -> None:
        with self._lock:
            self._steps[number] = _Step(title, time.monotonic())

    def cached(self, number: int) -> None:
        with self._lock:
            step = self._steps[number]
            step.cached, step.ended = True, time.monotonic()

    def output(self, number: int, text: str) -> None:
        with self._lock:
            self._steps[number].tail.extend(text.splitlines() or [""])

    def done(self, number: int) -> None:
        with self._lock:
            self._steps[number].ended = time.monotonic()

    def failed(self, number: int, message: str) -> None:
        with self._lock:
            step = self._steps.get(number)
            if step is not None:
                step.error, step.ended = message, time.monotonic()

    def note(self, text: str) -> None:
        with self._lock:
            self._notes.append(text)

    def built(self, image_id: str, tags: list[str]) -> None:
        self.note(f"writing image {image_id}")
        for tag in tags:
            self.note(f"naming to {tag}")

    def close(self) -> None:
        self._live.refresh()
        self._live.stop()
