"""The volume service: named volumes as Docker's local driver keeps them.

A volume is a row and a directory `volumes/<name>/_data` (files first, then the row). Who
mounts a volume is the containers' business, asked through `VolumeUsers`: a volume in use
can't be removed, and prune leaves it alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from berth.errors import Conflict, InvalidArgument, NotFound, SystemFailure
from berth.volume.records import ANONYMOUS_LABEL, VolumeRecord, VolumeStore

if TYPE_CHECKING:
    from collections.abc import Mapping

    from berth.events import Journal
    from berth.filters import Filters

DRIVER = "local"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
CP = "/bin/cp"
COPY_TIMEOUT = 600
PRUNE_FILTERS = ("label", "label!", "all")


class VolumeUsers(Protocol):
    """What the volume service asks of the containers."""

    def mounting(self, name: str) -> list[str]:
        """The ids of the containers that mount the volume, whatever their state."""
        ...

    def volumes_in_use(self) -> set[str]: ...


def created_now() -> str:
    """Docker's CreatedAt of a volume: RFC 3339 to the second."""
    from berth.db import now

    return now().partition(".")[0] + "Z"


class Volumes:
    def __init__(
        self, records: VolumeStore, root: Path, users: VolumeUsers, journal: Journal
    ) -> None:
        self.records = records
        self.root = root
        self.users = users
        self.journal = journal

    def data(self, name: str) -> Path:
        return self.root / name / "_data"

    def get(self, name: str) -> VolumeRecord:
        return self.records.get(name)

    def all(self) -> list[VolumeRecord]:
        return self.records.all()

    def size(self, name: str) -> int:
        from berth.sys.disk import tree_size

        return tree_size(self.data(name))

    def create(
        self,
        name: str | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        options: Mapping[str, str] | None = None,
        driver: str = DRIVER,
    ) -> VolumeRecord:
        """A new volume, or the existing one of that name (Docker's create is idempotent)."""
        if driver != DRIVER:
            raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not found')
        if options:
            raise InvalidArgument(
                "volume options (-o) are not supported by berth's local driver yet"
            )
        if name is None:
            name = os.urandom(32).hex()
        elif not _NAME.match(name):
            raise InvalidArgument(
                f'create {name}: "{name}" includes invalid characters for a local volume name, '
                'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                "directory, use absolute path"
            )
        try:
            return self.records.get(name)
        except NotFound:
            pass
        self.data(name).mkdir(parents=True, exist_ok=True)
        record = self.records.add(VolumeRecord(name, driver, created_now(), dict(labels or {}), {}))
        self.journal.record("volume", "create", name, {"driver": driver})
        return record

    def create_anonymous(self) -> VolumeRecord:
        """A volume with a random name and Docker's anonymous label (`-v /path`)."""
        return self.create(labels={ANONYMOUS_LABEL: ""})

    def adopt_directories(self) -> list[str]:
        """Rows again for volumes whose directories are there (the database was rebuilt);
        a 64-hex name was an anonymous volume. Returns the names adopted."""
        adopted: list[str] = []
        if not self.root.is_dir():
            return adopted
        known = {record.name for record in self.records.all()}
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.name in known or not Path(entry.path, "_data").is_dir():
                continue
            anonymous = len(entry.name) == 64 and all(c in "0123456789abcdef" for c in entry.name)
            labels = {ANONYMOUS_LABEL: ""} if anonymous else {}
            self.records.add(VolumeRecord(entry.name, DRIVER, created_now(), labels, {}))
            adopted.append(entry.name)
        return adopted

    def remove(self, name: str) -> None:
        import shutil

        record = self.records.get(name)
        users = self.users.mounting(record.name)
        if users:
            raise Conflict(f"remove {record.name}: volume is in use - [{', '.join(users)}]")
        self.records.delete(record.name)
        shutil.rmtree(self.root / record.name, ignore_errors=True)
        self.journal.record("volume", "destroy", record.name, {"driver": record.driver})

    def remove_if_anonymous(self, name: str) -> None:
        """`rm -v` and --rm: an anonymous volume no other container uses goes."""
        try:
            if self.records.get(name).anonymous:
                self.remove(name)
        except (NotFound, Conflict):
            pass

    def prune(self, filters: Filters) -> tuple[list[str], int]:
        """Remove unused volumes (anonymous ones only unless `all=true`, as Docker 23+) whose
        labels match; returns the names removed and the bytes reclaimed."""
        filters.only(PRUNE_FILTERS)
        every = bool(filters.boolean("all"))
        used = self.users.volumes_in_use()
        removed: list[str] = []
        reclaimed = 0
        for record in self.records.all():
            if record.name in used or not (every or record.anonymous):
                continue
            if not filters.labels(record.labels):
                continue
            size = self.size(record.name)
            try:
                self.remove(record.name)
            except (Conflict, NotFound):
                continue
            removed.append(record.name)
            reclaimed += size
        return removed, reclaimed

    def fill(self, name: str, source: str) -> None:
        """Docker's copy-up: fill an empty volume from `source` (an image's directory, on a
        mounted rootfs), keeping owners, modes, links and xattrs; the volume's root takes the
        directory's owner and mode even when that is empty (a volume at /tmp is 1777). A
        volume that holds anything already is left alone."""
        data = self.data(name)
        data.mkdir(parents=True, exist_ok=True)
        with os.scandir(data) as present:
            if any(True for _ in present):
                return
        import subprocess

        argv = [CP, "-a", "--no-target-directory", f"{source}/.", str(data)]
        try:
            subprocess.run(argv, capture_output=True, timeout=COPY_TIMEOUT, check=True)
        except subprocess.CalledProcessError as error:
            message = error.stderr.decode(errors="replace").strip()
            raise SystemFailure(f"copying the image's content into a volume: {message}") from None
        except subprocess.TimeoutExpired:
            raise SystemFailure("copying the image's content into a volume timed out") from None
        info = os.stat(source)
        os.chown(data, info.st_uid, info.st_gid)
        os.chmod(data, info.st_mode & 0o7777)
