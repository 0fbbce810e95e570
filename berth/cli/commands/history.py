"""`berth history`: the layers of an image, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from berth import humanize
from berth.cli.context import Context
from berth.cli.listing import print_rows
from berth.cli.parser import add_bool_flag, new_parser

HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
DEFAULT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
CREATED_BY_WIDTH = 45


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("image", metavar="IMAGE")
    add_bool_flag(
        parser,
        "-H",
        "--human",
        help="Print sizes and dates in human readable format (default true)",
    )
    parser.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    parser.add_argument("--format", help="Format output using a custom template")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    human = bool(args.human)
    rows: list[dict[str, Any]] = []
    for entry in ctx.engine.images.history(args.image):
        image_id = "<missing>"
        if entry.image_id:
            image_id = entry.image_id if args.no_trunc else entry.image_id[7:19]
        created_by = " ".join(entry.created_by.split()) if not args.no_trunc else entry.created_by
        if not args.no_trunc and len(created_by) > CREATED_BY_WIDTH:
            created_by = created_by[: CREATED_BY_WIDTH - 1] + "…"
        rows.append(
            {
                "ID": image_id,
                "CreatedSince": humanize.since(entry.created) if human else entry.created or "",
                "CreatedAt": entry.created or "",
                "CreatedBy": created_by,
                "Size": humanize.size(entry.size) if human else str(entry.size),
                "Comment": entry.comment,
            }
        )
    if args.quiet:
        for row in rows:
            ctx.stdout.write(f"{row['ID']}\n")
        return 0
    print_rows(ctx.stdout, rows, args.format, DEFAULT, HEADERS)
    return 0
