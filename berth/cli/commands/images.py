"""`berth images` (`berth image ls`): list images, as Docker lays them out."""

from __future__ import annotations

import argparse
import fnmatch
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from berth.cli import humanize
from berth.cli.context import Context
from berth.cli.listing import print_rows
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument
from berth.reference import parse

if TYPE_CHECKING:
    from berth.engine.images import ImageService
    from berth.image import ImageRecord

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
FILTERS = ("dangling", "reference", "label", "before", "since")


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


def _parse_filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in FILTERS:
            raise InvalidArgument(f"invalid filter '{item}'")
        filters.setdefault(key, []).append(value)
    return filters


def _split_tag(name: str) -> tuple[str, str]:
    reference = parse(name)
    return reference.familiar_name, reference.tag or NONE


def _rows_of(record: ImageRecord) -> Iterator[tuple[str, str, str]]:
    """(repository, tag, digest) rows of one image, as Docker pairs tags with digests."""
    digests: dict[str, str] = {}
    for name in record.digests:
        reference = parse(name)
        digests[reference.familiar_name] = reference.digest or NONE
    seen: set[str] = set()
    for name in record.tags:
        repository, tag = _split_tag(name)
        seen.add(repository)
        yield repository, tag, digests.get(repository, NONE)
    for repository, digest in digests.items():
        if repository not in seen:
            yield repository, NONE, digest
    if not record.tags and not record.digests:
        yield NONE, NONE, NONE


def _matches_reference(patterns: list[str], repository: str, tag: str) -> bool:
    for pattern in patterns:
        if ":" in pattern.rpartition("/")[2]:
            if fnmatch.fnmatchcase(f"{repository}:{tag}", pattern):
                return True
        elif fnmatch.fnmatchcase(repository, pattern):
            return True
    return False


def _select(
    service: ImageService, records: list[ImageRecord], filters: dict[str, list[str]]
) -> list[ImageRecord]:
    if "dangling" in filters:
        wanted = filters["dangling"][-1].lower()
        if wanted not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'dangling={wanted}'")
        dangling = wanted in ("true", "1")
        records = [r for r in records if r.dangling == dangling]
    if "label" in filters:
        selected = []
        for record in records:
            labels = service.config(record).config.get("Labels") or {}
            if all(_label_matches(labels, f) for f in filters["label"]):
                selected.append(record)
        records = selected
    for key, keep_older in (("before", True), ("since", False)):
        for text in filters.get(key, []):
            pivot = service.lookup(text)
            records = [
                r
                for r in records
                if (r.created < pivot.created if keep_older else r.created > pivot.created)
            ]
    return records


def _label_matches(labels: dict[str, Any], condition: str) -> bool:
    key, eq, value = condition.partition("=")
    return key in labels and (not eq or str(labels[key]) == value)


def run(args: argparse.Namespace, ctx: Context) -> int:
    filters = _parse_filters(args.filter)
    if args.repository:
        filters.setdefault("reference", []).append(args.repository)
    service = ctx.engine.images
    records = _select(service, service.all(), filters)
    rows: list[dict[str, Any]] = []
    for record in records:
        image_id = record.id if args.no_trunc else record.id[7:19]
        size = humanize.size(record.size)
        for repository, tag, digest in _rows_of(record):
            if "reference" in filters and not _matches_reference(
                filters["reference"], repository, tag
            ):
                continue
            rows.append(
                {
                    "Containers": "N/A",
                    "CreatedAt": humanize.go_time(record.created),
                    "CreatedSince": humanize.since(record.created),
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
