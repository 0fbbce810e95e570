"""`berth system df`: disk used by images (and, later, containers and volumes)."""

from __future__ import annotations

import argparse
from typing import Any

from berth.cli import humanize
from berth.cli.context import Context
from berth.cli.listing import print_rows
from berth.cli.parser import new_parser
from berth.cli.tables import render
from berth.reference import parse

HEADERS = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}
DEFAULT = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="Show detailed information on space usage"
    )
    parser.add_argument("--format", help="Format output using a custom template")
    return parser


def _percent(part: int, whole: int) -> str:
    return f"{humanize.size(part)} ({100 * part // whole if whole else 0}%)"


def run(args: argparse.Namespace, ctx: Context) -> int:
    service = ctx.engine.images
    usage = service.usage()
    total = service.layers_size()
    if args.verbose:
        rows = [
            [
                "REPOSITORY",
                "TAG",
                "IMAGE ID",
                "CREATED",
                "SIZE",
                "SHARED SIZE",
                "UNIQUE SIZE",
                "CONTAINERS",
            ]
        ]
        for item in usage:
            names = [(parse(n).familiar_name, parse(n).tag or "<none>") for n in item.record.tags]
            for repository, tag in names or [("<none>", "<none>")]:
                rows.append(
                    [
                        repository,
                        tag,
                        item.record.id[7:19],
                        humanize.since(item.record.created),
                        humanize.size(item.record.size),
                        humanize.size(item.shared_size),
                        humanize.size(item.unique_size),
                        "0",
                    ]
                )
        ctx.stdout.write("Images space usage:\n\n" + render(rows) + "\n\n")
        ctx.stdout.write(
            "Containers space usage:\n\n"
            + render(
                [
                    [
                        "CONTAINER ID",
                        "IMAGE",
                        "COMMAND",
                        "LOCAL VOLUMES",
                        "SIZE",
                        "CREATED",
                        "STATUS",
                        "NAMES",
                    ]
                ]
            )
            + "\n\n"
        )
        ctx.stdout.write(
            "Local Volumes space usage:\n\n" + render([["VOLUME NAME", "LINKS", "SIZE"]]) + "\n"
        )
        return 0
    summary: list[dict[str, Any]] = [
        {
            "Type": "Images",
            "TotalCount": str(len(usage)),
            "Active": "0",
            "Size": humanize.size(total),
            "Reclaimable": _percent(total, total),
        },
        {"Type": "Containers", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"},
        {
            "Type": "Local Volumes",
            "TotalCount": "0",
            "Active": "0",
            "Size": "0B",
            "Reclaimable": "0B",
        },
        {
            "Type": "Build Cache",
            "TotalCount": "0",
            "Active": "0",
            "Size": "0B",
            "Reclaimable": "0B",
        },
    ]
    print_rows(ctx.stdout, summary, args.format, DEFAULT, HEADERS)
    return 0
