"""`ps` with 50 and with 500 running containers: berth against `docker ps` and `podman ps`.

Why: issue 16 asks `berth ps` with 50 running to take <= 1.25x `docker ps` with the docker 28
client and, with 500 running, <= 1.0x. dockerd answers `ps` from its memory; berth reads its
store, so its cost grows with the containers unless it reads only what it must: 500 shows it.
podman (which reads its database too) is beside them, and Debian's 20.10 docker client as well
(the same daemon; the clients differ by ~10 ms of start-up).

Method: the busybox image of bench/run.py, pulled by each tool into its store on one private
tmpfs; `run -d --network none IMAGE sleep 3600` until each tool runs the first count (the tools
start theirs in parallel threads: only `ps` is timed), then `ps` taking turns run by run (berth,
docker 28, docker 20.10, podman, berth, ...; 3 warm-ups, then `--runs` timed) with every tool's
containers running; then up to the next count, and again. Wall clock around
fork+exec+waitpid (`bench.proc.timed`). dockerd is the private one of bench/peers.py
(`--bridge=none`); podman runs with runc and small explicit rlimits (bench/run.py's `_runtime`).

Everything is cleaned up in `finally` blocks (bench/run.py's `clean_up`: containers removed,
dockerd stopped, the tmpfs unmounted, berth's cgroup parent removed). Must not import `berth`.
Usage: `.venv/bin/python -m bench.ps [--runs 30] [--counts 50,500] [--tools berth,docker,podman]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.peers import (
    Berth,
    Docker,
    Podman,
    bench_root,
    filesystem_of,
    make_tool,
    start_logging_and_choose,
    versions,
)
from bench.proc import run, timed
from bench.run import (
    CGROUP_ROOT,
    REPOSITORY,
    WARMUP,
    _proc_children,
    _runtime,
    build_busybox,
    clean_up,
    cleanup_cgroups,
    container_env,
    pulled,
)
from bench.samples import Samples
from tests.fixtures import oci_layout as oci
from tests.fixtures.registry import start_registry

log = logging.getLogger("bench.ps")

RESULTS = Path(__file__).resolve().parent / "results"
DOCKER28 = "/usr/local/bin/docker"  # the docker 28 client (tests/fixtures/api.py uses it)
DOCKER20 = "/usr/bin/docker"  # Debian's 20.10 client
TARGETS = {50: 1.25, 500: 1.0}  # berth / docker 28, per count

Tool = Berth | Docker | Podman


@dataclass(slots=True)
class Series(Samples):
    """One client's `ps` timings at one count; `error` set when it failed."""

    client: str
    count: int


def clients(tool: Tool) -> dict[str, list[str]]:
    """The `ps` commands of a tool: docker's through both clients, against one daemon."""
    if isinstance(tool, Docker):
        socket = ["-H", f"unix://{tool.socket}", "ps"]
        return {"docker 28": [DOCKER28, *socket], "docker 20.10": [DOCKER20, *socket]}
    return {tool.name: tool.argv("ps")}


def running(tool: Tool) -> int:
    return len(run(tool.argv("ps", "-q"), env=container_env(tool), timeout=300).stdout.split())


def top_up(tool: Tool, reference: str, count: int) -> None:
    """Start sleepers until the tool runs `count` containers."""
    env = container_env(tool)
    argv = tool.argv("run", *_runtime(tool), "-d", "--network", "none", reference, "sleep", "3600")
    for _ in range(count - running(tool)):
        run(argv, env=env, timeout=120)


def top_up_all(tools: Sequence[Tool], reference: str, count: int) -> None:
    """Every tool up to `count`, in parallel threads (a failure is raised after all end)."""
    errors: list[BaseException] = []

    def work(tool: Tool) -> None:
        try:
            top_up(tool, reference, count)
        except BaseException as error:  # carried to the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(tool,)) for tool in tools]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    for tool in tools:
        if (listed := running(tool)) != count:
            raise RuntimeError(f"{tool.name} ps lists {listed} containers, not {count}")


