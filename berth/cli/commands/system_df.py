"""`berth system df`: disk used by images, containers (their upper layers) and volumes."""

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
    from berth.cli.commands.ps import command_text, status_text
    from berth.engine.volumes import volume_names

    images = ctx.engine.images
    usage = images.usage()
    total = images.layers_size()
    containers = ctx.engine.containers.all()
    used_images = {record.image_id for record in containers}
    in_use_layers = {
        diff_id
        for item in usage
        if item.record.id in used_images
        for diff_id in images.config(item.record).diff_ids
    }
    in_use_size = sum(images.layer_size(diff_id) for diff_id in in_use_layers)
    sizes = {record.id: ctx.engine.containers.size(record) for record in containers}
    running = {r.id for r in containers if r.status in ("running", "paused", "restarting")}
    volumes = ctx.engine.volumes
    mounted = volumes.in_use()
    volume_sizes = {record.name: volumes.size(record.name) for record in volumes.all()}
    users = {
        record.id: sum(1 for r in containers if r.image_id == record.id)
        for record in (item.record for item in usage)
    }
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
                        str(users[item.record.id]),
                    ]
                )
        ctx.stdout.write("Images space usage:\n\n" + render(rows) + "\n\n")
        container_rows = [
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
        for record in containers:
            container_rows.append(
                [
                    record.short_id,
                    record.image_name,
                    command_text(record.config, True),
                    str(len(volume_names(record.host_config))),
                    humanize.size(sizes[record.id]),
                    humanize.since(record.created),
                    status_text(record.state),
                    record.name,
                ]
            )
        ctx.stdout.write("Containers space usage:\n\n" + render(container_rows) + "\n\n")
        volume_rows = [["VOLUME NAME", "LINKS", "SIZE"]]
        for name, size in volume_sizes.items():
            links = len(volumes.users(name)) if name in mounted else 0
            volume_rows.append([name, str(links), humanize.size(size)])
        ctx.stdout.write("Local Volumes space usage:\n\n" + render(volume_rows) + "\n")
        return 0
    containers_size = sum(sizes.values())
    stopped_size = sum(size for cid, size in sizes.items() if cid not in running)
    volumes_size = sum(volume_sizes.values())
    unused_volumes = sum(size for name, size in volume_sizes.items() if name not in mounted)
    summary: list[dict[str, Any]] = [
        {
            "Type": "Images",
            "TotalCount": str(len(usage)),
            "Active": str(len(used_images & {item.record.id for item in usage})),
            "Size": humanize.size(total),
            "Reclaimable": _percent(max(total - in_use_size, 0), total),
        },
        {
            "Type": "Containers",
            "TotalCount": str(len(containers)),
            "Active": str(len(running)),
            "Size": humanize.size(containers_size),
            "Reclaimable": _percent(stopped_size, containers_size),
        },
        {
            "Type": "Local Volumes",
            "TotalCount": str(len(volume_sizes)),
            "Active": str(len(mounted & set(volume_sizes))),
            "Size": humanize.size(volumes_size),
            "Reclaimable": _percent(unused_volumes, volumes_size),
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
