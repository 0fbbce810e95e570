"""`berth system prune`: remove what nothing uses, in the docker CLI's order and words —
stopped containers, networks no container is on, dangling images (every unused one with
-a), the build cache, and with --volumes the anonymous volumes no container mounts."""

from __future__ import annotations

import argparse

from berth import humanize
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.prune import add_filter_flag, confirm, filters_of
from berth.errors import InvalidArgument
from berth.filters import Filters

# What the container prune accepts, the first step: Docker fails there on any other key.
FILTERS = ("label", "label!", "until")


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "-a", "--all", action="store_true", help="Remove all unused images not just dangling ones"
    )
    add_filter_flag(parser, "'label=<key>=<value>'")
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    parser.add_argument("--volumes", action="store_true", help="Prune anonymous volumes")
    return parser


def warning(args: argparse.Namespace, filters: Filters) -> str:
    """Docker's list of what will go, and the filters that choose it."""
    items = ["all stopped containers", "all networks not used by at least one container"]
    if args.volumes:
        items.append("all anonymous volumes not used by at least one container")
    if args.all:
        items += ["all images without at least one container associated to them", "all build cache"]
    else:
        items += ["all dangling images", "unused build cache"]
    text = "WARNING! This will remove:\n" + "".join(f"  - {item}\n" for item in items)
    chosen = sorted(f"{key}={value}" for key in FILTERS for value in filters.get(key))
    if chosen:
        text += "\n  Items to be pruned will be filtered with:\n"
        text += "".join(f"  - {item}\n" for item in chosen)
    return text


def run(args: argparse.Namespace, ctx: Context) -> int:
    filters = filters_of(args).only(FILTERS)
    if args.volumes and "until" in filters:
        raise InvalidArgument('The "until" filter is not supported with "--volumes"')
    if not args.force and not confirm(ctx, warning(args, filters)):
        return 0
    engine = ctx.engine
    sections: list[tuple[str, list[str]]] = []
    containers, reclaimed = engine.containers.prune(filters)
    sections.append(("Deleted Containers", containers))
    sections.append(("Deleted Networks", engine.networks.prune(filters)))
    if args.volumes:
        labels = Filters({key: filters.get(key) for key in ("label", "label!") if key in filters})
        volumes, freed = engine.volumes.prune(labels)
        sections.append(("Deleted Volumes", volumes))
        reclaimed += freed
    image_filters = filters.adding("dangling", "false") if args.all else filters
    removals, freed = engine.images.prune(image_filters)
    sections.append(("Deleted Images", [f"{r.action}: {r.value}" for r in removals]))
    reclaimed += freed
    cache, freed = engine.build.prune_cache(filters.time("until"))
    sections.append(("Deleted build cache objects", cache))
    reclaimed += freed
    for title, lines in sections:
        if lines:
            ctx.stdout.write(f"{title}:\n" + "".join(f"{line}\n" for line in lines) + "\n")
    ctx.stdout.write(f"Total reclaimed space: {humanize.size(reclaimed, 4)}\n")
    return 0
