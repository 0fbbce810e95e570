"""`berth system check [--repair]`: what is damaged in the store, and (with --repair) what
was rebuilt or removed (berth.engine.check). Exits 1 while damage remains."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "-r",
        "--repair",
        action="store_true",
        help="Rebuild what can be rebuilt (a damaged database from the store) and remove "
        "what can't run",
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    from berth.engine.check import check

    findings = check(ctx.layout, repair=args.repair)
    for finding in findings:
        line = f"{finding.subject}: {finding.problem}"
        ctx.stdout.write(line + (f" -> {finding.action}\n" if finding.action else "\n"))
    unresolved = [f for f in findings if not f.action]
    if not findings:
        ctx.stdout.write("no damage found\n")
    elif unresolved and not args.repair:
        ctx.stdout.write("run `berth system check --repair` to repair what can be repaired\n")
    return 1 if unresolved else 0
