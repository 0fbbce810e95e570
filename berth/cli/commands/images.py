"""`berth images` (`berth image ls`): list images, as Docker lays them out."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from berth import humanize
from berth.cli.context import Context
from berth.cli.listing import print_rows
from berth.cli.parser import new_parser
from berth.filters import Filters
from berth.reference import parse

HEADERS = {
    "Containers": "CONTAINERS",
    "CreatedAt": "CREATED AT",
    "CreatedSince": "CREATED",
    "Digest": "DIGEST",
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "SharedSize": "SHARED SIZE",
    "Size": "SIZE",
    "Tag": "TAG",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
}
DEFAULT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
WITH_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
NONE = "<none>"
Row = tuple[str, str, str]


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    parser.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="Show all images (default hides intermediate images)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    parser.add_argument("--digests", action="store_true", help="Show digests")
    parser.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        help="Filter output based on conditions provided",
    )
    parser.add_argument("--format", help="Format output using a custom template")
    return parser


def _rows_of(summary: dict[str, Any], digests_flag: bool, digests_shown: bool) -> Iterator[Row]:
    """(repository, tag, digest) rows of one image, as Docker's CLI pairs them: a tag's row
    per digest of its own repository (when digests are shown, `<none>` if it has none), then
    the repositories known only by digest (a row per digest with --digests)."""
    if not summary["RepoTags"] and not summary["RepoDigests"]:
        yield NONE, NONE, NONE
        return
    digests: dict[str, list[str]] = {}
    for name in summary["RepoDigests"]:
        repository, _, digest = name.partition("@")
        digests.setdefault(repository, []).append(digest)
    tags: dict[str, list[str]] = {}
    for name in summary["RepoTags"]:
        reference = parse(name)
        tags.setdefault(reference.familiar_name, []).append(reference.tag or NONE)
    for repository, its_tags in tags.items():
        own = digests.pop(repository, [])
        for tag in its_tags:
            for digest in own if own and digests_shown else [NONE]:
                yield repository, tag, digest
    for repository, only in digests.items():
        if digests_flag:
            for digest in only:
                yield repository, NONE, digest
        else:
            yield repository, NONE, ""


def run(args: argparse.Namespace, ctx: Context) -> int:
    filters = Filters.from_cli(args.filter)
    if args.repository:
        filters = Filters.from_cli([*args.filter, f"reference={args.repository}"])
    rows: list[dict[str, Any]] = []
    digests_shown = args.digests or "{{.Digest}}" in (args.format or "")
    for summary in ctx.engine.images.summaries(filters):
        image_id = summary["Id"] if args.no_trunc else summary["Id"][7:19]
        size = humanize.size(summary["Size"])
        for repository, tag, digest in _rows_of(summary, args.digests, digests_shown):
            rows.append(
                {
                    "Containers": "N/A",
                    "CreatedAt": humanize.go_time_of(summary["Created"]),
                    "CreatedSince": humanize.ago(summary["Created"]),
                    "Digest": digest,
                    "ID": image_id,
                    "Repository": repository,
                    "SharedSize": "N/A",
                    "Size": size,
                    "Tag": tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": size,
                }
            )
    if args.quiet:
        for row in rows:
            ctx.stdout.write(f"{row['ID']}\n")
        return 0
    print_rows(ctx.stdout, rows, args.format, WITH_DIGESTS if args.digests else DEFAULT, HEADERS)
    return 0
