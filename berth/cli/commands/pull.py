"""`berth pull`: download an image, a layer at a time, with Docker's progress vocabulary."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.progress_view import LiveView, PlainView
from berth.errors import InvalidArgument
from berth.image import progress
from berth.oci import Platform, parse_platform
from berth.reference import Reference, parse

if TYPE_CHECKING:
    from berth.image.pull import PullResult
    from berth.registry import Registry


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    parser.add_argument(
        "-a", "--all-tags", action="store_true", help="Download all tagged images in the repository"
    )
    parser.add_argument("--platform", help="Set platform if server is multi-platform capable")
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    parser.add_argument(
        "--max-concurrent-downloads",
        type=int,
        default=3,
        metavar="N",
        help="Layers downloaded at once (default 3)",
    )
    return parser


def _interruptible(pull: Callable[..., PullResult], *args: Any, **kwargs: Any) -> PullResult:
    """Ctrl-C ends the pull at once. Downloads run in worker threads that would otherwise be
    waited for; the store is crash-safe (partial downloads resume next time), so exit now."""
    try:
        return pull(*args, **kwargs)
    except KeyboardInterrupt:
        sys.stdout.flush()
        os._exit(130)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.max_concurrent_downloads < 1:
        raise InvalidArgument("--max-concurrent-downloads must be at least 1")
    platform = parse_platform(args.platform) if args.platform else None
    reference = parse(args.name, default_tag=not args.all_tags)
    if args.all_tags and (reference.tag or reference.digest):
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    with ctx.engine.images.registry() as registry:
        if args.all_tags:
            references = [reference.with_tag(tag) for tag in registry.list_tags(reference)]
        else:
            if "@" not in args.name and ":" not in args.name.rpartition("/")[2] and not args.quiet:
                ctx.stdout.write("Using default tag: latest\n")
            references = [reference]
        for each in references:
            _pull_one(ctx, args, each, platform, registry)
    ctx.stdout.write(f"{reference.name if args.all_tags else reference}\n")
    return 0


def _pull_one(
    ctx: Context,
    args: argparse.Namespace,
    reference: Reference,
    platform: Platform | None,
    registry: Registry,
) -> None:
    view = None
    if not args.quiet:
        view = LiveView(ctx.stdout) if ctx.stdout.isatty() else PlainView(ctx.stdout)
    try:
        result = _interruptible(
            ctx.engine.images.pull,
            reference,
            platform=platform,
            max_concurrent_downloads=args.max_concurrent_downloads,
            report=view or progress.ignore,
            registry=registry,
        )
    finally:
        if view is not None:
            view.close()
    if view is not None:
        status = "Image is up to date for" if result.up_to_date else "Downloaded newer image for"
        view.message(f"Digest: {result.digest}")
        view.message(f"Status: {status} {reference.familiar()}")
