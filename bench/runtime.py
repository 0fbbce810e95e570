"""berth's runtime against runc and crun on one prepared bundle: create + start + wait of `true`.

The bundle is a busybox rootfs on a tmpfs with Docker's default spec (no seccomp, no cgroups:
the runtime alone). berth is timed in-process the way the monitor calls it (subreaper, create,
start, waitpid); runc and crun as `RUNTIME run` subprocesses. Usage:

    .venv/bin/python -m bench.runtime [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from berth.runtime import Runtime, Stdio
from berth.sys import MNT_DETACH, mount, umount
from berth.sys import process as proc
from tests.fixtures.bundle import default_spec, make_rootfs, write_bundle


def _berth(runtime: Runtime, bundle: Path, devnull: int) -> Callable[[int], None]:
    def once(round_: int) -> None:
        name = f"bench-{round_}"
        pid = runtime.create(name, bundle, Stdio(devnull, devnull, devnull))
        runtime.start(name)
        os.waitpid(pid, 0)
        runtime.delete(name)

    return once


def _cli(binary: str, root: Path, bundle: Path) -> Callable[[int], None]:
    def once(round_: int) -> None:
        subprocess.run(
            [binary, "--root", str(root), "run", "--bundle", str(bundle), f"bench-{round_}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=30,
        )

    return once


def _median_ms(once: Callable[[int], None], runs: int) -> float:
    once(-1)  # warm the page cache and the interpreter's bytecode
    times = []
    for round_ in range(runs):
        start = time.perf_counter()
        once(round_)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
    work = Path(tempfile.mkdtemp(prefix="berth-bench-runtime-"))
    mount("tmpfs", work, "tmpfs", 0, "mode=755")
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        make_rootfs(work / "bundle" / "rootfs")
        spec = default_spec(["true"])
        spec["linux"]["namespaces"] = [
            n for n in spec["linux"]["namespaces"] if n["type"] != "cgroup"
        ]  # crun refuses this host's hybrid cgroup layout with a cgroup namespace
        bundle = write_bundle(work / "bundle", spec)
        cases = {"berth": _berth(Runtime(work / "berth"), bundle, devnull)}
        for tool in ("runc", "crun"):
            binary = shutil.which(tool)
            if binary:
                cases[tool] = _cli(binary, work / tool, bundle)
        results = {}
        for name, once in cases.items():
            try:
                results[name] = _median_ms(once, runs)
            except subprocess.CalledProcessError as error:
                print(f"{name}: failed ({error})")
        base = results.get("runc")
        for name, ms in results.items():
            ratio = f"  ({ms / base:.2f}x runc)" if base else ""
            print(f"{name:6} create+start+wait `true`: median {ms:6.1f} ms of {runs}{ratio}")
    finally:
        os.close(devnull)
        umount(work, MNT_DETACH)
        os.rmdir(work)


if __name__ == "__main__":
    main()
