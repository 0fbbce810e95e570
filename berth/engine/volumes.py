"""The volume service: named volumes (driver "local") as Docker keeps them.

A volume is a row in `volumes` and a directory `volumes/<name>/_data` (files first, then the
row). Containers refer to volumes by name in HostConfig.Mounts; a volume named there is
created when the container is (`register_mounts`), and filled from the image's content at
its mount path on first use (`copy_up`, Docker's copy-up: only while the volume is empty).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from berth.errors import Conflict, InvalidArgument, NotFound, SystemFailure

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from berth.container import ContainerRecord
    from berth.engine.engine import Engine

DRIVER = "local"
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
CP = "/bin/cp"
COPY_TIMEOUT = 600


class VolumeRecord(NamedTuple):
    name: str
    driver: str
    created: str
    labels: dict[str, str]
    options: dict[str, str]

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels


def _record(row: tuple[Any, ...]) -> VolumeRecord:
    return VolumeRecord(
        name=str(row[0]),
        driver=str(row[1]),
        created=str(row[2]),
        labels=json.loads(str(row[3])),
        options=json.loads(str(row[4])),
    )


def created_now() -> str:
    """Docker's CreatedAt of a volume: RFC 3339 to the second."""
    from berth.db import now

    return now().partition(".")[0] + "Z"


def volume_names(host_config: Mapping[str, Any]) -> list[str]:
    """The named volumes a container's HostConfig mounts."""
    return [
        str(m.get("Source"))
        for m in host_config.get("Mounts") or []
        if m.get("Type") == "volume" and m.get("Source")
    ]


