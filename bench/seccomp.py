"""What seccomp adds to every container start: build, compile and load the default filter.

Each round runs in a forked child (a loaded filter can't be removed), so the numbers include
no fork or exec, only the work the container init does. Usage:

    .venv/bin/python -m bench.seccomp [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from berth.runtime import seccomp
from berth.runtime.seccomp_default import DOCKER_DEFAULT_CAPS, default_profile


def _in_child(work: Callable[[], object]) -> float:
    """Milliseconds `work` took in a forked child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        start = time.perf_counter()
        work()
        os.write(write, repr(time.perf_counter() - start).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        elapsed = float(pipe.read())
    os.waitpid(pid, 0)
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as cache:
        cases: dict[str, Callable[[], object]] = {
            "resolve the profile": lambda: default_profile(DOCKER_DEFAULT_CAPS),
            "resolve+compile+load": lambda: seccomp.apply(default_profile(DOCKER_DEFAULT_CAPS)),
            "resolve+load, cached program": lambda: seccomp.apply(
                default_profile(DOCKER_DEFAULT_CAPS), Path(cache)
            ),
        }
        for name, work in cases.items():
            times = [_in_child(work) for _ in range(runs)]
            print(f"{name:30} median {statistics.median(times):6.2f} ms  min {min(times):6.2f} ms")


if __name__ == "__main__":
    main()
