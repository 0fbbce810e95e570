"""The unpacker starts once per layer: it must not load the engine side or heavy modules."""

from __future__ import annotations

import json
import subprocess
import sys


def test_unpacker_imports_stay_lean() -> None:
    probe = "import sys, json, berth.archive.unpacker; print(json.dumps(sorted(sys.modules)))"
    # json is the probe's own; everything else is what the unpacker pulls in.
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = set(json.loads(out))
    for heavy in ("subprocess", "logging", "dataclasses", "berth.archive.layer", "httpx"):
        assert heavy not in loaded, heavy
    assert not [m for m in loaded if m.split(".")[:2] in (["berth", "content"], ["berth", "image"])]
