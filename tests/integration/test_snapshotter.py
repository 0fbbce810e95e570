"""The snapshotter on a real store (tmpfs, SQLite, overlay mounts): active snapshots over a
chain, read-only views, committing an upper into a layer, removal, what garbage collection
keeps and sweeps, and the v5 migration of containers made before snapshots had rows."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.db import Database
from berth.db.schema import MIGRATIONS
from berth.errors import AlreadyExists, InvalidArgument, NotFound
from berth.layout import Layout
from berth.oci import sha256_digest
from berth.snapshot import LayerStore, Snapshotter
from berth.sys import MNT_DETACH, umount
from tests.fixtures.store import Store


@pytest.fixture
def layout(store: Store) -> Layout:
    layout = Layout(store.root, store.runroot)
    for directory in (layout.tmp, layout.locks):
        directory.mkdir(parents=True)
    return layout


@pytest.fixture
def snapshotter(layout: Layout) -> Iterator[Snapshotter]:
    database = Database.open(layout.database)
    try:
        yield Snapshotter(layout, database, LayerStore(layout, database))
    finally:
        database.close()


def _layer(snapshotter: Snapshotter, parent: str | None, files: dict[str, str]) -> str:
    """A committed layer holding `files`, on `parent`; its chain id."""
    unpacked = snapshotter.layers.new_unpack_dir()
    for name, text in files.items():
        (unpacked / "fs" / name).write_text(text)
    diff_id = sha256_digest(repr(sorted(files.items())).encode())
    snapshotter.layers.commit(unpacked, diff_id, len(files))
    return snapshotter.layers.link(parent, diff_id)


@pytest.fixture
def mountpoint(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "mnt"
    target.mkdir()
    yield target
    if os.path.ismount(target):
        umount(target, MNT_DETACH)


def test_an_active_snapshot_writes_to_its_own_upper(
    snapshotter: Snapshotter, mountpoint: Path
) -> None:
    base = _layer(snapshotter, None, {"base.txt": "base"})
    mount = snapshotter.prepare("one", base)
    assert not mount.readonly and mount.upper is not None
    mount.attach(mountpoint)
    assert (mountpoint / "base.txt").read_text() == "base"  # no file was copied to see it
    assert list(Path(mount.upper).iterdir()) == []
    (mountpoint / "new.txt").write_text("written")
    umount(mountpoint)
    assert (Path(mount.upper) / "new.txt").read_text() == "written"
    assert snapshotter.usage("one") > 0
    assert snapshotter.mounts("one") == mount
    assert snapshotter.lowers("one") == [snapshotter.layers.chain_layers(base)[0].path]
    with pytest.raises(AlreadyExists):
        snapshotter.prepare("one", base)
    snapshotter.remove("one")
    assert not Path(mount.upper).exists()
    with pytest.raises(NotFound):
        snapshotter.mounts("one")


def test_a_snapshot_without_parent_stands_on_an_empty_lower(
    snapshotter: Snapshotter, mountpoint: Path
) -> None:
    mount = snapshotter.prepare("scratch", None)
    mount.attach(mountpoint)
    assert list(mountpoint.iterdir()) == []
    umount(mountpoint)
    snapshotter.remove("scratch")


def test_a_view_is_read_only(snapshotter: Snapshotter, mountpoint: Path) -> None:
    base = _layer(snapshotter, None, {"a": "1"})
    top = _layer(snapshotter, base, {"b": "2"})
    view = snapshotter.view("look", top)
    assert view.readonly and len(view.lowers) == 2
    view.attach(mountpoint)
    assert sorted(p.name for p in mountpoint.iterdir()) == ["a", "b"]
    with pytest.raises(OSError) as refused:
        (mountpoint / "c").write_text("3")
    assert refused.value.errno == errno.EROFS
    umount(mountpoint)
    with pytest.raises(InvalidArgument):
        snapshotter.commit("look", sha256_digest(b"x"), 0)
    snapshotter.remove("look")


def test_commit_makes_the_upper_a_layer_on_the_parent(
    snapshotter: Snapshotter, mountpoint: Path
) -> None:
    base = _layer(snapshotter, None, {"a": "1"})
    mount = snapshotter.prepare("step", base)
    mount.attach(mountpoint)
    (mountpoint / "built").write_text("by a step")
    umount(mountpoint)
    diff_id = sha256_digest(b"the step's tar")
    chain = snapshotter.commit("step", diff_id, 9)
    assert chain == sha256_digest(f"{base} {diff_id}".encode())
    layers = snapshotter.layers.chain_layers(chain)
    assert layers[0].diff_id == diff_id
    assert (layers[0].path / "built").read_text() == "by a step"
    with pytest.raises(NotFound):
        snapshotter.mounts("step")
    assert not snapshotter.layout.active_snapshot_dir("step").exists()


def test_collection_keeps_what_an_active_snapshot_stands_on(snapshotter: Snapshotter) -> None:
    base = _layer(snapshotter, None, {"a": "1"})
    snapshotter.prepare("container", base)
    chains, layers = snapshotter.layers.collect([])
    assert chains == [] and layers == []
    assert snapshotter.layers.has_chain(base)
    snapshotter.remove("container")
    chains, layers = snapshotter.layers.collect([])
    assert chains == [base] and len(layers) == 1


def test_sweep_removes_snapshot_directories_without_rows(snapshotter: Snapshotter) -> None:
    kept = snapshotter.prepare("kept", None)
    orphan = snapshotter.layout.active_snapshot_dir("orphan")
    (orphan / "fs").mkdir(parents=True)
    stray_layer = snapshotter.layout.snapshot_dir(999)
    stray_layer.mkdir(parents=True)
    snapshotter.layers.sweep()
    assert not orphan.exists() and not stray_layer.exists()
    assert kept.upper is not None and Path(kept.upper).is_dir()
    assert snapshotter.layout.empty_lower.is_dir()
    snapshotter.remove("kept")


@pytest.mark.parametrize("key", ["", "a/b", ".hidden"])
def test_keys_are_single_names(snapshotter: Snapshotter, key: str) -> None:
    with pytest.raises(InvalidArgument):
        snapshotter.prepare(key, None)


def test_the_v5_migration_gives_existing_containers_their_snapshots(layout: Layout) -> None:
    """A store written by berth before v5: its containers' uppers stay where they are."""
    connection = sqlite3.connect(layout.database)
    for migration in MIGRATIONS[:4]:
        connection.executescript(migration)
    connection.executescript(
        """
        INSERT INTO layers (id, diff_id, size, created) VALUES (1, 'sha256:aa', 1, 'now');
        INSERT INTO chains (chain_id, parent, diff_id) VALUES ('sha256:aa', NULL, 'sha256:aa');
        INSERT INTO images (id, manifest_digest, top_chain, size, created, stored)
            VALUES ('sha256:img', 'sha256:m', 'sha256:aa', 1, 'then', 'then');
        INSERT INTO containers (id, name, image_id, image_name, created, config, host_config,
            state) VALUES ('c1', 'old', 'sha256:img', 'img', 'then', '{}', '{}', '{}');
        PRAGMA user_version = 4;
        """
    )
    connection.close()
    database = Database.open(layout.database)
    try:
        snapshotter = Snapshotter(layout, database, LayerStore(layout, database))
        mount = snapshotter.mounts("c1")
        assert mount.upper == str(layout.root / "containers" / "c1" / "diff")
        assert mount.work == str(layout.root / "containers" / "c1" / "work")
        assert snapshotter.parent("c1") == "sha256:aa"
    finally:
        database.close()
