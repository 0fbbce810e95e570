"""Saving and loading an image: `berth save`/`berth load` against dockerd's, side by side.

Why: issue 14 asks that `save` and `load` of the same image each take <= 1.0x the time of
Docker's (dockerd 20.10, private, bench.peers.Docker), measured in one run.

Method (why each step is there):
- The image is the cold pull's (`bench/debian-pg:1`: 3 layers, 223 MB compressed, 670 MB
  uncompressed, one layer of >20k small files), pushed to a loopback registry and pulled by
  both tools before the first round (untimed): each saves what it pulled.
- Every store, the registry and the archives are on one private tmpfs (DESIGN §7b).
- Each round the tools take turns (the first rotating): **save** `-o` a file (removed
  first), then **load** that same file into a store without the image (`rmi` and, for
  berth, its collection, untimed): so each load unpacks every layer. `sync` before each
  timed command: one tool's writeback must not bill the next.
- Timed: the whole CLI command's wall clock (`bench.proc.timed`).
- Checked after each load: the image id is the pulled one. After the rounds, once (untimed):
  docker loads berth's archive and berth docker's, and each runs the other's image.
Results: median and min per tool and operation, ratio of medians to docker; JSON under
bench/results/. Everything started is stopped (dockerd, the registry) and the tmpfs is
unmounted in `finally` blocks. Must not import `berth`.
Usage: `.venv/bin/python -m bench.save_load [--rounds 5] [--tools berth,docker]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.images import COLD_IMAGE, build_image, push_image
from bench.peers import DOCKER, Berth, Docker, bench_root, filesystem_of, versions
from bench.peers import start_logging_and_choose as choose
from bench.proc import run, sync, timed
from bench.run import cleanup_cgroups, container_env
from bench.samples import Samples
from tests.fixtures.registry import start_registry

log = logging.getLogger("bench.save_load")

RESULTS = Path(__file__).resolve().parent / "results"
OPERATIONS = ("save", "load")
TARGETS = {"save": 1.0, "load": 1.0}  # berth / docker
CHECK = ["cat", "/etc/debian_version"]


class Tool:
    """One tool on its own store: pull, save, drop the image, load, run."""

    def __init__(self, name: str, store: Path) -> None:
        self.name = name
        self.daemon = Docker(store) if name == "docker" else None
        self.cli = self.daemon or Berth(store)
        self.env = container_env(self.cli)

    def start(self) -> None:
        if self.daemon is not None:
            self.daemon.start()

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()

    def call(self, *args: str, timeout: float = 600) -> Any:
        proc = run(self.cli.argv(*args), env=self.env, check=False, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args[:2])}: {proc.stderr.strip()[-400:]}")
        return proc

    def image_id(self, name: str) -> str:
        return str(self.call("image", "inspect", "-f", "{{.Id}}", name).stdout.strip())

    def drop(self, name: str) -> None:
        """The store without the image and its layers: the next load unpacks them all."""
        self.call("rmi", "-f", name)
        if self.name == "berth":
            self.call("image", "prune", "-af")

    def timed(self, *args: str) -> float:
        sync()
        seconds, proc = timed(self.cli.argv(*args), env=self.env, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {args[0]}: exit {proc.returncode}: {proc.stderr}")
        return seconds


@dataclass(slots=True)
class Series(Samples):
    tool: str
    operation: str


@dataclass(slots=True)
class Report:
    store_filesystem: str = ""
    image: dict[str, Any] = field(default_factory=dict)
    archive_bytes: dict[str, int] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    cross: list[str] = field(default_factory=list)
    load: list[str] = field(default_factory=list)  # /proc/loadavg before each round


def measure(
    tools: list[Tool], image: str, ids: dict[str, str], base: Path, rounds: int, report: Report
) -> None:
    series = {(t.name, op): Series(t.name, op) for t in tools for op in OPERATIONS}
    report.series = list(series.values())
    for round_ in range(rounds):
        report.load.append(Path("/proc/loadavg").read_text().strip())
        order = [*tools[round_ % len(tools) :], *tools[: round_ % len(tools)]]
        for tool in order:
            archive = base / f"{tool.name}.tar"
            archive.unlink(missing_ok=True)
            series[tool.name, "save"].samples.append(tool.timed("save", "-o", str(archive), image))
            report.archive_bytes[tool.name] = archive.stat().st_size
        for tool in order:
            tool.drop(image)
            archive = base / f"{tool.name}.tar"
            series[tool.name, "load"].samples.append(tool.timed("load", "-q", "-i", str(archive)))
            if tool.image_id(image) != ids[tool.name]:
                raise RuntimeError(f"{tool.name}: the loaded image's id is not the pulled one")
        log.info(
            "round %d: %s",
            round_ + 1,
            ", ".join(f"{s.tool} {s.operation} {s.samples[-1]:.2f}s" for s in report.series),
        )


def cross_check(tools: list[Tool], image: str, ids: dict[str, str], base: Path) -> list[str]:
    """Each tool loads the other's archive (its id kept) and runs the image."""
    notes = []
    for tool in tools:
        for other in tools:
            if other is tool:
                continue
            tool.drop(image)
            tool.call("load", "-q", "-i", str(base / f"{other.name}.tar"))
            kept = tool.image_id(image) == ids[other.name]
            ran = tool.call("run", "--rm", "--network", "none", image, *CHECK).stdout.strip()
            notes.append(
                f"{tool.name} loads {other.name}'s archive: id kept: {kept}; runs: "
                f"`{' '.join(CHECK)}` → {ran}"
            )
            if not kept or not ran:
                raise RuntimeError(notes[-1])
    return notes


