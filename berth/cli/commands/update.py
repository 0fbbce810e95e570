"""`berth update`: new resource limits or restart policy for containers; a running one's
cgroup changes at once, and the HostConfig keeps them for later starts."""

from __future__ import annotations

import argparse
from typing import Any

from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.run_options import parse_size
from berth.errors import InvalidArgument


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    add = parser.add_argument
    add("-m", "--memory", help="Memory limit")
    add("--memory-swap", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    add("--memory-reservation", help="Memory soft limit")
    add("--cpus", help="Number of CPUs")
    add("-c", "--cpu-shares", type=int, help="CPU shares (relative weight)")
    add("--cpu-quota", type=int, help="Limit CPU CFS (Completely Fair Scheduler) quota")
    add("--cpu-period", type=int, help="Limit CPU CFS (Completely Fair Scheduler) period")
    add("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    add("--pids-limit", type=int, help="Tune container pids limit (set -1 for unlimited)")
    add("--restart", help="Restart policy to apply when a container exits")
    return parser


def changes_of(args: argparse.Namespace) -> dict[str, Any]:
    from berth.cli.run_options import _restart

    changes: dict[str, Any] = {}
    if args.memory is not None:
        changes["Memory"] = parse_size(args.memory, "--memory")
    if args.memory_swap is not None:
        changes["MemorySwap"] = (
            -1 if args.memory_swap == "-1" else parse_size(args.memory_swap, "--memory-swap")
        )
    if args.memory_reservation is not None:
        changes["MemoryReservation"] = parse_size(args.memory_reservation, "--memory-reservation")
    if args.cpus is not None:
        try:
            nano = int(float(args.cpus) * 1e9)
        except ValueError:
            raise InvalidArgument(f'invalid argument "{args.cpus}" for "--cpus"') from None
        if nano < 0:
            raise InvalidArgument("Range of CPUs is from 0.01 to the number of CPUs")
        changes["NanoCpus"] = nano
    for name, key in (
        ("cpu_shares", "CpuShares"),
        ("cpu_quota", "CpuQuota"),
        ("cpu_period", "CpuPeriod"),
        ("cpuset_cpus", "CpusetCpus"),
        ("pids_limit", "PidsLimit"),
    ):
        if getattr(args, name) is not None:
            changes[key] = getattr(args, name)
    if args.restart is not None:
        changes["RestartPolicy"] = _restart(args.restart)
    if not changes:
        raise InvalidArgument("you must provide one or more flags when using this command")
    return changes


def run(args: argparse.Namespace, ctx: Context) -> int:
    changes = changes_of(args)
    containers = ctx.engine.containers

    def apply(name: str) -> str:
        ctx.engine.container_tools.update(containers.lookup(name), changes)
        return name

    return for_each(ctx, args.containers, apply)
