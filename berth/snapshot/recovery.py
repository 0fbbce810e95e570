"""Layer rows rebuilt from the layer directories, for `system check --repair` after the
database was lost: each snapshots/<id>/ says what it holds (layer.json, written at commit)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from berth.layout import Layout
from berth.snapshot.layers import LAYER_MARKER, LayerStore


def recover_layers(layout: Layout, layers: LayerStore) -> tuple[int, list[Path]]:
    """(how many layers have a row again, the directories that don't say what they are)."""
    adopted = 0
    unknown: list[Path] = []
    if not layout.snapshots.is_dir():
        return 0, []
    for entry in os.scandir(layout.snapshots):
        if not entry.name.isdigit():
            continue
        try:
            marker = json.loads(Path(entry.path, LAYER_MARKER).read_text())
            layers.adopt(int(entry.name), str(marker["diff_id"]), int(marker["size"]))
        except (OSError, ValueError, KeyError, TypeError):
            unknown.append(Path(entry.path))
            continue
        adopted += 1
    return adopted, unknown
