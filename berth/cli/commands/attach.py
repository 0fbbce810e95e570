"""`berth attach`: connect the terminal to a running container's stdio."""

from __future__ import annotations

import argparse

from berth.cli.attach import DEFAULT_DETACH_KEYS, Session
from berth.cli.context import Context
from berth.cli.parser import add_bool_flag, new_parser
from berth.errors import Conflict
from berth.monitor.config import ATTACH_SOCKET


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    parser.add_argument(
        "--detach-keys",
        default=DEFAULT_DETACH_KEYS,
        help="Override the key sequence for detaching a container",
    )
    add_bool_flag(
        parser, "--sig-proxy", help="Proxy all received signals to the process (default true)"
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Stream until the container exits (its exit code) or the user detaches (0)."""
    containers = ctx.engine.containers
    record = containers.lookup(args.container)
    if record.status != "running":
        raise Conflict("You cannot attach to a stopped container, start it first")
    stdin = bool(record.config.get("OpenStdin")) and not args.no_stdin
    session = Session(
        containers.run_dir(record.id) / ATTACH_SOCKET,
        stdin=stdin,
        tty=bool(record.config.get("Tty")),
        detach_keys=args.detach_keys,
        sig_proxy=args.sig_proxy,
    )
    code = session.run()
    if code is None:
        return 0
    if code < 0:  # the monitor went away: report what it recorded
        return int(containers.get(record.id).state["ExitCode"])
    return code
