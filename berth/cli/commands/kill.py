"""`berth kill`: send a signal (SIGKILL by default) to running containers."""

from __future__ import annotations

import argparse
import signal

from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.container.signals import signal_number


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.add_argument("-s", "--signal", default="KILL", help='Signal to send (default "KILL")')
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    number = signal_number(args.signal)
    containers = ctx.engine.containers

    def kill(name: str) -> str:
        containers.kill(containers.lookup(name), number, all_processes=number == signal.SIGKILL)
        return name

    return for_each(ctx, args.containers, kill)
