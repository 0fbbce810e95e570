"""Subprocess and mount helpers for building images (and for the benchmark, which reuses them).

Every mount a build makes is undone even on failure: callers pair each start with a `finally`.
Must not import `berth`.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("imagebuild")


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    capture: bool = True,
    stdin: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run argv (no shell), carrying stderr into the error so failures say why."""
    args = [str(a) for a in argv]
    log.debug("run %s", args)
    proc = subprocess.run(
        args,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        text=True,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        check=False,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{args[0]} exited {proc.returncode}: {(proc.stderr or '').strip()[-2000:]}"
        )
    return proc


def run_to_file(argv: list[str], out: BinaryIO) -> None:
    """Run argv with stdout into an open file (big outputs must not pass through Python)."""
    log.debug("run %s > file", argv)
    proc = subprocess.run(
        argv,
        check=False,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.PIPE,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below root, deepest first (the order they must be unmounted)."""
    prefix = str(root.resolve())
    found: list[Path] = []
    with open("/proc/self/mounts", encoding="utf-8") as f:
        for line in f:
            # /proc/mounts escapes spaces and such as octal; these paths have none.
            target = line.split()[1]
            if target == prefix or target.startswith(prefix + "/"):
                found.append(Path(target))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def unmount_all(root: Path) -> None:
    """Unmount everything at or below root (peers leave private bind mounts behind)."""
    for _ in range(5):
        targets = mounts_under(root)
        if not targets:
            return
        for target in targets:
            run(["umount", target], check=False)
    for target in mounts_under(root):
        log.warning("lazy-unmounting busy %s", target)
        run(["umount", "-l", target], check=False)
