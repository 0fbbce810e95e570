"""What the benchmarks keep of one measured thing: its samples (seconds, unless a subclass says
otherwise) or why there are none, with the statistics the reports print."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass(slots=True, kw_only=True)
class Samples:
    samples: list[float] = field(default_factory=list)
    error: str | None = None  # set when the thing could not be measured

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def minimum(self) -> float | None:
        return min(self.samples) if self.samples else None
