"""`berth push`: upload an image to a registry, a layer at a time, in Docker's words."""

from __future__ import annotations

import argparse
import os
import sys

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.progress_view import LiveView, PlainView
from berth.errors import InvalidArgument
from berth.image import progress
from berth.reference import parse


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("name", metavar="NAME[:TAG]")
    parser.add_argument(
        "-a", "--all-tags", action="store_true", help="Push all tags of an image to the repository"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    parser.add_argument(
        "--max-concurrent-uploads",
        type=int,
        default=5,
        metavar="N",
        help="Layers uploaded at once (default 5)",
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.max_concurrent_uploads < 1:
        raise InvalidArgument("--max-concurrent-uploads must be at least 1")
    reference = parse(args.name, default_tag=not args.all_tags)
    if reference.digest is not None:
        raise InvalidArgument(f"cannot push a digest reference: {args.name}")
    if args.all_tags and reference.tag is not None:
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    if args.all_tags:
        references = ctx.engine.images.tags_of(reference)
        if not references:
            raise InvalidArgument(
                f"An image does not exist locally with the tag: {reference.familiar_name}"
            )
    else:
        if ":" not in args.name.rpartition("/")[2] and not args.quiet:
            ctx.stdout.write("Using default tag: latest\n")
        references = [reference]
    with ctx.engine.images.registry() as registry:
        for each in references:
            view = None
            if not args.quiet:
                view = LiveView(ctx.stdout) if ctx.stdout.isatty() else PlainView(ctx.stdout)
            try:
                result = ctx.engine.images.push(
                    each,
                    max_concurrent_uploads=args.max_concurrent_uploads,
                    report=view or progress.ignore,
                    registry=registry,
                )
            except KeyboardInterrupt:
                # Uploads run in worker threads; a noted session resumes with the next push.
                sys.stdout.flush()
                os._exit(130)
            finally:
                if view is not None:
                    view.close()
            if view is not None:
                view.message(f"{each.tag}: digest: {result.digest} size: {result.size}")
            else:
                ctx.stdout.write(f"{each.familiar()}\n")
    return 0
