"""`berth save`: images as one tar (Docker's docker-archive and an OCI layout together), in
`-o FILE` or on stdout.

As Docker's, it refuses to write the archive to a terminal, and writes a file beside the
output, renamed over it once complete. Into a regular file (`-o`, or stdout redirected to
one) each layer is written once, its tar header patched afterwards; into a pipe each layer
is measured first (see berth.image.saving).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import stat
from typing import TYPE_CHECKING, BinaryIO

from berth.cli.context import Context
from berth.cli.output import refuse_terminal, write_output
from berth.cli.parser import new_parser

if TYPE_CHECKING:
    from berth.image.saving import Saver


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    refuse_terminal(args.output)
    saver = ctx.engine.image_archives.saver(args.images)
    ctx.stdout.flush()
    write_output(args.output, lambda out: _write(saver, out), "failed to save image")
    return 0


def _write(saver: Saver, out: BinaryIO) -> None:
    if _patchable(out):
        saver.write_file(out)
        return
    for chunk in saver.chunks():
        out.write(chunk)
    out.flush()


def _patchable(out: BinaryIO) -> bool:
    """A regular file written at its offset (with O_APPEND, pwrite would append)."""
    fd = out.fileno()
    return stat.S_ISREG(os.fstat(fd).st_mode) and not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND
