"""`berth export`: a container's filesystem as a tar archive, on stdout or in `-o FILE`.

As Docker's, it refuses to write the archive to a terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument, SystemFailure


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.output is None and sys.stdout.isatty():
        raise InvalidArgument(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        )
    record = ctx.engine.containers.lookup(args.container)
    chunks = ctx.engine.container_tools.export(record)
    if args.output is None:
        ctx.stdout.flush()
        _write(chunks, sys.stdout.buffer)
        return 0
    try:
        if os.path.exists(args.output) and not os.path.isfile(args.output):  # /dev/null, a fifo
            with open(args.output, "wb") as out:
                _write(chunks, out)
        else:
            _write_file(chunks, args.output)
    except OSError as error:
        raise SystemFailure(f"failed to export container: {error}") from None
    return 0


def _write_file(chunks: Iterator[bytes], path: str) -> None:
    """Into a file beside the output, renamed over it once complete, as Docker's CLI does."""
    partial = f"{path}.berth-partial"
    try:
        with open(partial, "wb") as out:
            _write(chunks, out)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _write(chunks: Iterator[bytes], out: BinaryIO) -> None:
    for chunk in chunks:
        out.write(chunk)
    out.flush()