def measure(
    argvs: Mapping[str, tuple[list[str], Mapping[str, str]]], count: int, runs: int
) -> list[Series]:
    """Each client's `ps`, the clients taking turns run by run (bench/run.py's reason: this
    VM's speed drifts over minutes)."""
    series = {name: Series(name, count) for name in argvs}
    for i in range(WARMUP + runs):
        for name, (argv, env) in argvs.items():
            result = series[name]
            if result.error:
                continue
            seconds, proc = timed(argv, env=env, timeout=300)
            if proc.returncode != 0:
                result.error = f"exit {proc.returncode}: {(proc.stderr or '').strip()[-300:]}"
            elif i >= WARMUP:
                result.samples.append(seconds)
    return list(series.values())


def reap_shims(store: Path) -> int:
    """Kill what a wedged dockerd left running (once, with 500 containers under load, its `rm
    -f` hung and it was stopped; its shims outlive it): each containerd-shim naming the
    store, its container's processes, and their cgroups. Returns how many it found."""
    table = _proc_children()
    shims = [
        pid
        for pid, (_ppid, comm, cmdline) in table.items()
        if comm.startswith("containerd-shim") and str(store) in cmdline
    ]
    ids = []
    for shim in shims:
        words = table[shim][2].split()
        if "-id" in words:
            ids.append(words[words.index("-id") + 1])
        for pid in [pid for pid, (ppid, _comm, _cmd) in table.items() if ppid == shim]:
            os.kill(pid, signal.SIGKILL)
        os.kill(shim, signal.SIGKILL)
    if shims:
        time.sleep(1)
    for ident in ids:
        for group in CGROUP_ROOT.glob(f"*/docker/{ident}"):
            group.rmdir()
    return len(shims)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def render(found: list[Series], store_fs: str, runs: int) -> str:
    lines = [
        f"Store filesystem: {store_fs}; {runs} runs per client after {WARMUP} warm-ups, "
        f"taking turns; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "",
        "| running | client | median | min | max | / docker 28 | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for count in sorted({s.count for s in found}):
        at = [s for s in found if s.count == count]
        docker = next((s.median for s in at if s.client == "docker 28"), None)
        for s in at:
            if s.error:
                lines.append(f"| {count} | {s.client} | failed: {s.error[:120]} | | | | |")
                continue
            ratio = s.median / docker if docker and s.median else None
            target = ""
            if s.client == "berth" and ratio is not None and count in TARGETS:
                met = "met" if ratio <= TARGETS[count] else "missed"
                target = f"<= {TARGETS[count]}x: {met}"
            lines.append(
                f"| {count} | {s.client} | {_ms(s.median)} | {_ms(min(s.samples))} | "
                f"{_ms(max(s.samples))} | {f'{ratio:.2f}x' if ratio else '-'} | {target} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ps", description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--counts", default="50,500")
    parser.add_argument("--tools", default="berth,docker,podman")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = start_logging_and_choose(args.tools, args.verbose)
    counts = sorted(int(c) for c in args.counts.split(","))
    found: list[Series] = []
    try:
        with bench_root("tmpfs") as base:
            build_busybox(base / "layout")
            registry = start_registry(base / "registry")
            tools: list[Tool] = []
            try:
                reference = f"{registry.host}/{REPOSITORY}"
                oci.push(base / "layout", "1", reference)
                made = [make_tool(name, base / "stores" / name) for name in names]
                tools = [tool for tool in made if isinstance(tool, Berth | Docker | Podman)]
                for tool in tools:
                    tool.start()
                    if (error := pulled(tool, reference)) is not None:
                        raise RuntimeError(f"{tool.name}: {error.error}")
                for count in counts:
                    log.info("starting containers up to %d per tool", count)
                    top_up_all(tools, reference, count)
                    log.info("measuring ps with %d running, taking turns", count)
                    argvs = {
                        name: (argv, container_env(tool))
                        for tool in tools
                        for name, argv in clients(tool).items()
                    }
                    found += measure(argvs, count, args.runs)
                store_fs = filesystem_of(base)
            finally:
                for tool in tools:
                    clean_up(tool)
                    if isinstance(tool, Docker) and (left := reap_shims(tool.store)):
                        log.warning("killed %d containers dockerd left running", left)
                registry.stop()
    finally:
        left = cleanup_cgroups()
        if left:
            log.warning("cgroups left behind: %s", left)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ps-{time.strftime('%Y%m%dT%H%M%S')}.json"
    report = {
        "store_filesystem": store_fs,
        "versions": versions(),
        "series": [asdict(s) for s in found],
    }
    out.write_text(json.dumps(report, indent=2))
    print(render(found, store_fs, args.runs))
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
