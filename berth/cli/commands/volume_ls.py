"""`berth volume ls`: volumes, as Docker lists them."""

from __future__ import annotations

import argparse

from berth import humanize
from berth.cli.context import Context
from berth.cli.listing import label_method, print_rows
from berth.cli.parser import new_parser
from berth.filters import Filters

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


def run(args: argparse.Namespace, ctx: Context) -> int:
    volumes = ctx.engine.volumes
    records = volumes.matching(Filters.from_cli(args.filter))
    if args.quiet:
        for record in records:
            ctx.stdout.write(f"{record.name}\n")
        return 0
    counted = bool(args.format) and (".Size" in args.format or ".Links" in args.format)
    rows = []
    for record in records:
        document = volumes.inspect(record, usage=counted)
        usage = document.get("UsageData") or {}
        rows.append(
            {
                "Name": record.name,
                "Driver": record.driver,
                "Scope": "local",
                "Mountpoint": document["Mountpoint"],
                "Labels": ",".join(f"{k}={v}" for k, v in record.labels.items()),
                "Label": label_method(record.labels),
                "CreatedAt": humanize.go_time(record.created),
                "Links": str(usage.get("RefCount", 0)),
                "Size": humanize.size(usage["Size"]) if usage else "N/A",
            }
        )
    print_rows(ctx.stdout, rows, args.format, DEFAULT, HEADERS)
    return 0
