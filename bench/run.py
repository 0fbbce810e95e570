"""Containers: `run --rm IMAGE true` latency, `ps` with 50 running, memory per idle container.

Why: the issue asks berth's `run --rm true` to be <= 0.5x docker's median and no slower than
podman's, and `ps` with 50 running containers <= 1.5x `docker ps`; and a daemonless engine
pays one monitor process per container, so its memory must be compared with docker's
containerd-shim and podman's conmon. All in one run, on the same busybox image (the test
fixtures' busybox-static layer) pushed to a loopback registry and pulled by each tool into
stores on one private tmpfs (DESIGN §7b: the root filesystem would decide the race).

The floor is `runc run` (and crun) on a prepared OCI bundle: the busybox layer extracted,
`runc spec` edited to run `true` without a terminal. Every tool runs without a network
(`--network none`; dockerd runs with --bridge=none). Timings: wall clock around
fork+exec+waitpid (`bench.proc.timed`, never `subprocess.run(timeout=)`, which polls).
The breakdown of berth's `run --rm true` comes from `strace --seccomp-bpf -f -ttt` of its
milestones only (execs, exits, the monitor hand-over, unshare, pivot_root, the unmount).

Everything is cleaned up in `finally` blocks: containers removed, dockerd stopped, tmpfs
unmounted, berth's cgroup parent (`BERTH_CGROUP_PARENT=berth-bench`) removed when empty.
Must not import `berth`. Usage: `.venv/bin/python -m bench.run [--runs 20] [--containers 50]`.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import shutil
import statistics
import sys
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.peers import (
    BERTH,
    Berth,
    Docker,
    Podman,
    bench_root,
    filesystem_of,
    make_tool,
    start_logging_and_choose,
    versions,
)
from bench.proc import remove_tree, run, timed
from bench.samples import Samples
from tests.fixtures import oci_layout as oci
from tests.fixtures.images import base_entries
from tests.fixtures.registry import start_registry

log = logging.getLogger("bench.run")

RESULTS = Path(__file__).resolve().parent / "results"
CGROUP_PARENT = "berth-bench"
CGROUP_ROOT = Path("/sys/fs/cgroup")
REPOSITORY = "bench/busybox:1"
WARMUP = 3


@dataclass(slots=True)
class Latency(Samples):
    """One command's timings; `error` set when it could not run."""

    tool: str
    command: str


@dataclass(slots=True)
class Memory:
    """Per-container process memory: the monitor/shim/conmon of each running container."""

    tool: str
    process: str
    count: int
    rss_kib_avg: float
    pss_kib_avg: float


Tool = Berth | Docker | Podman


def measure_interleaved(
    command: str, argvs: Mapping[Tool, Sequence[str]], runs: int
) -> list[Latency]:
    """Each tool's median and min of `runs` timed runs after WARMUP untimed ones, the tools
    taking turns run by run: this VM's speed drifts over minutes (steal time), and timing
    one tool after the other put the drift into the ratios (`ps` swung 1.1x-2.2x docker's).
    A failure is reported and ends that tool's series."""
    results = {tool: Latency(tool.name, command) for tool in argvs}
    for i in range(WARMUP + runs):
        for tool, argv in argvs.items():
            result = results[tool]
            if result.error:
                continue
            seconds, proc = timed(argv, env=container_env(tool), timeout=120)
            if proc.returncode != 0:
                result.error = f"exit {proc.returncode}: {(proc.stderr or '').strip()[-300:]}"
            elif i >= WARMUP:
                result.samples.append(seconds)
    return list(results.values())


def build_busybox(layout: Path) -> bytes:
    """The fixtures' busybox image as a Docker schema 2 layout; returns the layer tar."""
    tar = oci.make_tar(base_entries())
    image = oci.build_image([tar], "gzip", "docker", config=oci.ImageConfig(cmd=("sh",)))
    oci.write_layout(layout, {"1": image})
    return tar


