"""`berth import [-c INSTRUCTION]... [-m MESSAGE] [--platform P] FILE|URL|- [REPO[:TAG]]`:
a tar (plain, gzip, bzip2, xz or zstd) as a one-layer image. Prints the image's id, as
Docker does. `-` reads stdin; an http(s):// source is downloaded, as dockerd downloads it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import NotFound, from_os_error

CHUNK = 1 << 20


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("source", metavar="file|URL|-")
    parser.add_argument("reference", metavar="REPOSITORY[:TAG]", nargs="?")
    parser.add_argument(
        "-c",
        "--change",
        action="append",
        default=[],
        help="Apply Dockerfile instruction to the created image",
    )
    parser.add_argument("-m", "--message", default="", help="Set commit message for imported image")
    parser.add_argument(
        "--platform", default="", help="Set platform if server is multi-platform capable"
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    builder = ctx.engine.build
    with contextlib.ExitStack() as stack:
        chunks, origin = _source(args.source, stack, builder.download)
        image_id = builder.import_image(
            chunks,
            args.reference,
            message=args.message or f"Imported from {origin}",
            changes=args.change,
            platform=args.platform,
        )
    ctx.stdout.write(f"{image_id}\n")
    return 0


def _source(
    source: str,
    stack: contextlib.ExitStack,
    download: Callable[[str], contextlib.AbstractContextManager[Iterable[bytes]]],
) -> tuple[Iterable[bytes], str]:
    """The tar's chunks, and where they come from as dockerd names it in the comment: the
    URL, else `-` (the docker CLI sends a file as the request's body, as it sends stdin)."""
    if source.startswith(("http://", "https://")):
        return stack.enter_context(download(source)), source
    if source == "-":
        return _chunks(sys.stdin.buffer), "-"
    try:
        stream = stack.enter_context(open(source, "rb"))  # noqa: SIM115 -- the stack closes it
    except FileNotFoundError:
        raise NotFound(f"open {source}: no such file or directory") from None
    except OSError as error:
        raise from_os_error(error) from None
    return _chunks(stream), "-"


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk
