"""Image builds: `berth build` against dockerd's BuildKit and `buildah bud`, side by side.

Why: issue 13 asks, for a 3-stage Dockerfile of ~12 steps, measured in one run with every
store on the same filesystem (tmpfs), that berth's
- cold build take <= 1.0x BuildKit's (dockerd 20.10, `DOCKER_BUILDKIT=1`, Debian's 20.10
  client, which has BuildKit built in);
- no-change rebuild take <= 0.5x BuildKit's;
- rebuild after one changed COPY'd file take <= 1.0x BuildKit's;
with Debian's buildah beside them.

The Dockerfile needs no internet: every stage is FROM the busybox image of bench/run.py,
pushed to a loopback registry and pulled by each tool before the first round. Two independent
builder stages copy part of a context (200 small files; a 4 MiB file) and do a few RUN steps
of real work (sha256sum, gzip, tar, dd, ~0.1-0.5 s each); the final stage copies from both
and sets metadata. Each round, the tools take turns in each scenario (the first to go
rotates): **cold** (built image removed and build cache pruned first: `docker builder prune
-af`, `berth builder prune -f`, buildah's dangling intermediate images; the base image stays
pulled; `--no-cache` would not be the same for BuildKit), **no change** (the same build
again), **one file changed** (a COPY'd file of the first builder stage rewritten, then the
build again). Timed: the whole CLI command's wall clock (`bench.proc.timed`), after a `sync`.
After each build the image is run (untimed) and its output and config compared across the
tools: a benchmark of a broken build is worthless.

Network: dockerd runs with `--bridge=none` (bench/peers.py: never docker0 or the host's
iptables), where BuildKit's RUN fails ("network bridge not found"), and dockerd 20.10's
built-in Dockerfile frontend refuses `RUN --network=none` ("Unknown flag: network": it came
with the dockerfile:1.3 syntax, which needs pulling a frontend image). So by default every
tool builds with `--network none` on its command line: the same work everywhere, no host
change. `--bridge` measures what users get by default instead: berth's RUN steps on its
default bridge, dockerd's on a bridge made here (bench.api.docker_bridge: not docker0, no
iptables), and buildah left out (its CNI network is not set up here).

Everything is cleaned up in `finally` blocks: berth's containers removed, dockerd stopped,
buildah's containers removed and its mounts undone, the registry stopped, the tmpfs
unmounted, berth's cgroup parent removed. Must not import `berth`.
Usage: `.venv/bin/python -m bench.build [--rounds 5] [--tools berth,docker,buildah] [--bridge]
[--timeline]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.peers import (
    DOCKER,
    Berth,
    BerthBaseline,
    BerthOwnMonitor,
    Docker,
    _base_env,
    bench_root,
    filesystem_of,
    versions,
)
from bench.peers import start_logging_and_choose as choose
from bench.proc import run, sync, timed
from bench.run import REPOSITORY, build_busybox, cleanup_cgroups, container_env, remove_all
from bench.samples import Samples
from imagebuild.proc import unmount_all
from tests.fixtures import oci_layout as oci
from tests.fixtures.registry import start_registry

log = logging.getLogger("bench.build")

RESULTS = Path(__file__).resolve().parent / "results"
BUILDAH = "/usr/bin/buildah"
TAG = "bench/out:latest"
SCENARIOS = ("cold", "no change", "one file changed")
TARGETS = {"cold": 1.0, "no change": 0.5, "one file changed": 1.0}  # berth / BuildKit
CHANGED = Path("data/f001.txt")  # copied by the first builder stage

DOCKERFILE = """\
FROM {base} AS data
WORKDIR /work
COPY data/ ./data/
RUN find data -type f | sort | xargs cat | sha256sum > data.sha && tar -cf data.tar data
RUN seq 1 1000000 | sha256sum > seq.sha && seq 1 300000 | gzip -c > seq.gz

FROM {base} AS blobs
COPY blobs/ /blobs/
RUN dd if=/dev/zero bs=1M count=64 2>/dev/null | sha256sum > /blobs/zero.sha
RUN cd /blobs && sha256sum blob.bin > SUMS && gzip -1 -c < blob.bin > blob.gz \\
 && sha256sum blob.gz >> SUMS

