"""`berth logs`: a container's json-file log, as Docker prints it."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from berth import humanize
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.container import logs
from berth.errors import InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Callable

    from berth.engine.containers import Containers

FOLLOW_POLL_SECONDS = 0.1


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    parser.add_argument(
        "-n",
        "--tail",
        default="all",
        help='Number of lines to show from the end of the logs (default "all")',
    )
    parser.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    parser.add_argument("--since", help="Show logs since timestamp or relative (e.g. 42m)")
    parser.add_argument("--until", help="Show logs before a timestamp or relative (e.g. 42m)")
    parser.add_argument("--details", action="store_true", help="Show extra details")
    return parser


def parse_moment(text: str) -> float:
    """A Unix time from RFC 3339, a Unix timestamp, or a duration ago (`10m`, `1h30m`)."""
    moment = humanize.moment(text)
    if moment is None:
        raise InvalidArgument(f'invalid value for "since"/"until": {text}')
    return moment


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers
    record = containers.lookup(args.container)
    containers.check_log_readable(record)
    path = containers.log_path(record.id)
    since = parse_moment(args.since) if args.since else None
    until = parse_moment(args.until) if args.until else None
    if args.tail != "all" and not args.tail.lstrip("-").isdigit():
        raise InvalidArgument(f"invalid value for --tail: {args.tail}")
    start = 0
    if args.tail != "all" and int(args.tail) >= 0:
        start = logs.tail_offset(path, int(args.tail))
    records, offset = logs.read(path, start)
    out, err = sys.stdout.buffer, sys.stderr.buffer

    def emit(batch: list[dict[str, Any]]) -> None:
        for entry in batch:
            moment = humanize.parse_time(entry.get("time"))
            when = moment.timestamp() if moment else 0.0
            if (since is not None and when < since) or (until is not None and when > until):
                continue
            text = str(entry.get("log", ""))
            if args.timestamps:
                text = f"{entry.get('time', '')} {text}"
            stream = err if entry.get("stream") == "stderr" else out
            stream.write(text.encode())
        out.flush()
        err.flush()

    emit(records)
    if args.follow:
        follower = logs.Follower(path)
        try:
            _follow(containers, record.id, follower, offset, emit)
        finally:
            follower.close()
    return 0


def _follow(
    containers: Containers,
    container_id: str,
    follower: logs.Follower,
    offset: int,
    emit: Callable[[list[dict[str, Any]]], None],
) -> None:
    """What is written until the container stops or is removed, then what it wrote last."""
    while True:
        running = containers.writes_log(container_id)
        batch, offset = follower.read(offset)
        emit(batch)
        if not running:
            batch, offset = follower.read(offset)
            emit(batch)
            return
        time.sleep(FOLLOW_POLL_SECONDS)
