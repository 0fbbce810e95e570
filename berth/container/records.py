"""Container rows: Docker-shaped Config and HostConfig fixed at create, State as it changes.

Lookup follows Docker: full id, then exact name, then a unique id prefix.
"""

import json
import sqlite3
from typing import TYPE_CHECKING, Any, NamedTuple

from berth.container.state import Status, status_of
from berth.db import Database
from berth.db.columns import decoded
from berth.errors import AlreadyExists, InvalidArgument, NotFound

if TYPE_CHECKING:
    from berth.image.service import ImageUser


class ContainerRecord(NamedTuple):
    id: str  # 64 hex characters
    name: str  # without Docker's leading "/"
    image_id: str
    image_name: str  # as the user named the image
    created: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    state: dict[str, Any]

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def status(self) -> Status:
        return status_of(self.state)

    def event_attributes(self) -> dict[str, str]:
        """What Docker's container events say of their container: image, name, labels."""
        labels = self.config.get("Labels") or {}
        return {
            **{str(k): str(v) for k, v in labels.items()},
            "image": self.image_name,
            "name": self.name,
        }

    def with_state(self, **changes: Any) -> "ContainerRecord":
        return self._replace(state={**self.state, **changes})


def _record(row: tuple[Any, ...]) -> ContainerRecord:
    config, host_config, state = decoded(row[5]), decoded(row[6]), decoded(row[7])
    if config is None or host_config is None or state is None:
        # A damaged row: the container shows as dead, and `rm -f` removes it.
        state = {
            "Status": "dead",
            "Dead": True,
            "Running": False,
            "Pid": 0,
            "ExitCode": 0,
            "Error": "the container's record is damaged: remove it with rm -f",
        }
    return ContainerRecord(
        id=str(row[0]),
        name=str(row[1]),
        image_id=str(row[2]),
        image_name=str(row[3]),
        created=str(row[4]),
        config=config or {},
        host_config=host_config or {},
        state=state,
    )


_COLUMNS = "id, name, image_id, image_name, created, config, host_config, state"


class ContainerStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, record: ContainerRecord) -> None:
        try:
            with self.database.transaction() as cursor:
                cursor.execute(
                    f"INSERT INTO containers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.id,
                        record.name,
                        record.image_id,
                        record.image_name,
                        record.created,
                        json.dumps(record.config),
                        json.dumps(record.host_config),
                        json.dumps(record.state),
                    ),
                )
        except sqlite3.IntegrityError:
            holder = self.database.query("SELECT id FROM containers WHERE name = ?", (record.name,))
            owner = str(holder[0][0]) if holder else "another container"
            raise AlreadyExists(
                f'Conflict. The container name "/{record.name}" is already in use by container '
                f'"{owner}". You have to remove (or rename) that container to be able to reuse '
                "that name."
            ) from None

    def all(self) -> list[ContainerRecord]:
        rows = self.database.query(f"SELECT {_COLUMNS} FROM containers ORDER BY created DESC")
        return [_record(row) for row in rows]

    def get(self, container_id: str) -> ContainerRecord:
        rows = self.database.query(
            f"SELECT {_COLUMNS} FROM containers WHERE id = ?", (container_id,)
        )
        if not rows:
            raise NotFound(f"No such container: {container_id}")
        return _record(rows[0])

    def lookup(self, text: str) -> ContainerRecord:
        if not text:
            raise InvalidArgument("a container name or id is required")
        name = text.removeprefix("/")
        rows = self.database.query(
            f"SELECT {_COLUMNS} FROM containers WHERE id = ? OR name = ?", (text, name)
        )
        if rows:
            return _record(rows[0])
        if all(c in "0123456789abcdef" for c in text):
            rows = self.database.query(
                f"SELECT {_COLUMNS} FROM containers WHERE id LIKE ?", (text + "%",)
            )
            if len(rows) == 1:
                return _record(rows[0])
            if len(rows) > 1:
                raise InvalidArgument(f"multiple containers found with provided prefix: {text}")
        raise NotFound(f"No such container: {text}")

    def save_state(self, record: ContainerRecord) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE containers SET state = ? WHERE id = ?",
                (json.dumps(record.state), record.id),
            )

    def replace(self, record: ContainerRecord) -> None:
        """Write every column of the row again (a damaged one, rebuilt)."""
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM containers WHERE id = ?", (record.id,))
            self.add(record)

    def save_host_config(self, container_id: str, host_config: dict[str, Any]) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE containers SET host_config = ? WHERE id = ?",
                (json.dumps(host_config), container_id),
            )

    def rename(self, record: ContainerRecord, name: str) -> None:
        try:
            with self.database.transaction() as cursor:
                cursor.execute("UPDATE containers SET name = ? WHERE id = ?", (name, record.id))
        except sqlite3.IntegrityError:
            raise AlreadyExists(
                f'Error when allocating new name: Conflict. The container name "/{name}" is '
                "already in use"
            ) from None

    def delete(self, container_id: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM containers WHERE id = ?", (container_id,))

    def using_image(self, image_id: str) -> list[ContainerRecord]:
        rows = self.database.query(
            f"SELECT {_COLUMNS} FROM containers WHERE image_id = ?", (image_id,)
        )
        return [_record(row) for row in rows]

    # -- what the image service asks (berth.image.service.ImageUsers) -----------------------

    def image_users(self, image_id: str) -> "list[ImageUser]":
        from berth.container.state import ACTIVE
        from berth.image.service import ImageUser

        return [ImageUser(r.short_id, r.status in ACTIVE) for r in self.using_image(image_id)]

    # -- what the volume service asks (berth.volume.VolumeUsers) ----------------------------

    def mounting(self, name: str) -> list[str]:
        from berth.container.volume_mounts import volume_names

        return [r.id for r in self.all() if name in volume_names(r.host_config)]

    def volumes_in_use(self) -> set[str]:
        from berth.container.volume_mounts import volume_names

        used: set[str] = set()
        for record in self.all():
            used.update(volume_names(record.host_config))
        return used
