"""Pushes to a loopback registry: berth against `docker push` and `skopeo copy`.

Issue 14's targets, for the 3-layer postgres image (`bench.images.COLD_IMAGE`: Debian
bookworm, postgresql-15, then kernel headers and Go's sources), stores and registries on one
tmpfs: a push to an **empty** registry ≤ 1.0x docker's, a **repeat** push (the registry has
everything) ≤ 0.5x docker's.

- A source registry serves the image; berth and a private dockerd (`bench.peers.Docker`)
  pull it from there before the first round (untimed). skopeo pushes from the image's OCI
  layout (the same gzip blobs, `oci:` → `docker://`, as `bench.images` pushes it).
- Each round starts a new, empty target registry per tool (Debian's docker-registry on the
  same tmpfs); the tools take turns, the first rotating each round. **empty**: the image
  tagged for the target and pushed; **repeat**: the same push again. Timed: the whole
  command's wall clock, after a `sync`.
- Checked (untimed): the manifest each tool left in its target registry names the same
  config digest (the image id), and the bytes each tool sent (the registry's access log:
  request sizes are not logged, so the count of `PATCH`/`PUT` blob requests is shown).

`python -m bench.push [--rounds 5] [--tools berth,docker,skopeo]`. Must not import berth.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bench.images import COLD_IMAGE, build_image, push_image
from bench.peers import SKOPEO, Berth, Docker, bench_root, filesystem_of, versions
from bench.proc import sync, timed
from tests.fixtures.registry import RunningRegistry, start_registry

REPOSITORY = "bench/pg"
TAG = "1"


class Pusher:
    name = ""

    def prepare(self, source: str) -> None:
        """Have the image (pulled from `source`), before any round."""

    def push_argv(self, target: str) -> list[str]:
        raise NotImplementedError

    def tag(self, source: str, target: str) -> None:
        """Name the image for `target`."""

    def stop(self) -> None:
        pass


class BerthPusher(Pusher):
    name = "berth"

    def __init__(self, store: Path) -> None:
        self.tool = Berth(store)

    def _run(self, *args: str) -> None:
        subprocess.run(self.tool.argv(*args), env=dict(self.tool.env), check=True, timeout=900)

    def prepare(self, source: str) -> None:
        self._run("pull", "-q", source)
        self.source = source

    def tag(self, source: str, target: str) -> None:
        self._run("tag", source, target)

    def push_argv(self, target: str) -> list[str]:
        return self.tool.argv("push", target)


class DockerPusher(Pusher):
    name = "docker"

    def __init__(self, store: Path) -> None:
        self.tool = Docker(store)
        self.tool.start()

    def _run(self, *args: str) -> None:
        subprocess.run(
            self.tool.argv(*args),
            env=dict(self.tool.env),
            check=True,
            timeout=900,
            capture_output=True,
        )

    def prepare(self, source: str) -> None:
        self._run("pull", "-q", source)

    def tag(self, source: str, target: str) -> None:
        self._run("tag", source, target)

    def push_argv(self, target: str) -> list[str]:
        return self.tool.argv("push", target)

    def stop(self) -> None:
        self.tool.stop()


class SkopeoPusher(Pusher):
    name = "skopeo"

    def __init__(self, layout: Path, tag: str) -> None:
        self.layout = layout
        self.layout_tag = tag

    def push_argv(self, target: str) -> list[str]:
        return [
            SKOPEO,
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            f"oci:{self.layout}:{self.layout_tag}",
            f"docker://{target}",
        ]


def config_digest(registry: RunningRegistry) -> str:
    request = urllib.request.Request(
        f"{registry.url}/v2/{REPOSITORY}/manifests/{TAG}",
        headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.oci.image.manifest.v1+json"
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return str(json.load(answer)["config"]["digest"])


def blob_writes(registry: RunningRegistry, mark: int) -> int:
    lines = registry.access_log()[mark:]
    return sum(
        1 for line in lines if ('"PATCH ' in line or '"PUT ' in line) and "/blobs/uploads/" in line
    )


def run(rounds: int, names: Sequence[str]) -> dict[str, dict[str, list[float]]]:
    image = build_image(COLD_IMAGE)
    times: dict[str, dict[str, list[float]]] = {n: {"empty": [], "repeat": []} for n in names}
    writes: dict[str, dict[str, list[int]]] = {n: {"empty": [], "repeat": []} for n in names}
    with bench_root("tmpfs", "24g") as base:
        print(f"stores on {filesystem_of(base)}", file=sys.stderr)
        source_registry = start_registry(base / "source")
        pushers: dict[str, Pusher] = {}
        try:
            source = push_image(image, source_registry.host)
            for name in names:
                if name == "berth":
                    pushers[name] = BerthPusher(base / "berth")
                elif name == "docker":
                    pushers[name] = DockerPusher(base / "docker")
                else:
                    pushers[name] = SkopeoPusher(image.layout, image.recipe.tag)
                pushers[name].prepare(source)
            ids: set[str] = set()
            for round_ in range(rounds):
                order = list(names[round_ % len(names) :]) + list(names[: round_ % len(names)])
                for scenario in ("empty", "repeat"):
                    for name in order:
                        target_registry = _target(base, name, round_, scenario)
                        target = f"{target_registry.host}/{REPOSITORY}:{TAG}"
                        pushers[name].tag(source, target)
                        sync()
                        mark = len(target_registry.access_log())
                        seconds, result = timed(pushers[name].push_argv(target), timeout=1800)
                        if result.returncode != 0:
                            raise RuntimeError(f"{name} push failed: {result.stderr[-2000:]}")
                        time.sleep(0.2)  # the registry logs a request after answering it
                        times[name][scenario].append(seconds)
                        writes[name][scenario].append(blob_writes(target_registry, mark))
                        ids.add(config_digest(target_registry))
                        print(f"round {round_} {scenario} {name}: {seconds:.3f} s", file=sys.stderr)
                        if scenario == "repeat":
                            _stop_target(name, round_)
                if len(ids) != 1:
                    raise RuntimeError(f"the tools pushed different images: {ids}")
        finally:
            for pusher in pushers.values():
                pusher.stop()
            for registry in list(_TARGETS.values()):
                registry.stop()
            source_registry.stop()
    print(json.dumps({"writes": writes}), file=sys.stderr)
    return times


_TARGETS: dict[tuple[str, int], RunningRegistry] = {}


def _target(base: Path, name: str, round_: int, scenario: str) -> RunningRegistry:
    """The round's target registry of a tool: new and empty for `empty`, the same for
    `repeat`."""
    key = (name, round_)
    if scenario == "empty":
        _TARGETS[key] = start_registry(base / f"target-{name}-{round_}")
    return _TARGETS[key]


def _stop_target(name: str, round_: int) -> None:
    _TARGETS.pop((name, round_)).stop()


def render(times: dict[str, dict[str, list[float]]]) -> str:
    lines = [
        "| scenario | tool | median | min | max | / docker (medians) |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in ("empty", "repeat"):
        docker = times.get("docker", {}).get(scenario)
        reference = statistics.median(docker) if docker else None
        for name, series in times.items():
            values = series[scenario]
            median = statistics.median(values)
            ratio = f"{median / reference:.2f}x" if reference else "-"
            lines.append(
                f"| {scenario} | {name} | {median:.3f} s | {min(values):.3f} s | "
                f"{max(values):.3f} s | {ratio} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tools", default="berth,docker,skopeo")
    args = parser.parse_args(argv)
    names = args.tools.split(",")
    print(json.dumps(versions(), indent=1), file=sys.stderr)
    print(render(run(args.rounds, names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
