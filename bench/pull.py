"""Cold and warm pulls from a loopback registry: berth against docker, podman and skopeo.

Method (why each step is there):
- One registry (Debian's docker-registry on 127.0.0.1, plain HTTP) serves the same image to
  every tool, in one run, so machine noise hits all tools alike.
- Every round gives each tool a fresh, empty store (a new dockerd for docker) on the same
  filesystem; starting daemons is outside the timing; the order of tools rotates per round
  so no tool always runs first or last. `sync` between pulls: one tool's writeback must not
  bill the next.
- On the root filesystem the stores are deleted at the end of the run, not after each
  round (`--delete-between` does the latter): this machine's ext4 has no journal, and
  without one ext4 won't reuse an inode freed in the last 5 s (300 s while its inode-table
  block is dirty, which the next pull's own creations make it), scanning past every such
  inode for each new file: a pull right after the previous round's 36k deletions spent
  most of its 20 s there (perf: `recently_deleted` under `ext4_create`), whoever pulled.
  Start a rootfs run at least 5 minutes after the last mass deletion on that filesystem.
- Cold pull: the 3-layer Debian + postgresql + many-files image into the empty store.
  docker, podman and berth download and unpack; skopeo only downloads (the floor).
- Warm pull, in the same store right after: an image sharing only the base layer. Its bytes
  are counted from the registry's access log (every response's size), so "bytes fetched"
  is what went over the wire, compared with the sizes of the layers that are new.
Results: median and min per tool, ratio of medians to docker; JSON under bench/results/.
Must not import `berth`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.images import COLD_IMAGE, WARM_IMAGE, BuiltImage, build_image, push_image
from bench.peers import (
    FILESYSTEMS,
    TOOLS,
    bench_root,
    cleanup_store,
    filesystem_of,
    make_tool,
    start_logging_and_choose,
    versions,
)
from bench.proc import sync, timed
from tests.fixtures.registry import RunningRegistry, start_registry

log = logging.getLogger("bench.pull")

RESULTS = Path(__file__).resolve().parent / "results"
# gorilla/handlers' combined log format, which docker-registry uses for its access log.
ACCESS = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) (?P<bytes>\d+|-)'
)


@dataclass(slots=True)
class Fetched:
    """What one pull took from the registry, from the access log."""

    requests: int = 0
    blob_gets: int = 0
    blob_bytes: int = 0
    layer_bytes: int = 0  # blobs that are layers (configs and manifests are the rest)
    total_bytes: int = 0

    @classmethod
    def from_lines(cls, lines: list[str], layer_digests: frozenset[str]) -> Fetched:
        out = cls()
        for line in lines:
            m = ACCESS.search(line)
            if m is None:
                continue
            size = 0 if m["bytes"] == "-" else int(m["bytes"])
            out.requests += 1
            out.total_bytes += size
            if m["method"] == "GET" and "/blobs/" in m["path"]:
                out.blob_gets += 1
                out.blob_bytes += size
                if m["path"].rsplit("/", 1)[-1] in layer_digests:
                    out.layer_bytes += size
        return out


@dataclass(slots=True)
class Attempt:
    """One tool's cold and warm pull in one round."""

    tool: str
    round: int
    cold_s: float | None = None
    warm_s: float | None = None
    cold_fetched: Fetched | None = None
    warm_fetched: Fetched | None = None
    store_entries: int | None = None  # after the cold pull: did it really unpack everything?
    error: str | None = None


@dataclass(slots=True)
class Summary:
    tool: str
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    warm_layer_bytes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    store_entries: list[int] = field(default_factory=list)

    def median(self, kind: str) -> float | None:
        values = self.cold if kind == "cold" else self.warm
        return statistics.median(values) if values else None

    def minimum(self, kind: str) -> float | None:
        values = self.cold if kind == "cold" else self.warm
        return min(values) if values else None


