"""Containers started and removed in a row on the default network: `run -d IMAGE sleep 1000`,
then `rm -f ID`, `--count` times (20), the whole sequence timed; berth, docker and podman.

Why: issue 16 asks berth's total for the 20 to be <= 0.5x docker's, on the network a user
gets without asking (bench/run.py's `run --rm` series use `--network none`; bench/network.py
measures `run --rm` on the default bridge). A detached start returns once the container runs,
and `rm -f` kills and removes it, so the sequence is the set-up and teardown of one container
each time: bridge port, address, namespace, and for berth the monitor's start and the nft
table it keeps (made once, with the first container: the warm-up round).

Method: the busybox image of bench/run.py, pulled by each tool into its store on one private
tmpfs. docker: the private dockerd of bench/peers.py on a bridge made here on a free subnet,
with its iptables rules, forwarding and masquerading as installed (bench/network.py's
set-up); podman: a CNI network of its own like Debian's default (bench/network.py's
`podman_network`), runc and small explicit rlimits (bench/run.py's `_runtime`), and `rm -f -t
0` (docker's and berth's `rm -f` kill at once; podman's would first wait 10 s for busybox's
sleep, a pid 1 that ignores SIGTERM). One untimed warm-up round, then `--rounds` rounds; in a
round each tool runs one whole sequence, taking turns (the first tool rotates round by round),
and each command is timed too (`bench.proc.timed`: wall clock around fork+exec+waitpid).

Everything is undone in `finally` blocks: containers removed, berth's kept bridge and nft
table pruned (`network prune -f`) and checked gone, dockerd stopped, its bridge deleted,
docker's and CNI's iptables rules removed (bench/network.py's `undo_peer_rules`, which reports
what still differs), sysctls restored, the tmpfs unmounted, berth's cgroup parent removed.
Must not import `berth`. Usage: `.venv/bin/python -m bench.churn [--count 20] [--rounds 7]
[--tools berth,docker,podman]`.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import network as net
from bench.api import sysctls
from bench.peers import (
    Berth,
    BerthOwnMonitor,
    Docker,
    Podman,
    bench_root,
    filesystem_of,
    start_logging_and_choose,
    versions,
)
from bench.proc import timed
from bench.run import (
    REPOSITORY,
    _runtime,
    build_busybox,
    clean_up,
    cleanup_cgroups,
    container_env,
    pulled,
    remove_all,
)
from tests.fixtures import oci_layout as oci
from tests.fixtures.registry import start_registry

log = logging.getLogger("bench.churn")

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = 0.5  # berth's total / docker's

Tool = Berth | Docker | Podman


@dataclass(slots=True)
class Series:
    """One tool's sequences: each round's total, and every `run -d` and `rm -f` in them."""

    tool: str
    totals: list[float] = field(default_factory=list)
    runs: list[float] = field(default_factory=list)
    removals: list[float] = field(default_factory=list)
    error: str | None = None


def sequence(tool: Tool, reference: str, count: int) -> tuple[float, list[float], list[float]]:
    """`count` times `run -d` then `rm -f`: the total, and each command's time."""
    env = container_env(tool)
    start_argv = tool.argv("run", *_runtime(tool), "-d", reference, "sleep", "1000")
    force = ["-t", "0"] if isinstance(tool, Podman) else []
    runs: list[float] = []
    removals: list[float] = []
    began = time.perf_counter()
    for _ in range(count):
        seconds, proc = timed(start_argv, env=env, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"run -d: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
        runs.append(seconds)
        ident = proc.stdout.strip().splitlines()[-1]
        seconds, proc = timed(tool.argv("rm", "-f", *force, ident), env=env, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"rm -f: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
        removals.append(seconds)
    return time.perf_counter() - began, runs, removals


def measure(tools: Sequence[Tool], reference: str, count: int, rounds: int) -> list[Series]:
    """A warm-up round, then `rounds` rounds of one sequence per tool, taking turns."""
    series = {tool.name: Series(tool.name) for tool in tools}
    for index in range(1 + rounds):
        turn = index % len(tools)
        for tool in [*tools[turn:], *tools[:turn]]:
            found = series[tool.name]
            if found.error:
                continue
            try:
                total, runs, removals = sequence(tool, reference, count)
            except RuntimeError as error:
                found.error = str(error)
                log.warning("%s: %s", tool.name, error)
                continue
            if index > 0:
                found.totals.append(total)
                found.runs += runs
                found.removals += removals
        log.info("round %d of %d done", index, rounds)
    return list(series.values())


def make_tools(
    names: Sequence[str], stores: Path, podman_subnet: ipaddress.IPv4Network
) -> list[Tool]:
    """Each tool on its default network: berth's own bridge, dockerd on the bridge made
    here (with iptables), podman on its CNI network."""
    tools: list[Tool] = []
    for name in names:
        store = stores / name
        store.mkdir(parents=True)
        if name == "docker":
            tools.append(Docker(store, network=net.docker_network(userland_proxy=True)))
        elif name == "podman":
            conf = net.podman_network(store, podman_subnet)
            tools.append(Podman(store, network_conf=conf))
        elif name == "berth":
            tools.append(Berth(store))
        elif name == BerthOwnMonitor.name:
            tools.append(BerthOwnMonitor(store))
    return tools


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.1f} ms" if seconds else "-"


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def render(found: list[Series], count: int, rounds: int, store_fs: str) -> str:
    docker = next((s for s in found if s.tool == "docker" and s.totals), None)
    docker_median = statistics.median(docker.totals) if docker else None
    lines = [
        f"Store filesystem: {store_fs}; {count} x (`run -d IMAGE sleep 1000`, `rm -f ID`) on "
        f"the default network, {rounds} rounds after a warm-up, the tools taking turns; "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "",
        "| tool | total, median | min | max | / docker | `run -d` median | `rm -f` median |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in found:
        if s.error or not s.totals:
            lines.append(f"| {s.tool} | failed: {(s.error or 'no rounds')[:120]} | | | | | |")
            continue
        median = statistics.median(s.totals)
        ratio = f"{median / docker_median:.2f}x" if docker_median else "-"
        if s.tool == "berth" and docker_median:
            ratio += (
                f" (target <= {TARGET}x: {'met' if median <= TARGET * docker_median else 'missed'})"
            )
        lines.append(
            f"| {s.tool} | {_s(median)} | {_s(min(s.totals))} | {_s(max(s.totals))} | {ratio} "
            f"| {_ms(s.runs)} | {_ms(s.removals)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.churn", description=__doc__)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tools", default="berth,docker,podman")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = start_logging_and_choose(args.tools, args.verbose)
    before, settings = net.HostState.now(), sysctls()
    docker_subnet = net.free_subnet("10.213.0.0/16", 24)
    podman_subnet = net.free_subnet("10.214.0.0/16", 24)
    found: list[Series] = []
    findings: list[str] = []
    try:
        with bench_root("tmpfs") as base:
            build_busybox(base / "layout")
            registry = start_registry(base / "registry")
            tools: list[Tool] = []
            try:
                reference = f"{registry.host}/{REPOSITORY}"
                oci.push(base / "layout", "1", reference)
                if "docker" in names:
                    net.make_bridge(net.DOCKER_BRIDGE, docker_subnet)
                tools = make_tools(names, base / "stores", podman_subnet)
                for tool in tools:
                    tool.start()
                    if (error := pulled(tool, reference)) is not None:
                        raise RuntimeError(f"{tool.name}: {error.error}")
                found = measure(tools, reference, args.count, args.rounds)
                store_fs = filesystem_of(base)
                for tool in tools:
                    if isinstance(tool, Berth):
                        remove_all(tool, container_env(tool))
                        findings += [f"berth: {what}" for what in net.berth_leftovers(tool)]
            finally:
                for tool in tools:
                    clean_up(tool)
                registry.stop()
    finally:
        for device in (net.DOCKER_BRIDGE, net.PODMAN_BRIDGE):
            net.remove_link(device)
        marks = ("DOCKER", "CNI-", net.DOCKER_BRIDGE, net.PODMAN_BRIDGE)
        prefixes = tuple(
            str(subnet.network_address).rsplit(".", 1)[0] + "."
            for subnet in (docker_subnet, podman_subnet)
        )
        findings += [f"host differs: {d}" for d in net.undo_peer_rules(before, marks + prefixes)]
        now = sysctls()
        for name, value in settings.items():
            if now.get(name) != value:
                findings.append(f"{name}: {value} -> {now.get(name)} (restored)")
                Path(f"/proc/sys/{name}").write_text(value)
        if left := cleanup_cgroups():
            findings.append(f"cgroups left behind: {left}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"churn-{time.strftime('%Y%m%dT%H%M%S')}.json"
    report = {
        "store_filesystem": store_fs,
        "versions": versions(),
        "count": args.count,
        "series": [asdict(s) for s in found],
        "findings": findings,
    }
    out.write_text(json.dumps(report, indent=2))
    print(render(found, args.count, args.rounds, store_fs))
    for finding in findings:
        print(f"- {finding}")
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
