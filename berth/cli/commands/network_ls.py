"""`berth network ls`: networks, as Docker lists them."""

from __future__ import annotations

import argparse

from berth.cli import humanize
from berth.cli.context import Context
from berth.cli.listing import print_rows
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument
from berth.network.records import NetworkRecord

HEADERS = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}
DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
FILTERS = ("name", "id", "driver", "label", "type", "dangling")


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    parser.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    parser.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        help="Provide filter values (e.g. 'driver=bridge')",
    )
    parser.add_argument("--format", help="Pretty-print networks using a Go template")
    return parser


def _matches(record: NetworkRecord, key: str, value: str, unused: set[str]) -> bool:
    if key == "name":
        return value in record.name
    if key == "id":
        return record.id.startswith(value)
    if key == "driver":
        return record.driver == value
    if key == "label":
        name, eq, wanted = value.partition("=")
        return name in record.labels and (not eq or record.labels[name] == wanted)
    if key == "type":
        if value not in ("custom", "builtin"):
            raise InvalidArgument(f"invalid filter: 'type'='{value}'")
        return record.predefined == (value == "builtin")
    if value.lower() not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"invalid filter 'dangling={value}'")
    return (record.id in unused) == (value.lower() in ("true", "1"))


def run(args: argparse.Namespace, ctx: Context) -> int:
    service = ctx.engine.networks
    records = service.all()
    conditions = []
    for item in args.filter:
        key, eq, value = item.partition("=")
        if not eq or key not in FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        conditions.append((key, value))
    unused = (
        {n.id for n in service.unused()} if any(k == "dangling" for k, _ in conditions) else set()
    )
    by_key: dict[str, list[str]] = {}
    for key, value in conditions:
        by_key.setdefault(key, []).append(value)
    records = [
        r
        for r in records
        if all(any(_matches(r, key, v, unused) for v in values) for key, values in by_key.items())
    ]
    if args.quiet:
        for record in records:
            ctx.stdout.write(f"{record.id if args.no_trunc else record.short_id}\n")
        return 0
    rows = [
        {
            "ID": record.id if args.no_trunc else record.short_id,
            "Name": record.name,
            "Driver": record.driver,
            "Scope": "local",
            "IPv6": "false",
            "Internal": str(record.internal).lower(),
            "Labels": ",".join(f"{k}={v}" for k, v in record.labels.items()),
            "CreatedAt": humanize.go_time(record.created),
        }
        for record in records
    ]
    print_rows(ctx.stdout, rows, args.format, DEFAULT, HEADERS)
    return 0
