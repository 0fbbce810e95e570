"""Layers and chains in a real SQLite file: dedup by diff_id, stacking, collection, sweep."""

from pathlib import Path

import pytest

from berth.db import Database
from berth.layout import Layout
from berth.oci import chain_ids
from berth.snapshot import LayerStore

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


@pytest.fixture
def layers(tmp_path: Path) -> LayerStore:
    layout = Layout(tmp_path / "root", tmp_path / "run")
    layout.root.mkdir()
    return LayerStore(layout, Database.open(layout.database))


def _unpacked(layers: LayerStore, name: str) -> Path:
    directory = layers.new_unpack_dir()
    (directory / "fs" / name).write_text(name)
    return directory


def _add_chain(layers: LayerStore, diff_ids: list[str]) -> str:
    parent = None
    for chain_id, diff_id in zip(chain_ids(diff_ids), diff_ids, strict=True):
        with layers.database.transaction() as cursor:
            cursor.execute(
                "INSERT OR IGNORE INTO chains VALUES (?, ?, ?)", (chain_id, parent, diff_id)
            )
        parent = chain_id
    assert parent is not None
    return parent


def test_commit_dedups_by_diff_id(layers: LayerStore) -> None:
    first = layers.commit(_unpacked(layers, "a"), D1, 1)
    loser = _unpacked(layers, "b")
    second = layers.commit(loser, D1, 1)
    assert second == first
    assert not loser.exists()
    assert (first.path / "a").read_text() == "a"


def test_chain_layers_are_top_first(layers: LayerStore) -> None:
    for diff_id, name in ((D1, "base"), (D2, "app")):
        layers.commit(_unpacked(layers, name), diff_id, 1)
    top = _add_chain(layers, [D1, D2])
    assert [layer.diff_id for layer in layers.chain_layers(top)] == [D2, D1]


def test_one_layer_serves_two_parents(layers: LayerStore) -> None:
    for diff_id in (D1, D2, D3):
        layers.commit(_unpacked(layers, diff_id[-1]), diff_id, 1)
    a = _add_chain(layers, [D1, D3])
    b = _add_chain(layers, [D2, D3])
    assert layers.chain_layers(a)[0].path == layers.chain_layers(b)[0].path


def test_collect_keeps_what_is_reachable(layers: LayerStore) -> None:
    for diff_id in (D1, D2, D3):
        layers.commit(_unpacked(layers, diff_id[-1]), diff_id, 1)
    a = _add_chain(layers, [D1, D2])
    b = _add_chain(layers, [D1, D3])
    removed_chains, removed = layers.collect([a])
    assert removed_chains == [b]
    assert [layer.diff_id for layer in removed] == [D3]
    assert layers.layer(D3) is None and layers.layer(D1) is not None
    removed_chains, removed = layers.collect([])
    assert {layer.diff_id for layer in removed} == {D1, D2}
    assert not any(layers.layout.snapshots.iterdir())


def test_sweep_removes_directories_without_rows(layers: LayerStore) -> None:
    kept = layers.commit(_unpacked(layers, "a"), D1, 1)
    orphan = layers.layout.snapshot_dir(999)
    (orphan / "fs").mkdir(parents=True)
    abandoned = _unpacked(layers, "half")
    layers.sweep()
    assert not orphan.exists() and not abandoned.exists()
    assert kept.path.exists()
