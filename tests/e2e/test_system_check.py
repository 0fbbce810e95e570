"""`berth system check [--repair]` on real stores, damaged for real: a lost database rebuilt
from the store (layers, untagged images, volumes, containers — a running one still running),
a damaged row rebuilt from its record file, an image whose layer is gone removed."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from tests.fixtures.store import Berth, Store


def test_a_healthy_store_has_nothing_to_say(berth: Berth, busybox: str) -> None:
    result = berth("system", "check")
    assert result.returncode == 0, result.stdout
    assert result.stdout == "no damage found\n"


def test_a_lost_database_is_rebuilt_from_the_store(
    berth: Berth, busybox: str, store: Store
) -> None:
    image_id = berth("image", "inspect", "-f", "{{.Id}}", busybox).stdout.strip()
    assert berth("create", "--name", "idle", "-v", "data:/data", busybox, "true").returncode == 0
    runner = berth("run", "-d", "--name", "runner", busybox, "sleep", "1000")
    assert runner.returncode == 0, runner.stderr
    database = store.root / "berth.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)

    refused = berth("ps")
    assert refused.returncode == 1 and str(database) in refused.stderr
    report = berth("system", "check")
    assert report.returncode == 1
    assert "database:" in report.stdout and "--repair" in report.stdout

    repaired = berth("system", "check", "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert f"image {image_id}: found in the content store -> untagged" in repaired.stdout
    assert list(store.root.glob("berth.db.damaged-*")) == []  # nothing to move: it was gone
    assert berth("images", "-q", "--no-trunc").stdout.split() == [image_id]
    assert berth("tag", image_id, busybox).returncode == 0
    listed = berth("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.split("\n")
    assert sorted(filter(None, listed)) == ["idle created", "runner running"]
    assert berth("volume", "ls", "-q").stdout.split() == ["data"]
    started = berth("start", "-a", "idle")
    assert started.returncode == 0, started.stderr
    assert berth("rm", "-f", "runner", "idle").returncode == 0
    assert berth("system", "check").returncode == 0


def test_a_damaged_database_is_moved_aside(berth: Berth, busybox: str, store: Store) -> None:
    database = store.root / "berth.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(b"not a database at all" * 100)
    repaired = berth("system", "check", "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert len(list(store.root.glob("berth.db.damaged-*"))) == 1
    assert len(berth("images", "-q").stdout.split()) == 1


def test_a_damaged_row_is_rebuilt_from_its_record_file(
    berth: Berth, busybox: str, store: Store
) -> None:
    assert berth("create", "--name", "keeper", "-e", "KEPT=1", busybox, "env").returncode == 0
    with sqlite3.connect(store.root / "berth.db") as connection:
        connection.execute("UPDATE containers SET host_config = 'oops' WHERE name = 'keeper'")
    report = berth("system", "check")
    assert report.returncode == 1 and "its row is damaged" in report.stdout
    repaired = berth("system", "check", "--repair")
    assert "rebuilt from its record file" in repaired.stdout
    output = berth("start", "-a", "keeper")
    assert output.returncode == 0 and "KEPT=1" in output.stdout
    assert berth("rm", "keeper").returncode == 0


def test_an_image_whose_layer_is_gone_is_removed(berth: Berth, busybox: str, store: Store) -> None:
    for layer in (store.root / "snapshots").iterdir():
        if layer.name.isdigit():
            shutil.rmtree(layer)
    report = berth("system", "check")
    assert report.returncode == 1
    assert "a layer of it is gone" in report.stdout and "its directory is gone" in report.stdout
    repaired = berth("system", "check", "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert berth("images", "-q").stdout == ""
    assert berth("system", "check").stdout == "no damage found\n"
