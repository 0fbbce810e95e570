"""`berth info`: what the store holds and what this host offers, as `docker info` shows it."""

from __future__ import annotations

import argparse
from typing import Any

from berth import humanize
from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    return parser


def lines(info: dict[str, Any]) -> list[str]:
    plugins = info.get("Plugins") or {}
    return [
        "Server:",
        f" Containers: {info['Containers']}",
        f"  Running: {info['ContainersRunning']}",
        f"  Paused: {info['ContainersPaused']}",
        f"  Stopped: {info['ContainersStopped']}",
        f" Images: {info['Images']}",
        f" Server Version: {info['ServerVersion']}",
        f" Storage Driver: {info['Driver']}",
        f" Logging Driver: {info['LoggingDriver']}",
        f" Cgroup Driver: {info['CgroupDriver']}",
        f" Cgroup Version: {info['CgroupVersion']}",
        " Plugins:",
        f"  Volume: {' '.join(plugins.get('Volume') or [])}",
        f"  Network: {' '.join(plugins.get('Network') or [])}",
        f"  Log: {' '.join(plugins.get('Log') or [])}",
        f" Security Options: {', '.join(info.get('SecurityOptions') or [])}",
        f" Kernel Version: {info['KernelVersion']}",
        f" Operating System: {info['OperatingSystem']}",
        f" OSType: {info['OSType']}",
        f" Architecture: {info['Architecture']}",
        f" CPUs: {info['NCPU']}",
        f" Total Memory: {humanize.size(info['MemTotal'])}",
        f" Name: {info['Name']}",
        f" Docker Root Dir: {info['DockerRootDir']}",
        f" Live Restore Enabled: {str(info['LiveRestoreEnabled']).lower()}",
    ]


def run(args: argparse.Namespace, ctx: Context) -> int:
    info = ctx.engine.system.info(str(ctx.layout.root))
    if args.format:
        from berth.cli.listing import print_document

        print_document(ctx.stdout, info, args.format)
        return 0
    ctx.stdout.write("\n".join(lines(info)) + "\n")
    return 0
