"""`berth push`: upload an image to a registry, a layer at a time, in Docker's words.

A push the registry already holds is answered without the pusher (`quick`, through
berth.image.push_repeat); so the module imports little until `run` needs it.
"""

from __future__ import annotations

import sys

from berth.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from berth.cli.context import Context

CONCURRENCY_FLAG = "--max-concurrent-uploads"
DEFAULT_CONCURRENCY = 5  # dockerd's


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    from berth.cli.parser import new_parser

    parser = new_parser(prog, summary)
    parser.add_argument("name", metavar="NAME[:TAG]")
    parser.add_argument(
        "-a", "--all-tags", action="store_true", help="Push all tags of an image to the repository"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    parser.add_argument(
        CONCURRENCY_FLAG,
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"Layers uploaded at once (default {DEFAULT_CONCURRENCY})",
    )
    return parser


def quick(root: str | None, runroot: str | None, words: list[str]) -> int | None:
    """A push the registry already holds, said as the pusher would say it; None: the pusher
    runs (any other flag, a terminal's live view, anything the quick path leaves to it)."""
    asked = _quick_words(words)
    if asked is None:
        return None
    name, quiet, concurrency = asked
    if not quiet and sys.stdout.isatty():
        return None
    from berth import store_choice
    from berth.image.push_repeat import repeated

    found = repeated(*store_choice.chosen(root, runroot), name)
    if found is None:
        return None
    if quiet:
        sys.stdout.write(f"{found.repository}:{found.tag}\n")
        return 0
    from berth.cli.progress_view import PlainView
    from berth.image.progress import LAYER_EXISTS, ProgressEvent, push_begun

    if not _tagged(name):
        sys.stdout.write("Using default tag: latest\n")
    view = PlainView(sys.stdout)
    push_begun(view, found.repository, found.idents, concurrency)
    for ident in found.idents:
        view(ProgressEvent(ident, LAYER_EXISTS))
    view.close()
    view.message(f"{found.tag}: digest: {found.digest} size: {found.size}")
    return 0


def _quick_words(words: list[str]) -> tuple[str, bool, int] | None:
    """`[-q] [--max-concurrent-uploads N] NAME[:TAG]` as the parser would read it, or None."""
    names: list[str] = []
    quiet, concurrency = False, DEFAULT_CONCURRENCY
    rest = iter(words)
    for word in rest:
        flag, eq, value = word.partition("=")
        if word in ("-q", "--quiet"):
            quiet = True
        elif flag == CONCURRENCY_FLAG:
            value = value if eq else next(rest, "")
            if not value.isdigit() or int(value) < 1:
                return None
            concurrency = int(value)
        elif word.startswith("-") or names:
            return None
        else:
            names.append(word)
    return (names[0], quiet, concurrency) if names else None


def _tagged(name: str) -> bool:
    return ":" in name.rpartition("/")[2]


def run(args: argparse.Namespace, ctx: Context) -> int:
    import os

    from berth.cli.progress_view import LiveView, PlainView
    from berth.image import progress
    from berth.reference import parse

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
        if not _tagged(args.name) and not args.quiet:
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
