"""What every command receives: the chosen store and the output streams."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from berth.layout import Layout

if TYPE_CHECKING:
    from berth.engine import Engine


class Context:
    __slots__ = ("_engine", "layout", "stderr", "stdout")

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.stdout: TextIO = sys.stdout
        self.stderr: TextIO = sys.stderr
        self._engine: Engine | None = None

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
