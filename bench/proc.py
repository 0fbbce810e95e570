"""Small subprocess, mount and directory helpers shared by the benchmark modules.

`run`, `mounts_under` and `unmount_all` are imagebuild's (the image builder needs them too).

They exist so that every process and mount a benchmark starts is stopped or undone even on
failure: callers pair each start with a `finally`. Must not import `berth`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from imagebuild.proc import mounts_under, run, unmount_all

__all__ = ["free_port", "mounts_under", "remove_tree", "run", "stop_process", "sync", "timed"]

log = logging.getLogger("bench")


def timed(
    argv: Sequence[str | os.PathLike[str]],
    *,
    timeout: float = 900,
    env: Mapping[str, str] | None = None,
    capture: bool = True,
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall-clock seconds of one command, and its result (not checked: callers report it).

    Not `subprocess.run(timeout=...)`: with a timeout, Popen.wait polls with sleeps of up
    to 50 ms, which quantizes short timings (start-up, warm pulls) in steps of ~30 ms.
    Here the wait blocks in waitpid and a timer thread kills a command that overruns.
    """
    args = [str(a) for a in argv]
    log.debug("timed %s", args)
    pipe = subprocess.PIPE if capture else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(
        args,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=pipe,
        stderr=pipe,
        text=True,
    )
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        stdout, stderr = proc.communicate()  # no timeout: select on the pipes, then waitpid
    finally:
        timer.cancel()
    seconds = time.perf_counter() - start
    return seconds, subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the registry binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, wait, then SIGKILL: a daemon that hangs must not outlive the benchmark."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("pid %d ignored SIGTERM; killing", proc.pid)
        proc.kill()
        proc.wait(timeout=timeout)


def remove_tree(path: Path) -> None:
    """Unmount what is below path, then delete it (peers' stores hold read-only dirs too)."""
    if not path.exists():
        return
    unmount_all(path)
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        run(["rm", "-rf", "--one-file-system", path], check=False)


def sync() -> None:
    """Flush dirty pages so one round's writeback does not bill the next round."""
    os.sync()
