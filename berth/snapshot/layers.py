"""Unpacked layers, one directory each, stacked into chains by overlayfs.

A layer directory (snapshots/<id>/fs) holds only its own diff, with whiteouts in overlay's
format, so it does not depend on what lies beneath it: a layer is stored once per diff_id
even when two images put it on different parents. A chain (chain_id -> parent, diff_id)
names a stack; its mount is the list of its layers' directories, top first.

Crash rule: a layer is unpacked in tmp/, then renamed to snapshots/<id> inside the
transaction that inserts its row. A directory without a row is garbage (see `sweep`); so is
an active snapshot's directory (snapshots/active/<key>) without its row.
"""

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from berth.db import Database, now
from berth.errors import NotFound
from berth.layout import Layout
from berth.oci import sha256_digest

LAYER_MARKER = "layer.json"  # in snapshots/<id>/: the layer's diff_id and size


class Layer(NamedTuple):
    id: int
    diff_id: str
    size: int
    path: Path  # the layer's fs directory


class LayerStore:
    def __init__(self, layout: Layout, database: Database) -> None:
        self.layout = layout
        self.database = database

    def _layer(self, row: tuple[object, ...]) -> Layer:
        layer_id, diff_id, size = int(str(row[0])), str(row[1]), int(str(row[2]))
        return Layer(layer_id, diff_id, size, self.layout.snapshot_dir(layer_id) / "fs")

    def layer(self, diff_id: str) -> Layer | None:
        rows = self.database.query(
            "SELECT id, diff_id, size FROM layers WHERE diff_id = ?", (diff_id,)
        )
        return self._layer(rows[0]) if rows else None

    def has_chain(self, chain_id: str) -> bool:
        return bool(self.database.query("SELECT 1 FROM chains WHERE chain_id = ?", (chain_id,)))

    def new_unpack_dir(self) -> Path:
        """A fresh directory on the store's filesystem to unpack into; its `fs` is the target."""
        directory = self.layout.tmp / f"unpack-{os.urandom(16).hex()}"
        (directory / "fs").mkdir(parents=True)
        return directory

    def commit(self, unpacked: Path, diff_id: str, size: int) -> Layer:
        """Make an unpacked directory the layer `diff_id`; if a concurrent pull won the race,
        keep its layer and drop ours."""
        with self.database.transaction() as cursor:
            existing = cursor.execute(
                "SELECT id, diff_id, size FROM layers WHERE diff_id = ?", (diff_id,)
            ).fetchone()
            if existing is None:
                cursor.execute(
                    "INSERT INTO layers (diff_id, size, created) VALUES (?, ?, ?)",
                    (diff_id, size, now()),
                )
                layer_id = int(cursor.lastrowid or 0)
                # What the layer is, beside it: `system check --repair` rebuilds the row.
                marker = {"diff_id": diff_id, "size": size}
                (unpacked / LAYER_MARKER).write_text(json.dumps(marker))
                destination = self.layout.snapshot_dir(layer_id)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.rename(unpacked, destination)
                return Layer(layer_id, diff_id, size, destination / "fs")
        discard(unpacked)
        return self._layer(existing)

    def adopt(self, layer_id: int, diff_id: str, size: int) -> None:
        """A row for a layer directory that lost it (the database was rebuilt)."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "INSERT OR IGNORE INTO layers (id, diff_id, size, created) VALUES (?, ?, ?, ?)",
                (layer_id, diff_id, size, now()),
            )

    def rows(self) -> list[Layer]:
        rows = self.database.query("SELECT id, diff_id, size FROM layers ORDER BY id")
        return [self._layer(row) for row in rows]

    def forget(self, layer: Layer) -> None:
        """Drop a layer's row, with the chains (and so the images) standing on it."""
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM chains WHERE diff_id = ?", (layer.diff_id,))
            cursor.execute("DELETE FROM layers WHERE id = ?", (layer.id,))

    def link(self, parent: str | None, diff_id: str) -> str:
        """The chain of layer `diff_id` on `parent` (its chain_id), recorded if new."""
        chain_id = diff_id if parent is None else sha256_digest(f"{parent} {diff_id}".encode())
        with self.database.transaction() as cursor:
            cursor.execute(
                "INSERT OR IGNORE INTO chains (chain_id, parent, diff_id) VALUES (?, ?, ?)",
                (chain_id, parent, diff_id),
            )
        return chain_id

    def chain_layers(self, chain_id: str) -> list[Layer]:
        """The layers of a chain, top first (overlay's lowerdir order), each once: a layer
        repeated in a chain (an empty RUN twice, the same COPY twice, an image whose manifest
        lists a layer again) stays only at its topmost place, where it hides all its lower
        copy could, and overlay refuses one directory twice (ELOOP)."""
        rows = self.database.query(
            """
            WITH RECURSIVE stack(chain_id, parent, diff_id, depth) AS (
                SELECT chain_id, parent, diff_id, 0 FROM chains WHERE chain_id = ?
                UNION ALL
                SELECT c.chain_id, c.parent, c.diff_id, s.depth + 1
                FROM chains c JOIN stack s ON c.chain_id = s.parent
            )
            SELECT l.id, l.diff_id, l.size FROM stack s JOIN layers l ON l.diff_id = s.diff_id
            ORDER BY s.depth
            """,
            (chain_id,),
        )
        if not rows:
            raise NotFound(f"snapshot {chain_id} not found")
        layers: dict[int, Layer] = {}
        for row in rows:
            layer = self._layer(row)
            layers.setdefault(layer.id, layer)
        return list(layers.values())

    def collect(self, keep_chains: Iterable[str]) -> tuple[list[str], list[Layer]]:
        """Delete the chains not reachable from `keep_chains` or from an active snapshot's
        parent, and the layers no kept chain uses; return the chain ids and layers removed."""
        with self.database.transaction() as cursor:
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS keep (chain_id TEXT PRIMARY KEY)")
            cursor.execute("DELETE FROM keep")
            cursor.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(c,) for c in keep_chains])
            cursor.execute(
                "INSERT OR IGNORE INTO keep SELECT parent FROM active_snapshots "
                "WHERE parent IS NOT NULL"
            )
            cursor.execute(
                """
                WITH RECURSIVE reach(chain_id) AS (
                    SELECT chain_id FROM keep
                    UNION SELECT c.parent FROM chains c JOIN reach r ON c.chain_id = r.chain_id
                    WHERE c.parent IS NOT NULL
                )
                INSERT OR IGNORE INTO keep SELECT chain_id FROM reach
                """
            )
            doomed_chains = [
                str(row[0])
                for row in cursor.execute(
                    "SELECT chain_id FROM chains WHERE chain_id NOT IN (SELECT chain_id FROM keep)"
                )
            ]
            # Children before parents: delete the deepest unreachable chains repeatedly.
            while cursor.execute(
                """
                DELETE FROM chains WHERE chain_id NOT IN (SELECT chain_id FROM keep)
                AND chain_id NOT IN (SELECT parent FROM chains WHERE parent IS NOT NULL)
                """
            ).rowcount:
                pass
            doomed = cursor.execute(
                "SELECT id, diff_id, size FROM layers "
                "WHERE diff_id NOT IN (SELECT diff_id FROM chains)"
            ).fetchall()
            cursor.execute("DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM chains)")
            cursor.execute("DELETE FROM keep")
        removed = [self._layer(row) for row in doomed]
        for layer in removed:
            discard(self.layout.snapshot_dir(layer.id))
        return doomed_chains, removed

    def sweep(self) -> int:
        """Delete layer and active snapshot directories that have no row (left by a crash
        between the directory and its row) and abandoned unpack directories; returns the
        bytes freed. Only safe while no pull runs and no snapshot is prepared (both hold the
        gc lock shared)."""
        freed = 0
        known = {str(row[0]) for row in self.database.query("SELECT id FROM layers")}
        if self.layout.snapshots.is_dir():
            for entry in os.scandir(self.layout.snapshots):
                if entry.name.isdigit() and entry.name not in known:
                    freed += discard_counted(Path(entry.path))
        active = self.layout.snapshots / "active"
        if active.is_dir():
            keys = {str(row[0]) for row in self.database.query("SELECT key FROM active_snapshots")}
            for entry in os.scandir(active):
                if entry.name not in keys:
                    freed += discard_counted(Path(entry.path))
        return freed + remove_unpack_dirs(self.layout)

    def usage(self) -> int:
        return sum(int(str(row[0])) for row in self.database.query("SELECT size FROM layers"))


