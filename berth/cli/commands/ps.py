"""`berth ps` (`berth container ls`): containers, as Docker lists them.

The usual listing (the default table or `-q`; `-a`, `--no-trunc`) is answered by `quick`
before argparse, the engine or the store's records are imported: from the rows and the
monitors' reports alone (berth.container.listing), as `docker ps` answers from its daemon's
memory. Any other flag, and any store the listing leaves to the engine (a container that
exited, a store to migrate), goes the usual way, `run`, which prints the same.
"""

from __future__ import annotations

import sys
import time

from berth import humanize, store_choice
from berth.cli.tables import render_tabbed
from berth.container import listing, summary

TYPE_CHECKING = False  # typing costs the quick `ps` ~3 ms
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from berth.cli.context import Context

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
COLUMNS = ("ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names")
DEFAULT = "table " + "\t".join(f"{{{{.{column}}}}}" for column in COLUMNS)
COMMAND_WIDTH = 20
# The flags `quick` answers, and what each sets.
QUICK_FLAGS = {
    "-a": ("all",),
    "--all": ("all",),
    "-q": ("quiet",),
    "--quiet": ("quiet",),
    "-aq": ("all", "quiet"),
    "-qa": ("all", "quiet"),
    "--no-trunc": ("no_trunc",),
}


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    from berth.cli.parser import new_parser

    parser = new_parser(prog, description)
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
    return quoted(command)


def quoted(text: str) -> str:
    """`json.dumps(text, ensure_ascii=False)`; json (and the re it imports, ~5 ms) only for
    a text it would escape something in: a quote, a backslash, a control character."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    import json

    return json.dumps(text, ensure_ascii=False)


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


def quick(root: str | None, runroot: str | None, words: list[str]) -> int | None:
    """The usual `ps` without the engine; None when `run` must answer: another flag, or a
    store the listing leaves to the engine. `root`/`runroot`: the global flags, if given."""
    flags: set[str] = set()
    for word in words:
        if word not in QUICK_FLAGS:
            return None
        flags.update(QUICK_FLAGS[word])
    found = listing.read(*store_choice.chosen(root, runroot), everything="all" in flags)
    if found is None:
        return None
    truncate = "no_trunc" not in flags
    if "quiet" in flags:
        sys.stdout.write("".join(f"{item.id[:12] if truncate else item.id}\n" for item in found))
        return 0
    now = time.time()
    lines = ["\t".join(HEADERS[column] for column in COLUMNS)]
    for item in found:
        created = humanize.parse_time(item.created)
        ports = summary.ports(item.exposed, item.published) if item.active else []
        cells = (
            item.id[:12] if truncate else item.id,
            item.image,
            command_text(summary.command(item.words), truncate),
            humanize.ago(int(created.timestamp()) if created else 0),
            summary.status_text(item.state, now),
            ports_text(ports),
            item.name,
        )
        lines.append("\t".join(cells))
    sys.stdout.write(render_tabbed(lines) + "\n")
    return 0


def run(args: argparse.Namespace, ctx: Context) -> int:
    from berth.cli.listing import label_method, print_rows
    from berth.filters import Filters

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
    for document in summaries:
        rows.append(
            {
                "ID": document["Id"] if args.no_trunc else document["Id"][:12],
                "Image": document["Image"],
                "Command": command_text(document["Command"], not args.no_trunc),
                "CreatedAt": humanize.go_time_of(document["Created"]),
                "RunningFor": humanize.ago(document["Created"]),
                "Ports": ports_text(document["Ports"]),
                "State": document["State"],
                "Status": document["Status"],
                "Size": size_text(document) if wants_size else "",
                "Names": document["Names"][0].removeprefix("/"),
                "Labels": ",".join(f"{k}={v}" for k, v in document["Labels"].items()),
                "Label": label_method(document["Labels"]),
                "Mounts": mounts_text(document["Mounts"]),
                "Networks": networks_text(document) if wants_networks else "",
            }
        )
    if args.quiet:
        for row in rows:
            ctx.stdout.write(f"{row['ID']}\n")
        return 0
    fmt = args.format or (DEFAULT + "\t{{.Size}}" if args.size and not args.quiet else None)
    print_rows(ctx.stdout, rows, fmt, DEFAULT, HEADERS)
    return 0
