"""`berth start`: start stopped containers (`-a` attaches, `-i` forwards stdin)."""

from __future__ import annotations

import argparse

from berth.cli.attach import DEFAULT_DETACH_KEYS, Session
from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument
from berth.monitor.config import ATTACH_SOCKET


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.add_argument(
        "-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals"
    )
    parser.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    parser.add_argument(
        "--detach-keys",
        default=DEFAULT_DETACH_KEYS,
        help="Override the key sequence for detaching a container",
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers
    if not (args.attach or args.interactive):

        def start(name: str) -> str:
            containers.start(containers.lookup(name))
            return name

        return for_each(ctx, args.containers, start)
    if len(args.containers) > 1:
        raise InvalidArgument("you cannot start and attach multiple containers at once")
    record = containers.start(containers.lookup(args.containers[0]), wait_for_attach=True)
    session = Session(
        containers.run_dir(record.id) / ATTACH_SOCKET,
        stdin=args.interactive,
        tty=bool(record.config.get("Tty")),
        detach_keys=args.detach_keys,
    )
    code = session.run()
    return 0 if code is None else max(code, 0)


def needs_own_monitor(args: argparse.Namespace) -> bool:
    """Whether berth's monitor (likely) holds the container even where conmon holds
    containers (`berth.monitor.conmon.eligible`: attached from the start, unless to a
    terminal: known only once the container is read), so that `berth.cli.main` starts one
    ahead."""
    return bool(args.attach or args.interactive)
