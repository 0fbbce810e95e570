"""`berth ps` (`berth container ls`): containers, as Docker lists them."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from berth.cli import humanize
from berth.cli.context import Context
from berth.cli.listing import print_rows
from berth.cli.parser import new_parser
from berth.errors import BerthError, InvalidArgument
from berth.network.records import NetworkStore, PortMapping

if TYPE_CHECKING:
    from berth.container import ContainerRecord

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
FILTERS = ("status", "name", "id", "ancestor", "label", "exited", "health")
HEALTH = ("starting", "healthy", "unhealthy", "none")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


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


def status_text(state: dict[str, Any]) -> str:
    """Docker's STATUS column: `Up 5 seconds`, `Exited (0) 2 minutes ago`, `Created`."""
    status = state.get("Status", "created")
    started = humanize.parse_time(state.get("StartedAt"))
    finished = humanize.parse_time(state.get("FinishedAt"))
    now = time.time()
    if status in ("running", "paused") and started is not None:
        text = f"Up {humanize.duration(now - started.timestamp())}"
        if status == "paused":
            return text + " (Paused)"
        health = health_status(state)
        if health == "starting":
            return text + " (health: starting)"
        return f"{text} ({health})" if health != "none" else text
    if status == "restarting" and finished is not None:
        ago = humanize.duration(now - finished.timestamp())
        return f"Restarting ({state.get('ExitCode', 0)}) {ago} ago"
    if status == "exited" and finished is not None and finished.year > 1:
        ago = humanize.duration(now - finished.timestamp())
        return f"Exited ({state.get('ExitCode', 0)}) {ago} ago"
    return {"created": "Created", "dead": "Dead", "exited": "Exited"}.get(status, str(status))


def health_status(state: dict[str, Any]) -> str:
    """starting, healthy or unhealthy; `none` without a healthcheck (Docker's filter word)."""
    return str((state.get("Health") or {}).get("Status") or "none")


def command_text(config: dict[str, Any], truncate: bool) -> str:
    words = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    # Docker quotes an argument with a space in it (the first word never).
    text = " ".join(words[:1] + [f"'{w}'" if " " in w else w for w in words[1:]])
    if truncate and len(text) > COMMAND_WIDTH:
        text = text[: COMMAND_WIDTH - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def _filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in FILTERS:
            raise InvalidArgument(f"invalid filter '{item}'")
        if key == "status" and value not in STATUSES:
            raise InvalidArgument(f"invalid filter 'status={value}'")
        if key == "health" and value not in HEALTH:
            raise InvalidArgument(f"Unrecognised filter value for health: {value}")
        filters.setdefault(key, []).append(value)
    return filters


def _matches(record: ContainerRecord, filters: dict[str, list[str]], ctx: Context) -> bool:
    checks: dict[str, Callable[[str], bool]] = {
        "status": lambda v: record.status == v,
        "name": lambda v: v in record.name,
        "id": record.id.startswith,
        "exited": lambda v: record.status == "exited" and str(record.state.get("ExitCode")) == v,
        "label": partial(_label, record),
        "health": lambda v: health_status(record.state) == v,
        "ancestor": lambda v: _ancestor(record, v, ctx),
    }
    return all(any(checks[key](value) for value in values) for key, values in filters.items())


def _label(record: ContainerRecord, condition: str) -> bool:
    labels = record.config.get("Labels") or {}
    key, eq, value = condition.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _ancestor(record: ContainerRecord, text: str, ctx: Context) -> bool:
    try:
        return ctx.engine.images.lookup(text).id == record.image_id
    except BerthError:
        return record.image_name == text


def _size_text(ctx: Context, record: ContainerRecord) -> str:
    """Docker's SIZE: what the container wrote, and with its image's size ("virtual")."""
    written = ctx.engine.containers.size(record)
    try:
        image = ctx.engine.images.records.get(record.image_id).size
    except BerthError:
        image = 0
    return f"{humanize.size(written)} (virtual {humanize.size(written + image)})"


def ports_text(exposed: dict[str, Any] | None, mappings: list[PortMapping]) -> str:
    """Docker's PORTS column: "0.0.0.0:5433->5432/tcp", then exposed ports not published."""
    shown = [f"{m.host_ip}:{m.host_port}->{m.container_port}/{m.protocol}" for m in mappings]
    published = {f"{m.container_port}/{m.protocol}" for m in mappings}
    shown += [key for key in exposed or {} if key not in published]
    return ", ".join(shown)


def run(args: argparse.Namespace, ctx: Context) -> int:
    filters = _filters(args.filter)
    records = ctx.engine.containers.all()
    if args.latest:
        args.last = 1
    show_all = args.all or args.last > 0 or "status" in filters or "exited" in filters
    selected = [
        r
        for r in records
        if (show_all or r.status in ("running", "restarting", "paused"))
        and _matches(r, filters, ctx)
    ]
    if args.last > 0:
        selected = selected[: args.last]
    published: dict[str, list[PortMapping]] = {}
    if any(r.status in ("running", "paused", "restarting") for r in selected):
        for mapping in NetworkStore(ctx.engine.database).ports():
            published.setdefault(mapping.container_id, []).append(mapping)
    wants_size = args.size or (bool(args.format) and ".Size" in args.format)
    rows = []
    for record in selected:
        rows.append(
            {
                "ID": record.id if args.no_trunc else record.short_id,
                "Image": record.image_name,
                "Command": command_text(record.config, not args.no_trunc),
                "CreatedAt": humanize.go_time(record.created),
                "RunningFor": humanize.since(record.created),
                "Ports": ports_text(record.config.get("ExposedPorts"), published.get(record.id, []))
                if record.status in ("running", "paused", "restarting")
                else "",
                "State": record.status,
                "Status": status_text(record.state),
                "Size": _size_text(ctx, record) if wants_size else "",
                "Names": record.name,
                "Labels": ",".join(
                    f"{k}={v}" for k, v in (record.config.get("Labels") or {}).items()
                ),
                "Mounts": ",".join(
                    str(m.get("Source") or m.get("Target"))
                    for m in record.host_config.get("Mounts") or []
                ),
                "Networks": str(record.host_config.get("NetworkMode") or ""),
            }
        )
    if args.quiet:
        for row in rows:
            ctx.stdout.write(f"{row['ID']}\n")
        return 0
    fmt = args.format or (DEFAULT + "\t{{.Size}}" if args.size and not args.quiet else None)
    print_rows(ctx.stdout, rows, fmt, DEFAULT, HEADERS)
    return 0
