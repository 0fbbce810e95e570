"""The quick `ps` (berth.cli.commands.ps, berth.container.listing, berth.container.summary)
keeps its own copies of a few names, so as to import none of the modules that define them:
they must stay the names the engine uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth import store_choice
from berth.cli.commands import ps
from berth.container import listing, summary
from berth.container.paths import ContainerPaths
from berth.container.state import ACTIVE, Status
from berth.container.view import MONITOR_KEYS
from berth.db import direct
from berth.layout import Layout
from berth.monitor.config import STATUS_NAME


def test_statuses_and_files_are_the_engines() -> None:
    assert set(listing.ACTIVE) == {status.value for status in ACTIVE}
    assert set(listing.STATUSES) == {status.value for status in Status}
    assert listing.MONITOR_KEYS == MONITOR_KEYS
    assert listing.STATUS_FILE == STATUS_NAME
    words = (summary.CREATED, summary.RUNNING, summary.PAUSED, summary.RESTARTING)
    assert words == (Status.CREATED, Status.RUNNING, Status.PAUSED, Status.RESTARTING)
    assert summary.EXITED == Status.EXITED


@pytest.mark.parametrize(
    ("flags", "environment"),
    [
        ((None, None), {}),
        (("/srv/store", "/run/store"), {"BERTH_ROOT": "/elsewhere"}),
        ((None, None), {"BERTH_ROOT": "/env/root", "BERTH_RUNROOT": "/env/run"}),
        (("relative/root", "run"), {}),
    ],
)
def test_the_store_is_chosen_as_layout_chooses_it(
    flags: tuple[str | None, str | None],
    environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BERTH_ROOT", "BERTH_RUNROOT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    layout = Layout.from_env(*flags)
    root, runroot = store_choice.chosen(*flags)  # what `ps`'s quick path reads
    expected_root = flags[0] or environment.get("BERTH_ROOT") or "/var/lib/berth"
    assert Path(root) == tmp_path / expected_root
    assert Path(f"{root}/{direct.DATABASE}") == layout.database
    assert Path(f"{root}/{direct.TMP}") == layout.tmp
    assert Path(f"{root}/{direct.RESERVE}") == layout.reserve
    assert Path(f"{runroot}/{listing.RUN_DIRS}") == Path(ContainerPaths(layout).run_dirs)
    assert Path(f"{runroot}/{direct.LOCKS}") == layout.locks


@pytest.mark.parametrize(
    "text", ["sleep 60", 'echo "a\\b"', "tab\there", "caf\u00e9 \u2028", "\x7f", ""]
)
def test_commands_are_quoted_as_json_quotes_them(text: str) -> None:
    import json

    assert ps.quoted(text) == json.dumps(text, ensure_ascii=False)
