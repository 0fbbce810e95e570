"""containerd's Snapshotter over berth's layers.

Committed snapshots are chains of layers (named by chain_id, made by pulls and, next, by
builds). An active snapshot, named by a key, is a writable upper directory over a chain: a
container's rootfs, a build step's. A view is a read-only snapshot of a chain. Their
lifecycle, as containerd's:

    prepare(key, parent) -> Mount     a new active snapshot (its upper starts empty)
    view(key, parent) -> Mount        a new read-only one
    mounts(key) -> Mount              how to mount it again (a start after a stop)
    commit(key, diff_id, size)        an active snapshot's upper becomes a layer on its parent
    remove(key)                       gone, with its directories

Nothing here copies a file: a snapshot is an overlay of the parent's layer directories.
Callers mount and unmount (`Mount.attach`); a snapshot must be unmounted before `commit` or
`remove`. Directories are made before the row and removed after it (a directory without a
row is swept by garbage collection, which waits for a prepare in progress: both take the gc
lock).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from berth.db import Database
from berth.errors import AlreadyExists, InvalidArgument
from berth.layout import Layout
from berth.snapshot.layers import LayerStore, discard
from berth.snapshot.records import ACTIVE, VIEW, ActiveRecord, ActiveStore

if TYPE_CHECKING:
    from berth.sys.filelock import FileLock


class Mount(NamedTuple):
    """An overlay of `lowers` (topmost first) under a writable `upper`, or a read-only view
    of the lowers when `upper` is None. Plain strings, so it travels as JSON to a helper."""

    lowers: tuple[str, ...]
    upper: str | None
    work: str | None

    @property
    def readonly(self) -> bool:
        return self.upper is None

    def attach(self, target: Path, *, nodev: bool = False) -> None:
        """Mount it on `target`; `nodev`: device nodes in it can't be opened."""
        from berth.sys import mount_overlay

        mount_overlay(
            [Path(p) for p in self.lowers],
            None if self.upper is None else Path(self.upper),
            None if self.work is None else Path(self.work),
            target,
            readonly=self.readonly,
            nodev=nodev,
        )


class Snapshotter:
    def __init__(self, layout: Layout, database: Database, layers: LayerStore) -> None:
        self.layout = layout
        self.database = database
        self.layers = layers
        self.records = ActiveStore(database)

    def prepare(self, key: str, parent: str | None) -> Mount:
        """A new writable snapshot `key` over the chain `parent` (None: an empty base)."""
        _check_key(key)
        directory = self.layout.active_snapshot_dir(key)
        with self._gc_lock():
            try:
                (directory / "fs").mkdir(parents=True)
            except FileExistsError:
                raise AlreadyExists(f"snapshot {key} already exists") from None
            try:
                (directory / "work").mkdir()
                record = self.records.add(
                    key,
                    parent,
                    ACTIVE,
                    str((directory / "fs").relative_to(self.layout.root)),
                    str((directory / "work").relative_to(self.layout.root)),
                )
            except BaseException:
                discard(directory)
                raise
        return self._mount(record)

    def view(self, key: str, parent: str | None) -> Mount:
        """A new read-only snapshot `key` of the chain `parent`."""
        _check_key(key)
        with self._gc_lock():
            record = self.records.add(key, parent, VIEW, None, None)
        return self._mount(record)

    def adopt(self, key: str, parent: str | None) -> bool:
        """A row again for a writable snapshot whose directories are there (the database
        was rebuilt): in snapshots/active/<key>, or a container's of before schema v5."""
        active, legacy = self.layout.active_snapshot_dir(key), self.layout.containers / key
        for upper, work in ((active / "fs", active / "work"), (legacy / "diff", legacy / "work")):
            if upper.is_dir() and work.is_dir():
                root = self.layout.root
                relative = (str(upper.relative_to(root)), str(work.relative_to(root)))
                self.records.add(key, parent, ACTIVE, *relative)
                return True
        return False

    def mounts(self, key: str) -> Mount:
        return self._mount(self.records.get(key))

    def parent(self, key: str) -> str | None:
        return self.records.get(key).parent

    def lowers(self, key: str) -> list[Path]:
        """The layer directories beneath the snapshot, topmost first (what `diff` compares
        its upper against)."""
        parent = self.records.get(key).parent
        return [] if parent is None else [layer.path for layer in self.layers.chain_layers(parent)]

    def upper(self, key: str) -> Path:
        record = self.records.get(key)
        if record.upper is None:
            raise InvalidArgument(f"snapshot {key} is a read-only view")
        return self.layout.root / record.upper

    def commit(self, key: str, diff_id: str, size: int) -> str:
        """Make the active snapshot's upper directory the layer `diff_id` (its content in
        overlay's format; the caller computed the diff_id from its tar) on the snapshot's
        parent; the active snapshot is gone after. Returns the new chain_id."""
        record = self.records.get(key)
        if record.upper is None or record.work is None:
            raise InvalidArgument(f"snapshot {key} is a read-only view: nothing to commit")
        unpacked = self.layers.new_unpack_dir()
        os.rmdir(unpacked / "fs")
        os.rename(self.layout.root / record.upper, unpacked / "fs")
        with self.database.transaction():
            self.layers.commit(unpacked, diff_id, size)
            chain_id = self.layers.link(record.parent, diff_id)
            self.records.delete(key)
        self._discard(record)
        return chain_id

    def remove(self, key: str) -> None:
        record = self.records.get(key)
        self.records.delete(key)
        self._discard(record)

    def usage(self, key: str) -> int:
        """Bytes the snapshot's upper holds (what a container wrote), as `du` counts them."""
        from berth.sys.disk import tree_size

        record = self.records.get(key)
        return 0 if record.upper is None else tree_size(self.layout.root / record.upper)

    def _mount(self, record: ActiveRecord) -> Mount:
        if record.parent is None:
            self.layout.empty_lower.mkdir(parents=True, exist_ok=True)
            lowers: tuple[str, ...] = (str(self.layout.empty_lower),)
        else:
            lowers = tuple(str(layer.path) for layer in self.layers.chain_layers(record.parent))
        if record.upper is None or record.work is None:
            return Mount(lowers, None, None)
        root = self.layout.root
        return Mount(lowers, str(root / record.upper), str(root / record.work))

    def _discard(self, record: ActiveRecord) -> None:
        for relative in (record.upper, record.work):
            if relative is not None:
                discard(self.layout.root / relative)
        if record.upper is not None:  # the snapshot's own directory, once empty
            with contextlib.suppress(OSError):  # a pre-v5 container's holds its other files
                os.rmdir((self.layout.root / record.upper).parent)

    def _gc_lock(self) -> FileLock:
        """Held shared while a snapshot's directories exist without their row."""
        from berth.sys.filelock import FileLock

        return FileLock(self.layout.locks / "gc.lock", shared=True)


def _check_key(key: str) -> None:
    if not key or "/" in key or key.startswith("."):
        raise InvalidArgument(f"invalid snapshot key {key!r}")
