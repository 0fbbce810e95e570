"""Disk usage of a directory tree, as `du` counts it (allocated blocks, hard links once)."""

from __future__ import annotations

import os
from pathlib import Path


def tree_size(root: Path) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    for directory, _, files in os.walk(root):
        for name in files:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if info.st_nlink > 1:
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
    return total
