"""`berth container prune`: remove all stopped containers."""

from __future__ import annotations

import argparse

from berth.cli import humanize
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.prune import confirm, report
from berth.engine.container_admin import prune
from berth.errors import InvalidArgument

WARNING = "WARNING! This will remove all stopped containers."


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        help="Provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>')",
    )
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    return parser


def until_time(text: str) -> float:
    """Docker's `until`: a Go duration before now (`24h`, `1h30m`), a Unix timestamp, or an
    RFC 3339 date."""
    moment = humanize.moment(text)
    if moment is None:
        raise InvalidArgument(f"invalid filter 'until={text}'")
    return moment


def parse_filters(items: list[str]) -> tuple[list[str], float | None]:
    """(label conditions, `key!` for label!=; the `until` time or None)."""
    labels: list[str] = []
    until: float | None = None
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in ("label", "label!", "until"):
            raise InvalidArgument(f"invalid filter '{item}'")
        if key == "until":
            until = until_time(value)
        elif key == "label":
            labels.append(value)
        else:
            name, has_value, wanted = value.partition("=")
            labels.append(f"{name}!={wanted}" if has_value else f"{name}!")
    return labels, until


def run(args: argparse.Namespace, ctx: Context) -> int:
    labels, until = parse_filters(args.filter)
    if not args.force and not confirm(ctx, WARNING):
        return 0
    removed, reclaimed = prune(ctx.engine, labels, until)
    report(ctx, "Deleted Containers", removed, reclaimed)
    return 0
