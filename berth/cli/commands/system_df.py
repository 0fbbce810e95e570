"""`berth system df`: disk used by images, containers (their upper layers) and volumes."""

from __future__ import annotations

import argparse
from typing import Any

from berth import humanize
from berth.cli.commands.ps import command_text
from berth.cli.context import Context
from berth.cli.listing import print_rows
from berth.cli.parser import new_parser
from berth.cli.tables import render
from berth.container.state import ACTIVE
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
    usage = ctx.engine.system.df()
    if args.verbose:
        _verbose(ctx, usage)
        return 0
    images, containers, volumes = usage["Images"], usage["Containers"], usage["Volumes"]
    total = usage["LayersSize"]
    # Docker's CLI: what the images containers use hold uniquely is not reclaimable.
    in_use = sum(i["Size"] - i["SharedSize"] for i in images if i["Containers"])
    active = [c for c in containers if c["State"] in ACTIVE]
    containers_size = sum(c["SizeRw"] for c in containers)
    volume_sizes = [v["UsageData"]["Size"] for v in volumes]
    unused_volumes = sum(v["UsageData"]["Size"] for v in volumes if not v["UsageData"]["RefCount"])
    summary: list[dict[str, Any]] = [
        {
            "Type": "Images",
            "TotalCount": str(len(images)),
            "Active": str(sum(1 for i in images if i["Containers"])),
            "Size": humanize.size(total),
            "Reclaimable": _percent(max(total - in_use, 0), total),
        },
        {
            "Type": "Containers",
            "TotalCount": str(len(containers)),
            "Active": str(len(active)),
            "Size": humanize.size(containers_size),
            "Reclaimable": _percent(
                containers_size - sum(c["SizeRw"] for c in active), containers_size
            ),
        },
        {
            "Type": "Local Volumes",
            "TotalCount": str(len(volumes)),
            "Active": str(sum(1 for v in volumes if v["UsageData"]["RefCount"])),
            "Size": humanize.size(sum(volume_sizes)),
            "Reclaimable": _percent(unused_volumes, sum(volume_sizes)),
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


def _verbose(ctx: Context, usage: dict[str, Any]) -> None:
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
    for image in usage["Images"]:
        names = [(parse(n).familiar_name, parse(n).tag or "<none>") for n in image["RepoTags"]]
        for repository, tag in names or [("<none>", "<none>")]:
            rows.append(
                [
                    repository,
                    tag,
                    image["Id"][7:19],
                    humanize.ago(image["Created"]),
                    humanize.size(image["Size"]),
                    humanize.size(image["SharedSize"]),
                    humanize.size(image["Size"] - image["SharedSize"]),
                    str(image["Containers"]),
                ]
            )
    ctx.stdout.write("Images space usage:\n\n" + render(rows) + "\n\n")
    container_rows = [
        ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]
    ]
    for container in usage["Containers"]:
        container_rows.append(
            [
                container["Id"][:12],
                container["Image"],
                command_text(container["Command"], True),
                str(sum(1 for m in container["Mounts"] if m["Type"] == "volume")),
                humanize.size(container["SizeRw"]),
                humanize.ago(container["Created"]),
                container["Status"],
                container["Names"][0].removeprefix("/"),
            ]
        )
    ctx.stdout.write("Containers space usage:\n\n" + render(container_rows) + "\n\n")
    volume_rows = [["VOLUME NAME", "LINKS", "SIZE"]]
    for volume in usage["Volumes"]:
        data = volume["UsageData"]
        volume_rows.append([volume["Name"], str(data["RefCount"]), humanize.size(data["Size"])])
    ctx.stdout.write("Local Volumes space usage:\n\n" + render(volume_rows) + "\n")