def make_bundle(bundle: Path, layer_tar: bytes) -> Path:
    """An OCI bundle for `runc run`: the layer extracted, `runc spec` running `true`.

    The cgroup namespace is dropped: crun refuses it on this hybrid layout, and runc does
    not need it either; both runtimes get the same spec.
    """
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(layer_tar)) as tf:
        tf.extractall(rootfs)  # our own fixture tar; 3.11.0 lacks filter=
    run(["runc", "spec", "--bundle", bundle])
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["true"]
    config["process"]["terminal"] = False
    config["linux"]["namespaces"] = [
        n for n in config["linux"]["namespaces"] if n["type"] != "cgroup"
    ]
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def _proc_children() -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, comm, cmdline) for every process (a snapshot of /proc)."""
    table: dict[int, tuple[int, str, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        table[int(entry)] = (ppid, comm, cmdline)
    return table


def _is_monitor(comm: str, cmdline: str) -> bool:
    return comm.startswith("containerd-shim") or comm == "conmon" or "berth.monitor" in cmdline


def _names(pid: int, cmdline: str, marker: str) -> bool:
    """Whether a process's command line or one of its open files names `marker` (berth's
    monitor is started before its container exists, so only its files name the store)."""
    if marker in cmdline:
        return True
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if marker in os.readlink(f"/proc/{pid}/fd/{fd}"):
                return True
        except OSError:
            continue
    return False


def monitors_of_sleepers(marker: str) -> list[int]:
    """The per-container monitor (berth.monitor, containerd-shim, conmon) of each `sleep
    3600` process: the nearest such ancestor whose command line or open files name `marker`
    (the tool's store: other work on this machine runs containers too). Walking up from the
    containers' own processes avoids guessing each tool's bookkeeping. (busybox `sleep 3600
    X` would add X to the duration and fail, so the marker can't be an argument of sleep.)"""
    table = _proc_children()
    found: list[int] = []
    for pid, (_ppid, _comm, cmdline) in table.items():
        if cmdline != "sleep 3600":
            continue
        cursor = table[pid][0]
        while cursor > 1 and cursor in table:
            parent, comm, cmd = table[cursor]
            if _is_monitor(comm, cmd):
                if _names(cursor, cmd, marker):
                    found.append(cursor)
                break
            cursor = parent
    return sorted(set(found))


def memory_of(pids: Sequence[int]) -> tuple[float, float, str]:
    """Average VmRSS and Pss (KiB) over pids, and their process name."""
    rss: list[int] = []
    pss: list[int] = []
    names: set[str] = set()
    for pid in pids:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            status = f.read()
        names.add(re.search(r"^Name:\s*(\S+)", status, re.M).group(1))  # type: ignore[union-attr]
        rss.append(int(re.search(r"^VmRSS:\s*(\d+)", status, re.M).group(1)))  # type: ignore[union-attr]
        with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as f:
            pss.append(int(re.search(r"^Pss:\s*(\d+)", f.read(), re.M).group(1)))  # type: ignore[union-attr]
    return statistics.mean(rss), statistics.mean(pss), ",".join(sorted(names))


def container_env(tool: Berth | Docker | Podman) -> dict[str, str]:
    env = dict(tool.env)
    if isinstance(tool, Berth):
        env["BERTH_CGROUP_PARENT"] = CGROUP_PARENT
    return env


def leftover_containers(tool: Berth | Docker | Podman, env: Mapping[str, str]) -> list[str]:
    proc = run(tool.argv("ps", "-aq"), env=env, check=False, timeout=120)
    return proc.stdout.split()


def remove_all(tool: Berth | Docker | Podman, env: Mapping[str, str]) -> None:
    """Force-remove every container of the tool (podman: no 10 s stop grace); berth's kept
    default bridge and its nft table go too (`network prune`)."""
    ids = leftover_containers(tool, env)
    extra = ["-t", "0"] if isinstance(tool, Podman) else []
    for start in range(0, len(ids), 25):
        run(tool.argv("rm", "-f", *extra, *ids[start : start + 25]), env=env, check=False)
    if isinstance(tool, Berth):
        run(tool.argv("network", "prune", "-f"), env=env, check=False)


def pulled(tool: Tool, reference: str) -> Latency | None:
    """Pull the image into the tool's store; an error row when that fails."""
    result = run(tool.pull_argv(reference), env=container_env(tool), check=False, timeout=300)
    if result.returncode == 0:
        return None
    return Latency(tool.name, "run --rm true", error=f"pull failed: {result.stderr[-300:]}")


def start_sleepers(tool: Tool, reference: str, containers: int) -> None:
    env = container_env(tool)
    for _ in range(containers):
        argv = [*_runtime(tool), "-d", "--network", "none", reference, "sleep", "3600"]
        run(tool.argv("run", *argv), env=env, timeout=120)
    listed = len(run(tool.argv("ps", "-q"), env=env, timeout=120).stdout.split())
    if listed != containers:
        log.warning("%s ps lists %d containers, not %d", tool.name, listed, containers)


def memory_of_sleepers(tool: Tool) -> Memory | None:
    pids = monitors_of_sleepers(f"{tool.store}/")  # berth/ is not berth-base/
    if not pids:
        return None
    rss, pss, name = memory_of(pids)
    return Memory(tool.name, name, len(pids), rss, pss)


def measure_tools(
    tools: Sequence[Tool], reference: str, runs: int, containers: int
) -> tuple[list[Latency], list[Memory]]:
    """run --rm latency, then `ps` with `containers` sleepers per tool and their monitors'
    memory; the tools take turns in every series (measure_interleaved)."""
    latencies = [error for tool in tools if (error := pulled(tool, reference))]
    ready = [tool for tool in tools if tool.name not in {lat.tool for lat in latencies}]
    latencies += measure_interleaved(
        "run --rm true", {tool: _run_rm(tool, reference) for tool in ready}, runs
    )
    for tool in ready:
        if leftover_containers(tool, container_env(tool)):
            raise RuntimeError(f"{tool.name} run --rm left a container behind")
        start_sleepers(tool, reference, containers)
    latencies += measure_interleaved(
        f"ps ({containers} running)", {tool: tool.argv("ps") for tool in ready}, max(runs, 30)
    )
    memories = [memory for tool in ready if (memory := memory_of_sleepers(tool))]
    for tool in ready:
        remove_all(tool, container_env(tool))
    return latencies, memories


def _runtime(tool: Berth | Docker | Podman) -> list[str]:
    """podman: runc (crun refuses this cgroup layout) and small explicit rlimits: without
    them runc fails to set nproc/nofile (EPERM: root lacks CAP_SYS_RESOURCE, DESIGN §7b),
    even at the values of peers.py's `default_ulimits` (the inherited hard limits); small
    values work. `true` and `sleep` don't care about the limits."""
    if not isinstance(tool, Podman):
        return []
    return ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]


def _run_rm(tool: Berth | Docker | Podman, reference: str) -> list[str]:
    return tool.argv("run", *_runtime(tool), "--rm", "--network", "none", reference, "true")


def runtime_floor(base: Path, layer_tar: bytes, runs: int) -> list[Latency]:
    """`runc run` and `crun run` of the prepared bundle (no engine, no image store)."""
    bundle = make_bundle(base / "bundle", layer_tar)
    results = []
    counter = iter(range(1_000_000))
    for binary in ("runc", "crun"):
        path = shutil.which(binary)
        if path is None:
            results.append(Latency(binary, "run (bundle)", error="not installed"))
            continue
        state = base / f"{binary}-state"

        def argv(path: str = path, state: Path = state) -> list[str]:
            return [path, "--root", str(state), "run", "--bundle", str(bundle), f"b{next(counter)}"]

        latency = Latency(binary, "run (bundle)")
        for i in range(WARMUP + runs):
            seconds, proc = timed(argv(), timeout=60)
            if proc.returncode != 0:
                latency.error = f"exit {proc.returncode}: {(proc.stderr or '').strip()[-300:]}"
                break
            if i >= WARMUP:
                latency.samples.append(seconds)
        results.append(latency)
    return results


def breakdown(tool: Berth, reference: str, base: Path) -> list[tuple[float, str]]:
    """Milestones of one `berth run --rm true` under strace, ms since the CLI's exec.

    Only the milestones are traced, with `--seccomp-bpf`, so the other system calls run
    untraced and the timeline stays close to an untraced run's (each traced call still costs
    a stop): every exec and exit, the CLI's hand-over to the monitor (the only `sendmsg` on
    this path), and the init's `unshare`, `pivot_root` and the `umount2` of the rootfs.
    """
    env = container_env(tool)
    out = base / "strace.txt"
    argv = [
        "strace",
        "--seccomp-bpf",
        "-f",
        "-ttt",
        "-qq",
        "-e",
        "trace=execve,exit_group,sendmsg,unshare,pivot_root,umount2",
        "-e",
        "signal=none",
        "-o",
        str(out),
        *_run_rm(tool, reference),
    ]
    run(argv, env=env, timeout=120)
    events: list[tuple[float, str]] = []
    start: float | None = None
    pattern = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
    for line in out.read_text().splitlines():
        m = pattern.match(line)
        if not m or m.group(3).startswith("<..."):
            continue  # a call's resumption: its start is the milestone
        pid, stamp, call = m.group(1), float(m.group(2)), m.group(3)
        if start is None:
            start = stamp
        short = call[:140].replace(str(BERTH.parent), "venv/bin")
        events.append(((stamp - start) * 1000, f"[{pid}] {short}"))
    return events


def phases(tool: Berth, reference: str, runs: int) -> list[Latency]:
    """berth's `run --rm true` split from outside, without tracing overhead: CLI start-up
    (`--version`), `create`, `start -a` (monitor, runtime, init, `true`, exit), `rm`."""
    env = container_env(tool)
    samples: dict[str, list[float]] = {"--version": [], "create": [], "start -a": [], "rm": []}
    for i in range(WARMUP + runs):
        seconds, proc = timed(tool.argv("--version"), env=env)
        took = {"--version": seconds}
        create = tool.argv("create", "--network", "none", reference, "true")
        took["create"], proc = timed(create, env=env)
        if proc.returncode != 0:
            return [Latency("berth", "create", error=proc.stderr.strip()[-300:])]
        ident = proc.stdout.strip()
        took["start -a"], proc = timed(tool.argv("start", "-a", ident), env=env)
        took["rm"], proc = timed(tool.argv("rm", ident), env=env)
        if proc.returncode != 0:
            return [Latency("berth", "rm", error=proc.stderr.strip()[-300:])]
        if i >= WARMUP:
            for key, value in took.items():
                samples[key].append(value)
    return [Latency("berth", f"phase: {key}", samples=values) for key, values in samples.items()]


def clean_up(tool: Tool) -> None:
    """Every container removed, the tool stopped, its store gone; a failure is logged, so
    the other tools are still cleaned up."""
    try:
        remove_all(tool, container_env(tool))
        if isinstance(tool, Podman):
            wait_for_store_processes(tool.store)
    except Exception:
        log.exception("removing %s's containers failed", tool.name)
    finally:
        tool.stop()
        remove_tree(tool.store)


def wait_for_store_processes(store: Path, timeout: float = 30) -> None:
    """Wait until no process names the store: podman's conmon runs `podman container
    cleanup` after `rm -f` returns, and it would keep the store's overlay mount busy and
    write into the directory under the tmpfs after it is (lazily) unmounted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(str(store) in cmd for _ppid, _comm, cmd in _proc_children().values()):
            return
        time.sleep(0.1)
    log.warning("processes still use %s", store)


def cleanup_cgroups() -> list[str]:
    """Remove berth-bench cgroup dirs (deepest first); returns those that stay (non-empty)."""
    left = []
    for hierarchy in CGROUP_ROOT.iterdir():
        top = hierarchy / CGROUP_PARENT
        if not top.is_dir():
            continue
        dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for d in [*dirs, top]:
            try:
                d.rmdir()
            except OSError:
                left.append(str(d))
    return left


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def render(
    latencies: list[Latency],
    memories: list[Memory],
    events: list[tuple[float, str]],
    store_fs: str,
    runs: int,
) -> str:
    """Markdown: latency rows with ratios to docker, memory rows, the strace timeline."""
    docker = {lat.command: lat.median for lat in latencies if lat.tool == "docker"}
    lines = [
        f"Store filesystem: {store_fs}; `run --rm true` {runs} runs, `ps` max({runs}, 30) runs, "
        f"each after {WARMUP} warm-ups",
        "",
        "| tool | command | median | min | / docker |",
        "|---|---|---|---|---|",
    ]
    for lat in latencies:
        if lat.error:
            lines.append(f"| {lat.tool} | `{lat.command}` | failed: {lat.error[:120]} | | |")
            continue
        ref = docker.get("run --rm true" if lat.command == "run (bundle)" else lat.command)
        ratio = f"{lat.median / ref:.2f}x" if ref and lat.median is not None else "-"
        lines.append(
            f"| {lat.tool} | `{lat.command}` | {_ms(lat.median)} | {_ms(lat.minimum)} | {ratio} |"
        )
    lines += [
        "",
        "| tool | per-container process | count | RSS avg | PSS avg |",
        "|---|---|---|---|---|",
    ]
    for m in memories:
        lines.append(
            f"| {m.tool} | {m.process} | {m.count} | {m.rss_kib_avg / 1024:.1f} MiB | "
            f"{m.pss_kib_avg / 1024:.1f} MiB |"
        )
    if events:
        lines += ["", "strace timeline of one `berth run --rm true` (ms since start):", "", "```"]
        lines += [f"{ms:8.1f}  {what}" for ms, what in events]
        lines.append("```")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--tools", default="berth,docker,podman")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = start_logging_and_choose(args.tools, args.verbose)
    latencies: list[Latency] = []
    memories: list[Memory] = []
    events: list[tuple[float, str]] = []
    try:
        with bench_root("tmpfs") as base:
            layer_tar = build_busybox(base / "layout")
            registry = start_registry(base / "registry")
            try:
                reference = f"{registry.host}/{REPOSITORY}"
                oci.push(base / "layout", "1", reference)
                latencies += runtime_floor(base, layer_tar, args.runs)
                made = [make_tool(name, base / "stores" / name) for name in names]
                chosen = [tool for tool in made if isinstance(tool, Berth | Docker | Podman)]
                try:
                    for tool in chosen:
                        tool.start()
                    log.info("measuring %s, taking turns", ", ".join(names))
                    found, memories = measure_tools(chosen, reference, args.runs, args.containers)
                    latencies += found
                    berth = next((tool for tool in chosen if isinstance(tool, Berth)), None)
                    if berth is not None:
                        latencies += phases(berth, reference, args.runs)
                        if shutil.which("strace"):
                            events = breakdown(berth, reference, base)
                finally:
                    for tool in chosen:
                        clean_up(tool)
                store_fs = filesystem_of(base)
            finally:
                registry.stop()
    finally:
        left = cleanup_cgroups()
        if left:
            log.warning("cgroups left behind: %s", left)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"run-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "store_filesystem": store_fs,
                "versions": versions(),
                "latencies": [asdict(lat) for lat in latencies],
                "memory": [asdict(m) for m in memories],
                "strace": events,
            },
            indent=2,
        )
    )
    print(render(latencies, memories, events, store_fs, args.runs))
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
