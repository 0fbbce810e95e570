"""`berth ps` (`berth container ls`): containers, as Docker lists them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from berth import humanize
from berth.cli.context import Context
from berth.cli.listing import label_method, print_rows
from berth.cli.parser import new_parser
from berth.filters import Filters

HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
}
DEFAULT = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
COMMAND_WIDTH = 20


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "-a", "--all", action="store_true", help="Show all containers (default shows just running)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    parser.add_argument(
        "-n",
        "--last",
        type=int,
        default=-1,
        help="Show n last created containers (includes all states)",
    )
    parser.add_argument(
        "-l",
        "--latest",
        action="store_true",
        help="Show the latest created container (includes all states)",
    )
    parser.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
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


def command_text(command: str, truncate: bool) -> str:
    """Docker's COMMAND column: the summary's Command, cut to 20 characters, quoted."""
    if truncate and len(command) > COMMAND_WIDTH:
        command = command[: COMMAND_WIDTH - 1] + "…"
    return json.dumps(command, ensure_ascii=False)


def ports_text(ports: list[dict[str, Any]]) -> str:
    """Docker's PORTS column: "0.0.0.0:5433->5432/tcp", then exposed ports not published."""
    return ", ".join(
        f"{p['IP']}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}"
        if "PublicPort" in p
        else f"{p['PrivatePort']}/{p['Type']}"
        for p in ports
    )


def mounts_text(mounts: list[dict[str, Any]]) -> str:
    return ",".join(str(m.get("Name") or m.get("Source") or m.get("Destination")) for m in mounts)


def networks_text(summary: dict[str, Any]) -> str:
    """Docker's NETWORKS: the names of the networks the container is on (`bridge` for the
    default one)."""
    return ",".join(sorted(summary["NetworkSettings"]["Networks"]))


def size_text(summary: dict[str, Any]) -> str:
    """Docker's SIZE: what the container wrote, and with its image's size ("virtual")."""
    written, total = summary["SizeRw"], summary["SizeRootFs"]
    return f"{humanize.size(written)} (virtual {humanize.size(total)})"


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.latest:
        args.last = 1
    wants_size = args.size or (bool(args.format) and ".Size" in args.format)
    # Only a format that prints the networks pays for reading them (`json` prints every field).
    wants_networks = bool(args.format) and ("Networks" in args.format or "json" in args.format)
    summaries = ctx.engine.containers.summaries(
        Filters.from_cli(args.filter),
        all=args.all,
        limit=args.last,
        size=wants_size,
        networks=wants_networks,
    )
    rows = []
    for summary in summaries:
        rows.append(
            {
                "ID": summary["Id"] if args.no_trunc else summary["Id"][:12],
                "Image": summary["Image"],
                "Command": command_text(summary["Command"], not args.no_trunc),
                "CreatedAt": humanize.go_time_of(summary["Created"]),
                "RunningFor": humanize.ago(summary["Created"]),
                "Ports": ports_text(summary["Ports"]),
                "State": summary["State"],
                "Status": summary["Status"],
                "Size": size_text(summary) if wants_size else "",
                "Names": summary["Names"][0].removeprefix("/"),
                "Labels": ",".join(f"{k}={v}" for k, v in summary["Labels"].items()),
                "Label": label_method(summary["Labels"]),
                "Mounts": mounts_text(summary["Mounts"]),
                "Networks": networks_text(summary) if wants_networks else "",
            }
        )
    if args.quiet:
        for row in rows:
            ctx.stdout.write(f"{row['ID']}\n")
        return 0
    fmt = args.format or (DEFAULT + "\t{{.Size}}" if args.size and not args.quiet else None)
    print_rows(ctx.stdout, rows, fmt, DEFAULT, HEADERS)
    return 0
