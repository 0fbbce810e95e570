"""`berth volume ls`: volumes, as Docker lists them."""

from __future__ import annotations

import argparse

from berth.cli import humanize
from berth.cli.context import Context
from berth.cli.listing import print_rows
from berth.cli.parser import new_parser
from berth.engine.volumes import VolumeRecord, VolumeService
from berth.errors import InvalidArgument

HEADERS = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
    "Links": "LINKS",
    "Size": "SIZE",
}
DEFAULT = "table {{.Driver}}\t{{.Name}}"
FILTERS = ("dangling", "name", "label", "driver")


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")
    parser.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        help="Provide filter values (e.g. 'dangling=true')",
    )
    parser.add_argument("--format", help="Pretty-print volumes using a Go template")
    return parser


def _filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in FILTERS:
            raise InvalidArgument(f"Invalid filter '{key}'")
        if key == "dangling" and value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"Invalid filter 'dangling={value}'")
        filters.setdefault(key, []).append(value)
    return filters


def _label(record: VolumeRecord, condition: str) -> bool:
    key, eq, value = condition.partition("=")
    return key in record.labels and (not eq or record.labels[key] == value)


def select(
    service: VolumeService, filters: dict[str, list[str]]
) -> tuple[list[VolumeRecord], set[str]]:
    used = service.in_use()
    records = service.all()
    if "dangling" in filters:
        dangling = filters["dangling"][-1].lower() in ("true", "1")
        records = [r for r in records if (r.name not in used) == dangling]
    if "name" in filters:
        records = [r for r in records if any(v in r.name for v in filters["name"])]
    if "driver" in filters:
        records = [r for r in records if r.driver in filters["driver"]]
    if "label" in filters:
        records = [r for r in records if all(_label(r, c) for c in filters["label"])]
    return records, used


def run(args: argparse.Namespace, ctx: Context) -> int:
    service = ctx.engine.volumes
    records, used = select(service, _filters(args.filter))
    if args.quiet:
        for record in records:
            ctx.stdout.write(f"{record.name}\n")
        return 0
    wants_size = bool(args.format) and ".Size" in args.format
    rows = [
        {
            "Name": record.name,
            "Driver": record.driver,
            "Scope": "local",
            "Mountpoint": str(service.data(record.name)),
            "Labels": ",".join(f"{k}={v}" for k, v in record.labels.items()),
            "CreatedAt": humanize.go_time(record.created),
            "Links": str(len(service.users(record.name))) if record.name in used else "0",
            "Size": humanize.size(service.size(record.name)) if wants_size else "N/A",
        }
        for record in records
    ]
    print_rows(ctx.stdout, rows, args.format, DEFAULT, HEADERS)
    return 0
