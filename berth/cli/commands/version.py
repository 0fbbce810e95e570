"""`berth version`: berth's version and the Engine API versions it serves."""

from __future__ import annotations

import argparse
import platform
from typing import Any

from berth import __version__
from berth.api import versions
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.engine.reports import system as report


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    return parser


def document() -> dict[str, Any]:
    server = report.version(versions.text(versions.CURRENT), versions.text(versions.MINIMUM))
    client = {
        "Version": __version__,
        "ApiVersion": versions.text(versions.CURRENT),
        "GoVersion": f"python{platform.python_version()}",
        "Os": server["Os"],
        "Arch": server["Arch"],
    }
    return {"Client": client, "Server": server}


def run(args: argparse.Namespace, ctx: Context) -> int:
    version = document()
    if args.format:
        from berth.cli.listing import print_document

        print_document(ctx.stdout, version, args.format, name="version")
        return 0
    client, server = version["Client"], version["Server"]
    lines = [
        "Client:",
        f" Version:           {client['Version']}",
        f" API version:       {client['ApiVersion']}",
        f" Python version:    {client['GoVersion']}",
        f" OS/Arch:           {client['Os']}/{client['Arch']}",
        "",
        "Server:",
        " Engine:",
        f"  Version:          {server['Version']}",
        f"  API version:      {server['ApiVersion']} (minimum version {server['MinAPIVersion']})",
        f"  OS/Arch:          {server['Os']}/{server['Arch']}",
        f"  Kernel version:   {server['KernelVersion']}",
    ]
    ctx.stdout.write("\n".join(lines) + "\n")
    return 0
