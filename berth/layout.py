"""Every path berth uses on disk, in one place (DESIGN §5).

Value types on the start-up path of every command are NamedTuples, not dataclasses: importing
dataclasses (and the inspect module it needs) costs ~10 ms of each CLI start. Their modules
do without `from __future__ import annotations`: typing compiles a string annotation into a
ForwardRef for every field of a NamedTuple, ~1 ms over the NamedTuples `ps` imports.

`--root` (BERTH_ROOT) holds persistent state; `--runroot` (BERTH_RUNROOT) holds what a
reboot may lose. Two layouts with different roots are fully independent stores.
"""

from pathlib import Path
from typing import NamedTuple

from berth import store_choice

DEFAULT_ROOT = Path(store_choice.DEFAULT_ROOT)
RESERVE_NAME = "reserve"  # see berth.space
DEFAULT_RUNROOT = Path(store_choice.DEFAULT_RUNROOT)


class Layout(NamedTuple):
    root: Path
    runroot: Path

    @classmethod
    def from_env(cls, root: str | None = None, runroot: str | None = None) -> "Layout":
        """The layout chosen by flags, then the environment, then the defaults."""
        chosen_root, chosen_runroot = store_choice.chosen(root, runroot)
        return cls(Path(chosen_root), Path(chosen_runroot))

    @property
    def database(self) -> Path:
        return self.root / "berth.db"

    @property
    def blobs(self) -> Path:
        return self.root / "content" / "blobs" / "sha256"

    def blob(self, digest: str) -> Path:
        algorithm, _, hex_part = digest.partition(":")
        return self.root / "content" / "blobs" / algorithm / hex_part

    @property
    def ingests(self) -> Path:
        return self.root / "content" / "ingest"

    @property
    def uploads(self) -> Path:
        """Where each upload of a push in progress is noted, so a new push resumes it."""
        return self.root / "content" / "uploads"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    def snapshot_dir(self, snapshot_id: int) -> Path:
        return self.snapshots / str(snapshot_id)

    def active_snapshot_dir(self, key: str) -> Path:
        """An active snapshot's upper and work directories live here (`fs`, `work`)."""
        return self.snapshots / "active" / key

    @property
    def empty_lower(self) -> Path:
        """The lower directory of a snapshot with no parent (overlay needs one)."""
        return self.snapshots / "empty"

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def reserve(self) -> Path:
        """Room kept for the commands that free space on a full disk (berth.space)."""
        return self.root / RESERVE_NAME

    @property
    def events(self) -> Path:
        """The event journal (berth.events): in the runroot, gone at a reboot as dockerd's."""
        return self.runroot / "events.log"

    @property
    def tmp(self) -> Path:
        """Scratch space on the store's filesystem, so a rename into place is atomic."""
        return self.root / "tmp"

    @property
    def locks(self) -> Path:
        return self.runroot / "locks"
