"""`berth create`: a container from an image, ready to start."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.images_needed import ensure_image
from berth.cli.parser import new_parser
from berth.cli.run_extra_options import ContainerIdFile
from berth.cli.run_options import add_run_flags, build_documents


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary, short_help=False)
    add_run_flags(parser)
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    config, host_config = build_documents(args)
    cidfile = ContainerIdFile(args.cidfile)
    try:
        ensure_image(ctx, args)
        record = ctx.engine.containers.create(
            config, host_config, args.name, args.network_alias, address=args.ip
        )
    except BaseException:
        cidfile.discard()
        raise
    cidfile.write(record.id)
    ctx.stdout.write(record.id + "\n")
    return 0
