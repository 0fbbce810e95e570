"""`run`/`create` pull a missing image as Docker does: a note on stderr, then the pull."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.errors import NotFound


def ensure_image(ctx: Context, args: argparse.Namespace) -> bool:
    """Pull the image unless it is here (the pull path's modules are imported only then);
    whether it pulled."""
    images = ctx.engine.images
    if args.pull != "always":
        try:
            images.lookup(args.image)
            return False
        except NotFound:
            if args.pull == "never":
                raise NotFound(f"No such image: {args.image}") from None
    from berth.cli.progress_view import PlainView
    from berth.oci import parse_platform
    from berth.reference import parse

    reference = parse(args.image)
    if args.pull != "always":
        ctx.stderr.write(f"Unable to find image '{reference.familiar()}' locally\n")
    view = PlainView(ctx.stderr)
    platform = parse_platform(args.platform) if args.platform else None
    with images.registry() as registry:
        try:
            result = images.pull(reference, platform=platform, report=view, registry=registry)
        finally:
            view.close()
    view.message(f"Digest: {result.digest}")
    view.message(f"Status: Downloaded newer image for {reference.familiar()}")
    return True
