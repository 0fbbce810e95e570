"""`berth load`: images from a tar archive (docker-archive, an OCI layout or oci-archive;
plain, gzip or zstd), from `-i FILE` or stdin.

The lines are Docker's: `Loaded image: NAME:TAG`, or `Loaded image ID: sha256:...` for an
image the archive names no tag for. berth shows no per-layer progress, so `-q` changes
nothing (Docker's `-q` hides only that).
"""

from __future__ import annotations

import argparse
import sys

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument, from_os_error


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("-i", "--input", help="Read from tar archive file, instead of STDIN")
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    archives = ctx.engine.image_archives
    if args.input is None:
        if sys.stdin.isatty():
            raise InvalidArgument("requested load from stdin, but stdin is empty")
        loaded = archives.load(sys.stdin.buffer)
    else:
        try:
            source = open(args.input, "rb")  # noqa: SIM115 (closed below)
        except OSError as error:
            raise from_os_error(error) from None
        with source:
            loaded = archives.load(source)
    for line in loaded.lines:
        ctx.stdout.write(f"{line}\n")
    return 0