def render(report: Report, rounds: int) -> str:
    docker = {s.operation: s.median for s in report.series if s.tool == "docker"}
    lines = [
        f"Store filesystem: {report.store_filesystem}; {rounds} rounds; image "
        f"`{report.image.get('reference')}`",
        "",
        "| tool | operation | median | min | / docker | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report.series:
        median, base = s.median, docker.get(s.operation)
        ratio = median / base if median and base else None
        met = "-"
        if s.tool == "berth" and ratio is not None:
            met = "yes" if ratio <= TARGETS[s.operation] else "**no**"
        lines.append(
            f"| {s.tool} | {s.operation} | {_fmt(median)} | {_fmt(min(s.samples, default=None))} "
            f"| {f'{ratio:.2f}x' if ratio else '-'} "
            f"| {TARGETS[s.operation] if s.tool == 'berth' else ''} | {met} |"
        )
        if s.error:
            lines.append(f"|   | failed: {s.error[:150]!r} | | | | | |")
    sizes = ", ".join(f"{k} {v:,} bytes" for k, v in report.archive_bytes.items())
    return "\n".join([*lines, "", f"Archives: {sizes}", "", *report.cross])


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.save_load", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tools", default="berth,docker")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = choose(args.tools, args.verbose)
    built = build_image(COLD_IMAGE)
    report = Report(versions=versions())
    report.versions.update(
        python=sys.version.split()[0], kernel=platform.release(), cpus=str(os.cpu_count())
    )
    report.versions["docker client"] = run([DOCKER, "--version"], check=False).stdout.strip()
    with bench_root("tmpfs", "12g") as base:
        registry = start_registry(base / "registry")
        tools = [Tool(name, base / name) for name in names]
        try:
            reference = push_image(built, registry.host)
            report.image = {"reference": reference, **built.summary()}
            report.store_filesystem = filesystem_of(base)
            image = COLD_IMAGE.repository + ":" + COLD_IMAGE.tag
            ids = {}
            for tool in tools:
                tool.start()
                tool.call("pull", "-q", reference)
                tool.call("tag", reference, image)
                tool.call("rmi", reference)
                ids[tool.name] = tool.image_id(image)
            try:
                measure(tools, image, ids, base, args.rounds, report)
                if len(tools) == 2:
                    report.cross = cross_check(tools, image, ids, base)
            except RuntimeError as error:
                log.error("%s", error)
                report.cross.append(f"failed: {error}")
        finally:
            for tool in tools:
                tool.stop()
            registry.stop()
            cleanup_cgroups()
    text = render(report, args.rounds)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"save_load-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(asdict(report), indent=2))
    log.info("raw results: %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
