"""Start-up latency: `--version`, and `images` on an empty store and on one with 50 images.

Why: a daemonless CLI pays its start-up on every command, so the issue sets a budget
(median <= 60 ms). Measured like hyperfine: 3 warm-up runs (page cache, the store's creation
on first use), then 30 timed runs, wall clock around fork+exec+waitpid (a blocking wait:
`subprocess.run(timeout=)` polls and would quantize the result), output discarded.
docker and podman run the same commands on their own stores for reference (docker's
`images` includes a round trip to its running daemon; `--version` is client-only).

The 50 images are 50 distinct tiny images (one small layer, a distinct config each) pushed
to a loopback registry and pulled by each tool, so `images` lists 50 real rows.
Must not import `berth`.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.images import build_tiny_images, push_tiny_images
from bench.peers import (
    BERTH,
    DOCKER,
    FILESYSTEMS,
    PODMAN,
    Berth,
    Docker,
    Podman,
    bench_root,
    filesystem_of,
    make_tool,
    start_logging_and_choose,
)
from bench.proc import run, timed
from tests.fixtures.registry import start_registry

log = logging.getLogger("bench.startup")

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_S = 0.060
IMAGES = 50
CASE_FULL = f"images ({IMAGES} images)"


@dataclass(slots=True)
class Timing:
    tool: str
    case: str
    runs: int
    median_s: float | None = None
    min_s: float | None = None
    max_s: float | None = None
    error: str | None = None


def measure(
    tool: str, case: str, argv: Sequence[str], env: Mapping[str, str], runs: int, warmup: int = 3
) -> Timing:
    """Median wall-clock seconds of argv over `runs` runs after `warmup` untimed ones."""
    timing = Timing(tool, case, runs)
    first = subprocess.run(
        list(argv), env=dict(env), capture_output=True, text=True, timeout=60, check=False
    )
    if first.returncode != 0:
        timing.error = f"exit {first.returncode}: {first.stderr.strip()[-300:]}"
        return timing
    samples: list[float] = []
    for i in range(warmup - 1 + runs):
        seconds, _ = timed(argv, env=env, timeout=60, capture=False)
        if i >= warmup - 1:
            samples.append(seconds)
    timing.median_s = statistics.median(samples)
    timing.min_s = min(samples)
    timing.max_s = max(samples)
    return timing


def _version_argv(tool: str) -> list[str]:
    return {"berth": [str(BERTH)], "docker": [DOCKER], "podman": [PODMAN]}[tool] + ["--version"]


def run_startup(fs: str, tools: list[str], runs: int) -> tuple[list[Timing], str]:
    """Per tool: --version, images on its empty store, pull 50 tiny images, images again."""
    layout, tags = build_tiny_images(IMAGES)
    timings: list[Timing] = []
    with bench_root(fs) as base:
        registry = start_registry(base / "registry")
        try:
            references = push_tiny_images(layout, tags, registry.host)
            for name in tools:
                tool = make_tool(name, base / "stores" / name)
                assert isinstance(tool, Berth | Docker | Podman)
                try:
                    tool.start()
                    env = tool.env
                    timings.append(measure(name, "--version", _version_argv(name), env, runs))
                    images = tool.argv("images")
                    timings.append(measure(name, "images (empty store)", images, env, runs))
                    try:
                        for reference in references:
                            run(tool.pull_argv(reference), env=env, timeout=120)
                    except RuntimeError as exc:
                        timings.append(Timing(name, CASE_FULL, runs, error=str(exc)))
                        continue
                    listed = run(images, env=env).stdout.count("bench/tiny")
                    if listed != IMAGES:
                        log.warning("%s lists %d tiny images, not %d", name, listed, IMAGES)
                    timings.append(measure(name, CASE_FULL, images, env, runs))
                finally:
                    tool.stop()
            store_fs = filesystem_of(base)
        finally:
            registry.stop()
    return timings, store_fs


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def render(timings: list[Timing], store_fs: str, runs: int) -> str:
    """A markdown table: one row per case, one column per tool (median, min in brackets)."""
    tools = list(dict.fromkeys(t.tool for t in timings))
    cases = list(dict.fromkeys(t.case for t in timings))
    by = {(t.tool, t.case): t for t in timings}
    lines = [
        f"Store filesystem: {store_fs}; {runs} runs after 3 warm-ups; target: berth median "
        f"<= {TARGET_S * 1000:.0f} ms",
        "",
        "| command | " + " | ".join(f"{t} median (min)" for t in tools) + " |",
        "|---|" + "---|" * len(tools),
    ]
    for case in cases:
        cells = []
        for tool in tools:
            t = by.get((tool, case))
            if t is None:
                cells.append("-")
            elif t.error:
                cells.append(f"failed: {t.error[:80]}")
            else:
                cells.append(f"{_ms(t.median_s)} ({_ms(t.min_s)})")
        lines.append(f"| `{case}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--fs", choices=FILESYSTEMS, default="tmpfs")
    parser.add_argument("--tools", default="berth,docker,podman")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    tools = start_logging_and_choose(args.tools, args.verbose)
    timings, store_fs = run_startup(args.fs, tools, args.runs)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"startup-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {"store_filesystem": store_fs, "timings": [asdict(t) for t in timings]}, indent=2
        )
    )
    print(render(timings, store_fs, args.runs))
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