FROM {base}
ENV APP_HOME=/app BENCH=build
WORKDIR /app
COPY --from=data /work/data.sha /work/seq.sha /work/data.tar ./
COPY --from=blobs /blobs/SUMS /blobs/zero.sha ./
LABEL org.berth.bench=build
EXPOSE 8080
CMD ["sh", "-c", "cat data.sha seq.sha zero.sha SUMS | sha256sum"]
"""


def make_context(directory: Path, base: str) -> None:
    """The Dockerfile, 200 small text files and one 4 MiB file (seeded: the same every run)."""
    (directory / "data").mkdir(parents=True)
    (directory / "blobs").mkdir()
    (directory / "Dockerfile").write_text(DOCKERFILE.format(base=base))
    for i in range(1, 201):
        numbers = " ".join(str(n) for n in range(i, i + 40))
        (directory / "data" / f"f{i:03}.txt").write_text(f"file {i}: {numbers}\n")
    (directory / "blobs" / "blob.bin").write_bytes(random.Random(13).randbytes(4 << 20))


# -- the builders ------------------------------------------------------------------------------


class Builder:
    """One building tool on its own store: pull the base, build, reset to cold, run."""

    name: str
    store: Path
    env: Mapping[str, str]
    network: list[str]  # build flags choosing the RUN steps' network
    cached_marker: str  # how its progress output says a step came from the cache

    def argv(self, *args: str) -> list[str]:
        raise NotImplementedError

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def pull_args(self, reference: str) -> list[str]:
        return ["pull", reference]

    def build_argv(self, context: Path) -> list[str]:
        return self.argv("build", *self.network, "-t", TAG, str(context))

    def reset_argvs(self) -> list[list[str]]:
        """Commands that leave the store as after the pull: no built image, no build cache."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        proc = self.call("image", "inspect", TAG)
        config: dict[str, Any] = json.loads(proc.stdout)[0]["Config"]
        return config

    def output(self) -> str:
        return str(self.call("run", "--rm", "--network", "none", TAG).stdout)

    def call(self, *args: str) -> Any:
        proc = run(self.argv(*args), env=self.env, check=False, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args[:2])}: {proc.stderr.strip()[-400:]}")
        return proc


class BerthBuilder(Builder):
    name = "berth"
    cached_marker = " CACHED"

    def __init__(self, store: Path, network: list[str], tool: type[Berth] = Berth) -> None:
        self.tool = tool(store)
        self.name = self.tool.name
        self.store = store
        self.env = container_env(self.tool)
        self.network = network

    def argv(self, *args: str) -> list[str]:
        return self.tool.argv(*args)

    def reset_argvs(self) -> list[list[str]]:
        return [self.argv("rmi", "-f", TAG), self.argv("builder", "prune", "-f")]

    def stop(self) -> None:
        remove_all(self.tool, self.env)


class DockerBuilder(Builder):
    name = "docker"
    cached_marker = " CACHED"

    def __init__(self, store: Path, daemon_flags: Sequence[str], network: list[str]) -> None:
        self.tool = Docker(store, daemon_flags)
        self.store = store
        self.env = {**self.tool.env, "DOCKER_BUILDKIT": "1"}
        self.network = network

    def argv(self, *args: str) -> list[str]:
        return self.tool.argv(*args)

    def start(self) -> None:
        self.tool.start()

    def pull_args(self, reference: str) -> list[str]:
        return ["pull", "--quiet", reference]

    def build_argv(self, context: Path) -> list[str]:
        return self.argv("build", "--progress=plain", *self.network, "-t", TAG, str(context))

    def reset_argvs(self) -> list[list[str]]:
        return [self.argv("rmi", "-f", TAG), self.argv("builder", "prune", "-af")]

    def stop(self) -> None:
        try:
            remove_all(self.tool, self.env)
        finally:
            self.tool.stop()