def _attempt(
    tool_name: str,
    rnd: int,
    base: Path,
    registry: RunningRegistry,
    cold_ref: str,
    warm_ref: str,
    layer_digests: frozenset[str],
    delete: bool,
) -> Attempt:
    """A fresh store, a cold pull, a warm pull, then the store is deleted (`delete`) or only
    its daemon stopped."""
    attempt = Attempt(tool_name, rnd)
    store = base / "stores" / f"{tool_name}-{rnd}"
    tool = make_tool(tool_name, store)
    try:
        tool.start()
        for kind, reference in (("cold", cold_ref), ("warm", warm_ref)):
            sync()
            mark = len(registry.access_log())
            seconds, proc = timed(tool.pull_argv(reference), env=tool.env)
            time.sleep(0.2)  # the registry logs a response after the client has it
            fetched = Fetched.from_lines(registry.access_log()[mark:], layer_digests)
            if proc.returncode != 0:
                attempt.error = (
                    f"{kind} pull exited {proc.returncode}: "
                    + ((proc.stderr or proc.stdout or "").strip()[-500:])
                )
                break
            setattr(attempt, f"{kind}_s", seconds)
            setattr(attempt, f"{kind}_fetched", fetched)
            if kind == "cold":
                attempt.store_entries = count_entries(store)
    except Exception as exc:  # a broken tool is reported, not fatal to the others
        attempt.error = f"{type(exc).__name__}: {exc}"
    finally:
        tool.stop()
        if delete:
            cleanup_store(store)
    return attempt


def count_entries(root: Path) -> int:
    """Directory entries below root: an unpacking tool's store must hold the image's files.

    A sanity check, not a measurement: a pull that returns quickly but unpacked little shows
    here (the cold image's layers hold ~36k entries; skopeo, which doesn't unpack, holds a
    handful).
    """
    return sum(len(dirs) + len(files) for _, dirs, files in os.walk(root))


