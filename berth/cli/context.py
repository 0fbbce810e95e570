"""What every command receives: the chosen store and the output streams."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from berth.layout import Layout

if TYPE_CHECKING:
    from berth.engine import Engine


@dataclass(slots=True)
class Context:
    layout: Layout
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The engine, opened on first use (commands that don't need it never pay for it)."""
        if self._engine is None:
            from berth.engine import Engine

            self._engine = Engine.open(self.layout)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