class VolumeService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.database = engine.database
        self.root = engine.layout.volumes

    def data(self, name: str) -> Path:
        return self.root / name / "_data"

    # -- reading -------------------------------------------------------------------------

    def get(self, name: str) -> VolumeRecord:
        rows = self.database.query(
            "SELECT name, driver, created, labels, options FROM volumes WHERE name = ?", (name,)
        )
        if not rows:
            raise NotFound(f"No such volume: {name}")
        return _record(rows[0])

    def all(self) -> list[VolumeRecord]:
        rows = self.database.query(
            "SELECT name, driver, created, labels, options FROM volumes ORDER BY name"
        )
        return [_record(row) for row in rows]

    def users(self, name: str) -> list[ContainerRecord]:
        """The containers that mount the volume, whatever their state (as Docker counts)."""
        return [
            record
            for record in self.engine.containers.records.all()
            if name in volume_names(record.host_config)
        ]

    def in_use(self) -> set[str]:
        used: set[str] = set()
        for record in self.engine.containers.records.all():
            used.update(volume_names(record.host_config))
        return used

    def size(self, name: str) -> int:
        from berth.engine.disk import tree_size

        return tree_size(self.data(name))

    def inspect(self, record: VolumeRecord) -> dict[str, Any]:
        return {
            "CreatedAt": record.created,
            "Driver": record.driver,
            "Labels": record.labels or None,  # Docker prints null for none
            "Mountpoint": str(self.data(record.name)),
            "Name": record.name,
            "Options": record.options or None,
            "Scope": "local",
        }

    # -- changing ------------------------------------------------------------------------

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
            return self.get(name)
        except NotFound:
            pass
        record = VolumeRecord(name, driver, created_now(), dict(labels or {}), {})
        self.data(name).mkdir(parents=True, exist_ok=True)
        try:
            with self.database.transaction() as cursor:
                cursor.execute(
                    "INSERT INTO volumes (name, driver, created, labels, options) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name, driver, record.created, json.dumps(record.labels), "{}"),
                )
        except sqlite3.IntegrityError:
            return self.get(name)  # another berth created it meanwhile
        return record

    def register_mounts(
        self, host_config: dict[str, Any], image_volumes: Iterable[str] = ()
    ) -> list[str]:
        """Create every named volume a new container mounts that does not exist yet, and an
        anonymous one (a random name, Docker's anonymous label) for each `-v /path` and each
        of the image's VOLUMEs nothing else is mounted on; their names are written into
        `host_config`. Returns the anonymous ones."""
        mounts = list(host_config.get("Mounts") or [])
        taken = {str(m.get("Target")) for m in mounts}
        mounts += [
            {"Type": "volume", "Source": "", "Target": path, "ReadOnly": False}
            for path in image_volumes
            if path not in taken
        ]
        anonymous = []
        for entry in mounts:
            if entry.get("Type") == "volume" and not entry.get("Source"):
                entry["Source"] = self.create(labels={ANONYMOUS_LABEL: ""}).name
                anonymous.append(entry["Source"])
        if mounts:
            host_config["Mounts"] = mounts
        for name in volume_names(host_config):
            self.create(name)
        return anonymous

    def remove_anonymous(self, host_config: Mapping[str, Any]) -> None:
        """`rm -v` (and --rm): the container's anonymous volumes that no other container
        uses; named ones stay, as Docker's."""
        for name in volume_names(host_config):
            with contextlib.suppress(NotFound, Conflict):
                if self.get(name).anonymous:
                    self.remove(name)

    def remove(self, name: str) -> None:
        record = self.get(name)
        users = self.users(record.name)
        if users:
            ids = ", ".join(user.id for user in users)
            raise Conflict(f"remove {record.name}: volume is in use - [{ids}]")
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM volumes WHERE name = ?", (record.name,))
        shutil.rmtree(self.root / record.name, ignore_errors=True)

    def prune(self, *, all_volumes: bool = False) -> tuple[list[str], int]:
        """Remove unused volumes (anonymous ones only unless `all_volumes`, as Docker 23+);
        returns the names removed and the bytes reclaimed."""
        used = self.in_use()
        removed: list[str] = []
        reclaimed = 0
        for record in self.all():
            if record.name in used or not (all_volumes or record.anonymous):
                continue
            size = self.size(record.name)
            try:
                self.remove(record.name)
            except (Conflict, NotFound):
                continue
            removed.append(record.name)
            reclaimed += size
        return removed, reclaimed

    # -- copy-up ---------------------------------------------------------------------------

    def copy_up(self, host_config: Mapping[str, Any], rootfs: Path) -> None:
        """Fill each empty named volume from the image's directory at its mount path, keeping
        owners, modes, links and xattrs; the volume's root takes the directory's owner and
        mode even when that is empty (a volume at /tmp is 1777). As Docker: only while the
        volume is empty, and not when the mount says nocopy. Runs in the host namespace
        before the container starts, on its mounted rootfs; the path is resolved inside the
        rootfs, never through a link out."""
        from berth.sys.rootpath import resolve_in_root

        for entry in host_config.get("Mounts") or []:
            if entry.get("Type") != "volume" or not entry.get("Source"):
                continue
            if (entry.get("VolumeOptions") or {}).get("NoCopy"):
                continue
            data = self.data(str(entry["Source"]))
            data.mkdir(parents=True, exist_ok=True)
            source = resolve_in_root(str(rootfs), str(entry["Target"]))
            if not os.path.isdir(source) or os.path.islink(source):
                continue
            with os.scandir(data) as present:
                if any(True for _ in present):
                    continue
            _copy_tree(source, data)


def _copy_tree(source: str, destination: Path) -> None:
    """`cp -a SOURCE/. DESTINATION`: contents, and the source directory's owner and mode."""
    import subprocess

    argv = [CP, "-a", "--no-target-directory", f"{source}/.", str(destination)]
    try:
        subprocess.run(argv, capture_output=True, timeout=COPY_TIMEOUT, check=True)
    except subprocess.CalledProcessError as error:
        message = error.stderr.decode(errors="replace").strip()
        raise SystemFailure(f"copying the image's content into a volume: {message}") from None
    except subprocess.TimeoutExpired:
        raise SystemFailure("copying the image's content into a volume timed out") from None
    info = os.stat(source)
    os.chown(destination, info.st_uid, info.st_gid)
    os.chmod(destination, info.st_mode & 0o7777)
