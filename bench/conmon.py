"""conmon driving berth's runtime (`berth-runtime`, runc's command line): memory per idle
container, and what the runtime's command line costs podman's `run`.

Why (issue 16): a berth monitor holds ~7 MiB PSS per running container; conmon, podman's
monitor, ~0.4 MiB. With berth's runtime behind runc's command line, conmon can hold berth's
containers. This measures, on the same busybox image in stores on one private tmpfs:

- PSS and RSS of the per-container process at 1 and N idle containers (`sleep 3600`):
  berth's containers under conmon (the default), under berth's monitor
  (`BERTH_MONITOR=berth`), docker's containerd-shim (and dockerd + containerd beside them),
  conmon with runc, and conmon with berth-runtime (which leaves nothing of its own running:
  checked);
- `podman run --rm busybox true` with runc and with berth-runtime, taking turns, and each
  runtime's own create/start/state/delete on a prepared bundle (what conmon and podman wait
  for).

crun is left out: it refuses this host's hybrid cgroup layout (DESIGN §7c). podman uses
berth-runtime's default root (/run/berth-runtime): its `container cleanup` gets no
--runtime-flag. Usage: `.venv/bin/python -m bench.conmon [--containers 1,50,200] [--runs 10]`.
Must not import `berth`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.peers import (
    Berth,
    BerthOwnMonitor,
    Docker,
    Podman,
    bench_root,
    filesystem_of,
    start_logging_and_choose,
)
from bench.proc import run, timed
from bench.run import (
    CGROUP_PARENT,
    REPOSITORY,
    WARMUP,
    Latency,
    build_busybox,
    clean_up,
    cleanup_cgroups,
    container_env,
    make_bundle,
    measure_interleaved,
    memory_of,
    monitors_of_sleepers,
    pulled,
)
from tests.fixtures import oci_layout as oci
from tests.fixtures.registry import start_registry

log = logging.getLogger("bench.conmon")

BERTH_RUNTIME = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "berth-runtime"
# runc needs small explicit limits here (root lacks CAP_SYS_RESOURCE, see bench.run._runtime).
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096")


class PodmanBerthRuntime(Podman):
    """podman whose OCI runtime is berth-runtime (conmon still its monitor)."""

    name = "podman+berth-runtime"


Tool = Berth | Docker | Podman


def run_flags(tool: Tool) -> list[str]:
    if isinstance(tool, PodmanBerthRuntime):
        return ["--runtime", str(BERTH_RUNTIME), *ULIMITS]
    if isinstance(tool, Podman):
        return ["--runtime", "runc", *ULIMITS]
    return []


def add_sleepers(tool: Tool, reference: str, count: int) -> None:
    for _ in range(count):
        argv = ["run", *run_flags(tool), "-d", "--network", "none", reference, "sleep", "3600"]
        run(tool.argv(*argv), env=container_env(tool), timeout=120)


def private_kib(pids: Sequence[int]) -> float:
    """Average USS (Private_Clean + Private_Dirty, KiB): unlike PSS it does not fall when
    other processes (another benchmark's conmons) share the same pages."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total / len(pids)


def daemons_pss(tool: Tool, monitors: Sequence[int]) -> float:
    """KiB of PSS of the tool's daemons: dockerd and its containerd; berth's monitor zygote
    (the parent of the monitors it forked, while it lives); 0 for the daemonless."""
    if isinstance(tool, Berth):
        zygotes = {_parent(pid) for pid in monitors} - {0, 1}
        zygotes = {pid for pid in zygotes if _comm(pid) == "berth-zygote"}
        return memory_of(sorted(zygotes))[1] * len(zygotes) if zygotes else 0.0
    if not isinstance(tool, Docker):
        return 0.0
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        daemon = "dockerd" in cmdline or ("containerd" in cmdline and "shim" not in cmdline)
        if str(tool.store) in cmdline and daemon:
            pids.append(int(entry))
    return memory_of(pids)[1] * len(pids) if pids else 0.0


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def berth_runtime_processes() -> list[str]:
    """Processes running berth-runtime's code: the command, or a container's init before its
    exec (a fork of it), not conmon naming it in its arguments."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(word.endswith(b"/berth-runtime") for word in argv[:2]):
                found.append(b" ".join(argv).decode(errors="replace")[:120])
    return found


def runtime_commands(base: Path, layer_tar: bytes, runs: int) -> list[Latency]:
    """berth-runtime's and runc's create, start, state and delete on one prepared bundle
    (`true`, no terminal), each with a root of its own, taking turns: what conmon and podman
    wait for per command. The container's cgroup is under berth-bench (removed at the end)."""
    bundle = make_bundle(base / "bundle", layer_tar)
    config = json.loads((bundle / "config.json").read_text())
    config["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/oci"
    (bundle / "config.json").write_text(json.dumps(config))
    runtimes = {"berth-runtime": str(BERTH_RUNTIME), "runc": "runc"}
    results = {
        (name, verb): Latency(name, verb)
        for name in runtimes
        for verb in ("create", "start", "state", "delete")
    }
    for i in range(WARMUP + runs):
        for name, path in runtimes.items():
            prefix = [path, "--root", str(base / f"{name}-root")]
            for verb, words in (
                ("create", ["create", "--bundle", str(bundle)]),
                ("start", ["start"]),
                ("state", ["state"]),
                ("delete", ["delete", "--force"]),
            ):
                seconds, proc = timed([*prefix, *words, f"c{i}"], timeout=60, capture=False)
                if proc.returncode != 0:
                    raise RuntimeError(f"{name} {verb} failed with {proc.returncode}")
                if i >= WARMUP:
                    results[name, verb].samples.append(seconds)
    return list(results.values())


def measure_memory(tools: Sequence[Tool], reference: str, counts: Sequence[int]) -> list[str]:
    """Markdown rows: per tool and container count, the monitors' PSS and RSS."""
    rows = []
    started = 0
    for count in counts:
        for tool in tools:
            add_sleepers(tool, reference, count - started)
        for tool in tools:
            pids = monitors_of_sleepers(f"{tool.store}/")
            if len(pids) != count:
                log.warning("%s: %d monitors for %d containers", tool.name, len(pids), count)
            if not pids:
                continue
            rss, pss, name = memory_of(pids)
            daemons = daemons_pss(tool, pids)
            total = pss * len(pids) + daemons
            rows.append(
                f"| {tool.name} | {name} | {len(pids)} | {rss / 1024:.1f} MiB | "
                f"{pss / 1024:.2f} MiB | {private_kib(pids) / 1024:.2f} MiB | "
                f"{daemons / 1024:.1f} MiB | {total / 1024:.1f} MiB |"
            )
        left = berth_runtime_processes()
        if left:
            log.warning("berth-runtime processes still running: %s", left)
        rows.append(f"| (berth-runtime processes left at {count}) | | {len(left)} | | | | | |")
        started = count
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.conmon", description=__doc__)
    parser.add_argument(
        "--containers", default="1,50", help="the counts of idle containers measured, in order"
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = start_logging_and_choose("berth,docker,podman", args.verbose)
    if not BERTH_RUNTIME.exists():
        log.error("%s is missing: run scripts/setup", BERTH_RUNTIME)
        return 1
    rows: list[str] = []
    latencies: list[Latency] = []
    try:
        with bench_root("tmpfs") as base:
            layer_tar = build_busybox(base / "layout")
            latencies = runtime_commands(base, layer_tar, args.runs)
            registry = start_registry(base / "registry")
            tools: list[Tool] = []
            try:
                reference = f"{registry.host}/{REPOSITORY}"
                oci.push(base / "layout", "1", reference)
                for name in names:
                    store = base / "stores" / name
                    store.mkdir(parents=True)
                    tools.append({"berth": Berth, "docker": Docker, "podman": Podman}[name](store))
                store = base / "stores" / "podman-br"
                store.mkdir(parents=True)
                tools.append(PodmanBerthRuntime(store))
                if "berth" in names:
                    store = base / "stores" / BerthOwnMonitor.name
                    store.mkdir(parents=True)
                    tools.append(BerthOwnMonitor(store))
                for tool in tools:
                    tool.start()
                    failed = pulled(tool, reference)
                    if failed:
                        raise RuntimeError(f"{tool.name}: {failed.error}")
                podmans = [tool for tool in tools if isinstance(tool, Podman)]
                latencies += measure_interleaved(
                    "run --rm true",
                    {
                        tool: tool.argv("run", *run_flags(tool), "--rm", "--network", "none",
                                        reference, "true")
                        for tool in podmans
                    },
                    args.runs,
                )  # fmt: skip
                counts = [int(count) for count in args.containers.split(",")]
                rows = measure_memory(tools, reference, counts)
            finally:
                for tool in tools:
                    clean_up(tool)
                registry.stop()
                store_fs = filesystem_of(base)
    finally:
        left = cleanup_cgroups()
        if left:
            log.warning("cgroups left behind: %s", left)
    print(f"Store filesystem: {store_fs}; load average {os.getloadavg()[0]:.1f}\n")
    print("| tool | command | median | min |\n|---|---|---|---|")
    for lat in latencies:
        if lat.error or not lat.samples:
            print(f"| {lat.tool} | `{lat.command}` | failed: {lat.error} | |")
            continue
        median, low = statistics.median(lat.samples), min(lat.samples)
        print(f"| {lat.tool} | `{lat.command}` | {median * 1000:.0f} ms | {low * 1000:.0f} ms |")
    print(
        "\n| tool | per-container process | containers | RSS avg | PSS avg | USS avg "
        "| daemons PSS | total PSS |\n|---|---|---|---|---|---|---|---|"
    )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