class BuildahBuilder(Builder):
    """buildah with its own root, runroot and config files (none read from /etc); `--layers`
    so that rebuilds can use a cache (podman build's default; buildah's is no cache), runc
    (crun refuses this hybrid cgroup layout) and small explicit rlimits (bench/run.py)."""

    name = "buildah"
    cached_marker = "Using cache"

    def __init__(self, store: Path) -> None:
        self.store = store
        self.network = ["--network", "none"]
        conf = store / "conf"
        self.env = {
            **_base_env(store),
            "CONTAINERS_CONF": str(conf / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(conf / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(conf / "registries.conf"),
            "XDG_RUNTIME_DIR": str(store / "run" / "xdg"),
        }

    def start(self) -> None:
        conf = self.store / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (self.store / "run" / "xdg").mkdir(parents=True, exist_ok=True)
        (conf / "containers.conf").write_text(
            "[containers]\n"
            'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'runtime = "runc"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{self.store}/events.log"\n'
            f'image_copy_tmp_dir = "{self.store}/tmp"\n'
            f'tmp_dir = "{self.store}/run/libpod"\n'
        )
        (conf / "storage.conf").write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{self.store}/root"\n'
            f'runroot = "{self.store}/run"\n'
        )
        (conf / "registries.conf").write_text("unqualified-search-registries = []\n")

    def argv(self, *args: str) -> list[str]:
        root, runroot = str(self.store / "root"), str(self.store / "run")
        return [BUILDAH, "--root", root, "--runroot", runroot, "--storage-driver", "overlay", *args]

    def pull_args(self, reference: str) -> list[str]:
        return ["pull", "--quiet", "--tls-verify=false", reference]

    def build_argv(self, context: Path) -> list[str]:
        return self.argv(
            "bud", "--layers", *self.network, "--tls-verify=false", "-t", TAG, str(context)
        )

    def reset_argvs(self) -> list[list[str]]:
        return [self.argv("rmi", "-f", TAG), self.argv("rmi", "--prune")]

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(self.call("inspect", "--type", "image", TAG).stdout)
        found: dict[str, Any] = config["Docker"]["config"]
        labels = found.get("Labels") or {}
        found["Labels"] = {k: v for k, v in labels.items() if k != "io.buildah.version"}
        return found

    def output(self) -> str:
        """buildah runs no images: a working container from it runs the image's Cmd."""
        command = self.config()["Cmd"]
        ident = self.call("from", "--pull=never", TAG).stdout.strip()
        try:
            return str(self.call("run", "--network", "none", ident, "--", *command).stdout)
        finally:
            self.call("rm", ident)

    def stop(self) -> None:
        try:
            run(self.argv("rm", "--all"), env=self.env, check=False, timeout=120)
        finally:
            unmount_all(self.store)


# -- measurements ------------------------------------------------------------------------------


@dataclass(slots=True)
class Series(Samples):
    """One tool's builds of one scenario: seconds, and how many steps each took from cache."""

    tool: str
    scenario: str
    cached_steps: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Report:
    store_filesystem: str = ""
    network: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    outputs: list[dict[str, str]] = field(default_factory=list)  # per round and scenario
    notes: list[str] = field(default_factory=list)
    load: list[str] = field(default_factory=list)  # /proc/loadavg before each round
    timelines: dict[str, list[str]] = field(default_factory=dict)  # progress lines, stamped


CONFIG_KEYS = ("Cmd", "Env", "WorkingDir", "Labels", "ExposedPorts", "Entrypoint")


def check(builders: Sequence[Builder], round_: int, scenario: str, report: Report) -> None:
    """Every tool's image prints the same line and has the same config; raises otherwise."""
    outputs = {b.name: b.output().strip() for b in builders}
    configs = {b.name: _fields(b.config()) for b in builders}
    report.outputs.append({"round": str(round_), "scenario": scenario, **outputs})
    if len(set(outputs.values())) != 1 or not all(outputs.values()):
        raise RuntimeError(f"round {round_} {scenario}: outputs differ: {outputs}")
    if len({json.dumps(c, sort_keys=True) for c in configs.values()}) != 1:
        raise RuntimeError(f"round {round_} {scenario}: configs differ: {configs}")


def _fields(config: dict[str, Any]) -> dict[str, Any]:
    return {key: config.get(key) or None for key in CONFIG_KEYS}  # null, [] and {} alike


def build(builder: Builder, context: Path, series: Series) -> None:
    sync()
    seconds, proc = timed(builder.build_argv(context), env=builder.env, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {(proc.stderr or '').strip()[-600:]}")
    series.samples.append(seconds)
    series.cached_steps.append((proc.stdout + proc.stderr).count(builder.cached_marker))


def measure(builders: Sequence[Builder], context: Path, rounds: int, report: Report) -> None:
    """Rounds of cold, no-change and one-file-changed builds, the tools taking turns in each
    (the first rotating); outputs checked after each scenario. A failure ends the run: the
    outputs could no longer be compared."""
    series = {(b.name, s): Series(b.name, s) for b in builders for s in SCENARIOS}
    report.series = list(series.values())
    for round_ in range(rounds):
        report.load.append(Path("/proc/loadavg").read_text().strip())
        order = [*builders[round_ % len(builders) :], *builders[: round_ % len(builders)]]
        for scenario in SCENARIOS:
            if scenario == "one file changed":
                (context / CHANGED).write_text(f"file 1, changed in round {round_}\n")
            for builder in order:
                if scenario == "cold":
                    for argv in builder.reset_argvs():
                        run(argv, env=builder.env, check=False, timeout=300)
                try:
                    build(builder, context, series[builder.name, scenario])
                except RuntimeError as error:
                    series[builder.name, scenario].error = str(error)
                    raise
            check(builders, round_, scenario, report)
        log.info("round %d: %s", round_ + 1, _summary(report.series))


def timeline(builder: Builder, context: Path) -> list[str]:
    """One more cold build (untimed by the table), each progress line stamped with the ms
    since the command started: where a tool's build spends its time, step by step."""
    for argv in builder.reset_argvs():
        run(argv, env=builder.env, check=False, timeout=300)
    sync()
    start = time.perf_counter()
    proc = subprocess.Popen(
        builder.build_argv(context),
        env=dict(builder.env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # as they come: the stamp is when the line was written
        if line.strip():
            lines.append(f"{(time.perf_counter() - start) * 1000:7.0f}  {line.rstrip()}")
    proc.wait()
    lines.append(f"{(time.perf_counter() - start) * 1000:7.0f}  (exit {proc.returncode})")
    return lines


def _summary(series: Sequence[Series]) -> str:
    return ", ".join(f"{s.tool} {s.scenario} {s.samples[-1]:.2f}s" for s in series if s.samples)


# -- the run -----------------------------------------------------------------------------------


def all_versions() -> dict[str, str]:
    found = {k: v for k, v in versions().items() if k in ("berth", "dockerd")}
    for name, binary in {"docker client": DOCKER, "buildah": BUILDAH}.items():
        if Path(binary).exists():  # buildah is not in every CI image
            found[name] = run([binary, "--version"], check=False).stdout.strip()
    found["python"] = sys.version.split()[0]
    found["kernel"] = platform.release()
    found["cpus"] = str(os.cpu_count())
    return found


BERTHS: dict[str, type[Berth]] = {
    "berth": Berth,
    "berth-monitor": BerthOwnMonitor,  # every container on berth's monitor
    "berth-base": BerthBaseline,  # another checkout's berth ($BERTH_BASELINE), for an A/B
}


def make_builders(
    names: Sequence[str], stores: Path, flags: list[str], bridge: bool
) -> list[Builder]:
    network = [] if bridge else ["--network", "none"]
    made: list[Builder] = []
    for name in names:
        store = stores / name
        store.mkdir(parents=True)
        if name in BERTHS:
            made.append(BerthBuilder(store, network, BERTHS[name]))
        elif name == "docker":
            made.append(DockerBuilder(store, flags, network))
        elif name == "buildah" and not bridge:
            made.append(BuildahBuilder(store))
        elif name == "buildah":
            log.warning("buildah left out with --bridge: its CNI network is not set up here")
    return made


def run_all(args: argparse.Namespace, names: Sequence[str]) -> Report:
    from bench.api import docker_bridge

    report = Report(versions=all_versions(), network="default bridges" if args.bridge else "none")
    with bench_root("tmpfs") as base:
        build_busybox(base / "layout")
        registry = start_registry(base / "registry")
        try:
            reference = f"{registry.host}/{REPOSITORY}"
            oci.push(base / "layout", "1", reference)
            make_context(base / "context", reference)
            with docker_bridge(args.bridge) as (flags, differences):
                builders = make_builders(names, base / "stores", flags, args.bridge)
                try:
                    for builder in builders:
                        builder.start()
                        builder.call(*builder.pull_args(reference))
                    measure(builders, base / "context", args.rounds, report)
                    for builder in builders:
                        if args.timeline and not isinstance(builder, BuildahBuilder):
                            report.timelines[builder.name] = timeline(builder, base / "context")
                except RuntimeError as error:
                    report.notes.append(f"stopped: {error}")
                    log.error("%s", error)
                finally:
                    stop_all(builders, report)
            report.notes += [f"host difference: {d}" for d in differences]
            report.store_filesystem = filesystem_of(base)
        finally:
            registry.stop()
    return report


def stop_all(builders: Sequence[Builder], report: Report) -> None:
    """Each tool's containers removed and the tool stopped; berth's bridge must be gone."""
    for builder in builders:
        try:
            builder.stop()
        except Exception:
            log.exception("stopping %s failed", builder.name)
        if isinstance(builder, BerthBuilder):
            from bench import network as net

            report.notes += [f"berth left: {d}" for d in net.berth_leftovers(builder.tool)]


# -- the report --------------------------------------------------------------------------------


def render(report: Report, rounds: int) -> str:
    lines = [
        f"Stores: {report.store_filesystem}; RUN network: {report.network}; {rounds} rounds",
        f"Versions: {json.dumps(report.versions)}",
        f"Load average before each round: {'; '.join(report.load)}",
        "",
        "| scenario | tool | median | min | max | steps cached | / BuildKit (medians) | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    docker = {s.scenario: s.median for s in report.series if s.tool == "docker"}
    for s in report.series:
        if not s.samples:
            lines.append(f"| {s.scenario} | {s.tool} | failed: {(s.error or '-')[:200]} |||||")
            continue
        ref, ratio, target = docker.get(s.scenario), "-", ""
        if s.tool != "docker" and ref and s.median is not None:
            ratio = f"{s.median / ref:.2f}x"
            if s.tool == "berth":
                goal = TARGETS[s.scenario]
                target = f"<= {goal}x: {'met' if s.median / ref <= goal else 'MISSED'}"
        cached = "/".join(str(c) for c in sorted(set(s.cached_steps)))
        lines.append(
            f"| {s.scenario} | {s.tool} | {s.median:.3f} s | {min(s.samples):.3f} s | "
            f"{max(s.samples):.3f} s | {cached} | {ratio} | {target} |"
        )
    outputs = {o[k] for o in report.outputs for k in o if k not in ("round", "scenario")}
    lines += ["", f"Checked {len(report.outputs)} builds' outputs ({len(outputs)} distinct)."]
    lines += report.notes
    for name, stamped in report.timelines.items():
        lines += ["", f"One more cold build by {name}, ms since its start:", "", "```"]
        lines += [*stamped, "```"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.build", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tools", default="berth,docker,buildah")
    parser.add_argument("--bridge", action="store_true", help="RUN steps on default bridges")
    parser.add_argument(
        "--timeline", action="store_true", help="a stamped cold build by each tool too"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = choose(args.tools, args.verbose)
    if "buildah" in names and not Path(BUILDAH).exists():
        log.warning("buildah is not installed (apt-get install buildah): leaving it out")
        names.remove("buildah")
    try:
        report = run_all(args, names)
    finally:
        left = cleanup_cgroups()
        if left:
            log.warning("cgroups left behind: %s", left)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"build-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(asdict(report) | {"args": vars(args)}, indent=2))
    print(render(report, args.rounds))
    print(f"\nraw results: {out}", file=sys.stderr)
    stopped = any(note.startswith("stopped:") for note in report.notes)
    return 1 if stopped or any(s.error for s in report.series) else 0


if __name__ == "__main__":
    raise SystemExit(main())
