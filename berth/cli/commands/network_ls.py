"""`berth network ls`: networks, as Docker lists them."""

from __future__ import annotations

import argparse

from berth import humanize
from berth.cli.context import Context
from berth.cli.listing import label_method, print_rows
from berth.cli.parser import new_parser
from berth.filters import Filters

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


def run(args: argparse.Namespace, ctx: Context) -> int:
    records = ctx.engine.networks.matching(Filters.from_cli(args.filter))
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
            "Label": label_method(record.labels),
            "CreatedAt": humanize.go_time(record.created),
        }
        for record in records
    ]
    print_rows(ctx.stdout, rows, args.format, DEFAULT, HEADERS)
    return 0
