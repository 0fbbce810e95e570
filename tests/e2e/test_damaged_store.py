"""A damaged store is refused with a clear error naming what is damaged, never shown as an
empty one (which a pull would then trip over); one bad row costs its object, not the store;
a read-only store can still be read. Real SQLite files, damaged for real."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.store import Berth, Store

COMMANDS = (["ps", "-a"], ["images"], ["volume", "ls"], ["inspect", "keeper"])


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stderr.startswith("Error: "), result.stderr


@pytest.fixture
def populated(berth: Berth, busybox: str) -> str:
    """A store with an image and a stopped container."""
    assert berth("create", "--name", "keeper", busybox, "true").returncode == 0
    return busybox


def _damage(database: Path, how: str) -> None:
    for extra in ("-wal", "-shm"):
        Path(f"{database}{extra}").unlink(missing_ok=True)
    if how == "truncated":
        database.write_bytes(b"")
    elif how == "deleted":
        database.unlink()
    elif how == "a directory":
        database.unlink()
        database.mkdir()
    elif how == "a random header":
        data = bytearray(database.read_bytes())
        data[:100] = os.urandom(100)
        database.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "deleted", "a directory", "a random header"])
def test_a_store_whose_database_is_damaged_is_refused(
    berth: Berth, populated: str, store: Store, how: str
) -> None:
    database = store.root / "berth.db"
    _damage(database, how)
    layers = sorted((store.root / "snapshots").iterdir())
    for command in [*COMMANDS, ["pull", "anything"], ["create", populated, "true"]]:
        result = berth(*command)
        _one_clear_line(result)
        assert str(database) in result.stderr, (command, result.stderr)
    assert sorted((store.root / "snapshots").iterdir()) == layers  # nothing was touched
    if how == "a directory":
        database.rmdir()  # the fixture's teardown runs berth on this store


def test_a_damaged_page_is_a_clear_error(berth: Berth, populated: str, store: Store) -> None:
    database = store.root / "berth.db"
    assert berth("ps", "-a").returncode == 0  # checkpointed: the rows are in the file
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
    data = bytearray(database.read_bytes())
    for page in range(1, pages):  # every page but the header's
        data[page * page_size : page * page_size + 64] = os.urandom(64)
    database.write_bytes(bytes(data))
    result = berth("ps", "-a")
    _one_clear_line(result)
    assert "is damaged" in result.stderr and "system check" in result.stderr


def test_one_damaged_row_costs_its_container_only(
    berth: Berth, populated: str, store: Store
) -> None:
    assert berth("run", "--name", "talker", populated, "echo", "still here").returncode == 0
    with sqlite3.connect(store.root / "berth.db") as connection:
        connection.execute("UPDATE containers SET config = '{broken' WHERE name = 'keeper'")
    listed = berth("ps", "-a", "--format", "{{.Names}} {{.State}}")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.splitlines()) == ["keeper dead", "talker exited"]
    assert berth("logs", "talker").stdout == "still here\n"
    assert berth("inspect", "-f", "{{.State.Error}}", "keeper").stdout.startswith(
        "the container's record is damaged"
    )
    assert berth("volume", "ls").returncode == 0
    removed = berth("rm", "-f", "keeper")
    assert removed.returncode == 0, removed.stderr
    assert berth("ps", "-aq").stdout.split() == [
        berth("inspect", "-f", "{{.Id}}", "talker").stdout.strip()[:12]
    ]
    assert berth("rm", "talker").returncode == 0


@pytest.fixture
def read_only(store: Store) -> Iterator[None]:
    subprocess.run(["mount", "-o", "remount,ro", str(store.mountpoint)], check=True)
    try:
        yield
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(store.mountpoint)], check=True)


def test_a_read_only_store_can_be_read(berth: Berth, populated: str, read_only: None) -> None:
    for command in COMMANDS:
        result = berth(*command)
        assert result.returncode == 0, (command, result.stderr)
    for command in (["create", populated, "true"], ["volume", "create", "vol"], ["rm", "keeper"]):
        result = berth(*command)
        _one_clear_line(result)
        assert "read-only" in result.stderr, (command, result.stderr)
