"""`berth export`: a container's filesystem as a tar archive, on stdout or in `-o FILE`.

As Docker's, it refuses to write the archive to a terminal.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import BinaryIO

from berth.cli.context import Context
from berth.cli.output import refuse_terminal, write_output
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    refuse_terminal(args.output)
    record = ctx.engine.containers.lookup(args.container)
    chunks = ctx.engine.container_tools.export(record)
    ctx.stdout.flush()
    write_output(args.output, lambda out: _write(chunks, out), "failed to export container")
    return 0


def _write(chunks: Iterator[bytes], out: BinaryIO) -> None:
    for chunk in chunks:
        out.write(chunk)
    out.flush()
