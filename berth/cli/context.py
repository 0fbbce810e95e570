"""What every command receives: the chosen store and the output streams."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from berth.layout import Layout

if TYPE_CHECKING:
    from berth.container.copy_client import CopyServer
    from berth.engine import Engine
    from berth.monitor.launch import MonitorLauncher


class Context:
    __slots__ = ("_copier", "_engine", "launcher", "layout", "stderr", "stdout")

    def __init__(
        self,
        layout: Layout,
        launcher: MonitorLauncher | None = None,
        copier: CopyServer | None = None,
    ) -> None:
        self.layout = layout
        self.launcher = launcher  # a monitor started ahead, for a command that starts one
        self._copier = copier  # a copy server started ahead, for `build`
        self.stdout: TextIO = sys.stdout
        self.stderr: TextIO = sys.stderr
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The engine, opened on first use (commands that don't need it never pay for it)."""
        if self._engine is None:
            from berth.engine import Engine

            self._engine = Engine.open(self.layout, self.launcher)
        return self._engine

    def take_copier(self) -> CopyServer | None:
        """The copy server started ahead, now the caller's to close."""
        copier, self._copier = self._copier, None
        return copier

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self.launcher is not None:
            self.launcher.close()  # unused (the command failed early): its monitor exits
            self.launcher = None
        if self._copier is not None:
            self._copier.close()
            self._copier = None
