"""`berth inspect`: any object by name or id (images, for now), as `docker inspect`."""

from berth.cli.commands.image_inspect import build_parser, run

__all__ = ["build_parser", "run"]