def run_pulls(
    fs: str,
    rounds: int,
    tools: list[str],
    cold: BuiltImage,
    warm: BuiltImage,
    delete_between: bool = False,
) -> dict[str, object]:
    """All rounds on one filesystem; returns the raw attempts and the environment."""
    attempts: list[Attempt] = []
    delete = delete_between or fs == "tmpfs"  # tmpfs: 18 stores would not fit in memory
    with bench_root(fs) as base:
        registry = start_registry(base / "registry")
        try:
            cold_ref = push_image(cold, registry.host)
            warm_ref = push_image(warm, registry.host)
            layer_digests = frozenset(layer.digest for layer in (*cold.layers, *warm.layers))
            skip: set[str] = set()
            for rnd in range(rounds):
                order = tools[rnd % len(tools) :] + tools[: rnd % len(tools)]
                for name in order:
                    if name in skip:
                        continue
                    attempt = _attempt(
                        name, rnd, base, registry, cold_ref, warm_ref, layer_digests, delete
                    )
                    attempts.append(attempt)
                    log.info(
                        "round %d %-6s cold %s warm %s%s",
                        rnd,
                        name,
                        _fmt(attempt.cold_s),
                        _fmt(attempt.warm_s),
                        f"  ERROR {attempt.error}" if attempt.error else "",
                    )
                    if attempt.error and name == "berth":
                        skip.add(name)  # berth not ready yet: don't spend rounds on it
            store_fs = filesystem_of(base)
        finally:
            registry.stop()
            for store in sorted((base / "stores").glob("*")):
                cleanup_store(store)
    return {
        "filesystem": fs,
        "deleted_between_rounds": delete,
        "store_filesystem": store_fs,
        "attempts": [asdict(a) for a in attempts],
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def summarize(attempts: list[dict[str, object]], tools: list[str]) -> dict[str, Summary]:
    out = {name: Summary(name) for name in tools}
    for a in attempts:
        s = out[str(a["tool"])]
        if a["error"]:
            s.errors.append(str(a["error"]))
        if a["cold_s"] is not None:
            s.cold.append(float(a["cold_s"]))  # type: ignore[arg-type]
        if a["store_entries"] is not None:
            s.store_entries.append(int(a["store_entries"]))  # type: ignore[call-overload]
        if a["warm_s"] is not None:
            s.warm.append(float(a["warm_s"]))  # type: ignore[arg-type]
            fetched = a["warm_fetched"]
            assert isinstance(fetched, dict)
            s.warm_layer_bytes.append(int(fetched["layer_bytes"]))
    return out


def new_layer_bytes(cold: BuiltImage, warm: BuiltImage) -> int:
    """Compressed size of the warm image's layers that the cold image doesn't have."""
    have = {layer.digest for layer in cold.layers}
    return sum(layer.size for layer in warm.layers if layer.digest not in have)


def render(
    summaries: dict[str, Summary],
    fs_label: str,
    expected_warm: int,
    rounds: int,
    image_entries: int,
    deleted_between: bool,
) -> str:
    """A markdown table: what bench/README.md shows."""
    docker = summaries.get("docker")
    docker_cold = docker.median("cold") if docker else None
    docker_warm = docker.median("warm") if docker else None
    lines = [
        f"Store filesystem: {fs_label}; {rounds} rounds; new layers of the warm image: "
        f"{expected_warm:,} bytes; stores deleted "
        + ("after each round" if deleted_between else "at the end of the run"),
        "",
        "| tool | cold median | cold min | cold / docker | warm median | warm / docker "
        "| warm: layer bytes fetched | store entries after cold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        cold_m, warm_m = s.median("cold"), s.median("warm")
        ratio_cold = f"{cold_m / docker_cold:.2f}x" if cold_m and docker_cold else "-"
        ratio_warm = f"{warm_m / docker_warm:.2f}x" if warm_m and docker_warm else "-"
        fetched = (
            f"{statistics.median(s.warm_layer_bytes):,.0f}"
            + (" (= new layers)" if set(s.warm_layer_bytes) == {expected_warm} else "")
            if s.warm_layer_bytes
            else "-"
        )
        entries = f"{min(s.store_entries):,}" if s.store_entries else "-"
        # Stores differ in layout (opaque markers become xattrs, metadata files are added), so
        # only a clear shortfall is flagged.
        if name != "skopeo" and s.store_entries and min(s.store_entries) < 0.9 * image_entries:
            entries += " (fewer than the image's entries: incomplete unpack?)"
        lines.append(
            f"| {name} | {_fmt(cold_m)} | {_fmt(s.minimum('cold'))} | {ratio_cold} "
            f"| {_fmt(warm_m)} | {ratio_warm} | {fetched} "
            f"| {entries} |"
        )
        if s.errors and not s.cold:
            lines.append(f"|   | failed: {s.errors[0][:150]!r} | | | | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pull", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--fs",
        choices=FILESYSTEMS,
        action="append",
        help="where the stores live (repeatable; default tmpfs)",
    )
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}"
    )
    parser.add_argument(
        "--delete-between",
        action="store_true",
        help="on rootfs, delete each store right after its round (the earlier method)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    tools = start_logging_and_choose(args.tools, args.verbose)
    filesystems = list(dict.fromkeys(args.fs or ["tmpfs"]))
    cold, warm = build_image(COLD_IMAGE), build_image(WARM_IMAGE)
    report: dict[str, object] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
        "images": [cold.summary(), warm.summary()],
        "runs": [],
    }
    expected_warm = new_layer_bytes(cold, warm)
    texts = []
    for fs in filesystems:
        raw = run_pulls(fs, args.rounds, tools, cold, warm, args.delete_between)
        report["runs"].append(raw)  # type: ignore[attr-defined]
        summaries = summarize(raw["attempts"], tools)  # type: ignore[arg-type]
        texts.append(
            render(
                summaries,
                str(raw["store_filesystem"]),
                expected_warm,
                args.rounds,
                int(cold.summary()["entries"]),  # type: ignore[call-overload]
                bool(raw["deleted_between_rounds"]),
            )
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"pull-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["versions"]))
    print("\n\n".join(texts))
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