def discard(directory: Path) -> None:
    import shutil  # not at the top: its archive imports (bz2, lzma) cost every `run` ~1 ms

    shutil.rmtree(directory, ignore_errors=True)


def discard_counted(directory: Path) -> int:
    """`discard`, returning the bytes it freed."""
    from berth.sys.disk import tree_size

    size = tree_size(directory)
    discard(directory)
    return size


def remove_unpack_dirs(layout: Layout) -> int:
    """Delete the unpack directories in tmp/ (the caller knows no pull runs), and the spool
    directories no load holds any more; their bytes."""
    freed = 0
    if layout.tmp.is_dir():
        for entry in os.scandir(layout.tmp):
            if entry.name.startswith("unpack-"):
                freed += discard_counted(Path(entry.path))
            elif entry.name.startswith(SPOOL_PREFIX):
                freed += _discard_unheld(Path(entry.path))
    return freed


SPOOL_PREFIX = "spool-"


@contextlib.contextmanager
def spool_dir(layout: Layout) -> Iterator[Path]:
    """A directory in tmp/ for an archive being received, held (its own lock, not the
    collector's) until it is deleted: the collector may run meanwhile and leaves it alone,
    and deletes one whose holder died."""
    from berth.sys.filelock import FileLock

    directory = layout.tmp / f"{SPOOL_PREFIX}{os.urandom(16).hex()}"
    lock = FileLock(directory / "lock")
    lock.acquire()  # makes the directory
    try:
        yield directory
    finally:
        discard(directory)
        lock.release()


def _discard_unheld(directory: Path) -> int:
    from berth.sys.filelock import FileLock

    lock = FileLock(directory / "lock")
    try:
        if not lock.acquire(blocking=False):
            return 0  # its load runs
    except OSError:
        return 0
    try:
        return discard_counted(directory)
    finally:
        lock.release()


def collect_abandoned(layout: Layout) -> int:
    """What killed pulls left in tmp/ (no pull can continue an unpack directory: a resumed
    pull replays its ingest into a new one), deleted when no pull runs now; the bytes.
    Called when a store is opened; a store berth can't write is left alone."""
    from berth.sys.filelock import FileLock

    lock = FileLock(layout.locks / "gc.lock")
    try:
        if not lock.acquire(blocking=False):
            return 0  # a pull (or a collection) runs: its directories are in use
    except OSError:
        return 0
    try:
        return remove_unpack_dirs(layout)
    finally:
        lock.release()
