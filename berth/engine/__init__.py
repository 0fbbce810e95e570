"""The engine: wires the stores and services that the CLI and the API both drive."""

from berth.engine.engine import Engine

__all__ = ["Engine"]
