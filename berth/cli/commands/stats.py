"""`berth stats`: containers' resource usage, a reading about every second until ctrl-c
(the screen redrawn as Docker's is), or one reading with --no-stream."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from berth import humanize
from berth.cli.context import Context
from berth.cli.listing import print_rows
from berth.cli.parser import new_parser

if TYPE_CHECKING:
    from berth.container import ContainerRecord
    from berth.container.stats import Usage

HEADERS = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
DEFAULT = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}"
    "\t{{.BlockIO}}\t{{.PIDs}}"
)
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
CLEAR = "\033[2J\033[H"  # clear the screen, cursor home: each reading replaces the last
REFRESH = 0.5  # plus the half second a reading takes


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("containers", nargs="*", metavar="CONTAINER")
    parser.add_argument(
        "-a", "--all", action="store_true", help="Show all containers (default shows just running)"
    )
    parser.add_argument(
        "--no-stream",
        action="store_true",
        help="Disable streaming stats and only pull the first result",
    )
    parser.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    parser.add_argument("--format", help="Pretty-print stats using a Go template")
    return parser


def binary_size(value: float) -> str:
    """go-units' BytesSize: "1.5MiB" (four significant digits, binary units)."""
    unit = 0
    while value >= 1024 and unit < len(_BINARY) - 1:
        value /= 1024
        unit += 1
    return f"{value:.4g}{_BINARY[unit]}"


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers
    while True:
        if args.containers:
            records = [containers.lookup(name) for name in args.containers]
        else:
            records = [r for r in containers.all() if args.all or r.status in ("running", "paused")]
        usages = ctx.engine.container_tools.stats(records)
        if not args.no_stream:
            ctx.stdout.write(CLEAR)
        print_rows(ctx.stdout, _rows(records, usages, args.no_trunc), args.format, DEFAULT, HEADERS)
        ctx.stdout.flush()
        if args.no_stream:
            return 0
        time.sleep(REFRESH)


def _rows(
    records: list[ContainerRecord], usages: dict[str, Usage], no_trunc: bool
) -> list[dict[str, str]]:
    rows = []
    for record in records:
        usage = usages[record.id]
        percent = usage.memory / usage.memory_limit * 100 if usage.memory_limit else 0.0
        shown = record.id if no_trunc else record.short_id
        rows.append(
            {
                "Container": shown,
                "ID": shown,
                "Name": record.name,
                "CPUPerc": f"{usage.cpu_percent:.2f}%",
                "MemUsage": f"{binary_size(usage.memory)} / {binary_size(usage.memory_limit)}",
                "MemPerc": f"{percent:.2f}%",
                "NetIO": f"{humanize.size(usage.net_rx)} / {humanize.size(usage.net_tx)}",
                "BlockIO": "0B / 0B",
                "PIDs": str(usage.pids),
            }
        )
    return rows
