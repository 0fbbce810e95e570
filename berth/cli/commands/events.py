"""`berth events`: what happens in the store, as `docker events` shows it — from now on, or
from `--since`, until `--until` or Ctrl-C."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from berth import humanize
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument
from berth.filters import Filters

# Go's names for the fields of an event (`{{.Status}}`, `{{.ID}}`), beside its JSON keys.
_GO_NAMES = {
    "Status": "status",
    "ID": "id",
    "From": "from",
    "Scope": "scope",
    "Time": "time",
    "TimeNano": "timeNano",
}


class _Message(dict[str, Any]):
    """An event for templates: `{{json .}}` is the JSON document, `{{.ID}}` works too."""

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in _GO_NAMES

    def __getitem__(self, key: str) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self.get(_GO_NAMES[key], "")


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("--since", help="Show all events created since timestamp")
    parser.add_argument("--until", help="Stream events until this timestamp")
    parser.add_argument(
        "-f", "--filter", action="append", default=[], help="Filter output based on conditions"
    )
    parser.add_argument("--format", help="Format the output using the given Go template")
    return parser


def _moment(text: str | None, flag: str) -> float | None:
    if text is None:
        return None
    moment = humanize.moment(text)
    if moment is None:
        raise InvalidArgument(f"invalid value for {flag}: {text!r}")
    return moment


def line(event: dict[str, Any]) -> str:
    """Docker's default line: local time, type, action, actor and its attributes."""
    moment = datetime.fromtimestamp(int(event["timeNano"]) / 1e9).astimezone()
    offset = moment.strftime("%z")  # Go's Z07:00: Z for UTC, else +hh:mm
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(event['timeNano']) % 10**9:09d}"
    stamp += "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
    actor = event.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    details = ", ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
    text = f"{stamp} {event['Type']} {event['Action']} {actor.get('ID', '')}"
    return f"{text} ({details})" if details else text


def run(args: argparse.Namespace, ctx: Context) -> int:
    since = _moment(args.since, "--since")
    until = _moment(args.until, "--until")
    filters = Filters.from_cli(args.filter)
    template = None
    if args.format:
        from berth.cli.template import Template

        template = Template("{{json .}}" if args.format == "json" else args.format)
    for event in ctx.engine.journal.read(since, until, filters, lambda: False):
        if event is None:
            continue
        text = template.render(_Message(event)) if template else line(event)
        ctx.stdout.write(text + "\n")
        ctx.stdout.flush()
    return 0
