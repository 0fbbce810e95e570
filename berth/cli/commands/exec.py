"""`berth exec`: run a command in a running container."""

from __future__ import annotations

import argparse
import os
import socket

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.run_options import environment
from berth.cli.usage import UsageError
from berth.runtime import Stdio


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "-d", "--detach", action="store_true", help="Detached mode: run command in the background"
    )
    parser.add_argument(
        "-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached"
    )
    parser.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    parser.add_argument(
        "-e", "--env", action="append", default=[], help="Set environment variables"
    )
    parser.add_argument(
        "--env-file", action="append", default=[], help="Read in a file of environment variables"
    )
    parser.add_argument(
        "--privileged", action="store_true", help="Give extended privileges to the command"
    )
    parser.add_argument("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])")
    parser.add_argument("-w", "--workdir", help="Working directory inside the container")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")
    parser.set_defaults(prog=prog)
    return parser


def _terminal_size() -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(1)
    except OSError:
        return None
    return size.lines, size.columns


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Docker's exit codes: the command's own, 126/127 when it can't be run, 125 for a usage
    error, 1 when the engine refuses (a missing, stopped or paused container)."""
    if not args.command:
        raise UsageError(f'"{args.prog}" requires at least 2 arguments.', args.prog, bare=True)
    env = environment(args)  # a bad --env-file is the caller's error, found first
    containers = ctx.engine.container_tools
    record = containers.lookup(args.container)
    null = os.open(os.devnull, os.O_RDWR)
    ours = theirs = None
    if args.tty and not args.detach:  # a pty made inside the container, relayed here
        ours, theirs = socket.socketpair()
    try:
        if args.detach:
            stdio = Stdio(null, null, null)
        else:
            # The command's stdio is berth's own: output goes straight to the caller.
            stdio = Stdio(0 if args.interactive else null, 1, 2)
        helper = containers.exec(
            record,
            list(args.command),
            env=env,
            user=args.user,
            workdir=args.workdir,
            tty=args.tty,
            stdio=Stdio(null, null, null) if theirs is not None else stdio,
            console_socket=theirs.fileno() if theirs is not None else None,
            console_size=_terminal_size() if theirs is not None else None,
            privileged=args.privileged,
        )
    finally:
        os.close(null)
        if theirs is not None:
            theirs.close()
    if args.detach:
        return 0
    if ours is not None:
        from berth.cli.pty_relay import receive_master, relay

        with ours:
            master = receive_master(ours)
        relay(master, interactive=args.interactive)
    return helper.wait()
