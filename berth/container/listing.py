"""The containers as `ps` lists them, read without the engine: one query over the rows, the
monitors' status files, and a look at each monitor in /proc.

Why: `ps` is a new process every time, and the engine's way to the same answer imports
pathlib, typing, json, argparse and the records' NamedTuples (~25 ms here, more than all of
`docker ps`, whose daemon answers from memory) before it decodes three JSON documents per
container. Here SQLite's JSON functions pick out the few fields a listing prints, in C and in
the query; the status files are parsed by SQLite as well; and nothing is imported but sqlite3
and berth's bottom layer.

Only a store in its steady state is answered. Whatever needs writing or judging is left to
the engine (`read` returns None, and the engine answers instead): a store not set up or not
migrated, a damaged row or status file, a value no berth writes, and a container whose monitor
reported its exit or is gone (the engine records the exit and releases what the start set up,
DESIGN §3). A container listed here is merged as `ContainerView.observe` merges it, so both
ways print the same.
"""

from __future__ import annotations

import os
import sqlite3

from berth.db import direct
from berth.runtime.processes import alive

TYPE_CHECKING = False  # typing costs the quick `ps` ~3 ms
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

# state.ACTIVE and state.Status's other values, as text: enum costs the quick `ps` ~3 ms.
ACTIVE = ("running", "paused", "restarting")
STATUSES = (*ACTIVE, "created", "exited", "dead", "removing")
STATUS_FILE = "status.json"  # berth.monitor.config.STATUS_NAME (that module imports json)
RUN_DIRS = "containers"  # berth.layout.Layout's name in the runroot (it imports pathlib)
# The monitor's identity in its status.json, and in the row (berth.container.view.MONITOR_KEYS).
MONITOR_KEYS = ("MonitorPid", "MonitorStart")
# The State fields a listing reads, with the JSON types berth writes for each (a field may
# also be missing); anything else is the engine's to judge.
FIELDS = {
    "Status": ("text",),
    "StartedAt": ("text", "null"),
    "FinishedAt": ("text", "null"),
    "ExitCode": ("integer",),
    "Health": ("object", "null"),
    "Health.Status": ("text", "null"),
    "MonitorPid": ("integer",),
    "MonitorStart": ("integer",),
}
SMALL_FILE = 1 << 16  # berth.monitor.files' read size (that module imports json)


def _columns(document: str) -> str:
    """Each field's JSON type (NULL: missing) and value, for SQL over `document`."""
    return ", ".join(
        f"json_type({document}, '$.{name}'), {document} ->> '$.{name}'" for name in FIELDS
    )


_ROWS = (
    "SELECT id, name, image_name, created, json_type(config), json_type(host_config), "
    "json_type(state), json_type(config, '$.Entrypoint'), json_type(config, '$.Cmd'), "
    f"json_type(config, '$.ExposedPorts'), {_columns('state')} FROM containers{{where}} "
    "ORDER BY created DESC"
)
# Entrypoint and Cmd's words (parts 0 and 1) and ExposedPorts' keys (part 2), in order.
_PARTS = (
    "SELECT c.id, p.part, CASE p.part WHEN 2 THEN e.key ELSE e.value END, e.type "
    "FROM containers AS c, (SELECT 0 AS part, '$.Entrypoint' AS path UNION ALL "
    "SELECT 1, '$.Cmd' UNION ALL SELECT 2, '$.ExposedPorts') AS p, "
    "json_each(c.config, p.path) AS e "
    "WHERE json_type(c.config, p.path) IN ('array', 'object'){also} ORDER BY c.id, p.part, e.id"
)
_ACTIVE_ONLY = "{state} ->> '$.Status' IN ('running', 'paused', 'restarting')"
# Materialized: json_each renders an element's text anew for each use of `value`.
_REPORTS = (
    "WITH reports AS MATERIALIZED (SELECT key, value FROM json_each(?)) "
    f"SELECT key, json_type(value), json(value) = '{{}}', {_columns('value')} FROM reports"
)
_PORTS = (
    "SELECT container_id, protocol, container_port, host_ip, host_port FROM ports "
    "ORDER BY container_port, protocol, host_ip"
)


class EngineNeeded(Exception):
    """The engine must answer: something here is not in its steady state."""


class Published:
    """A published port, as berth.network.records.PortMapping (which imports json, typing)."""

    __slots__ = ("container_port", "host_ip", "host_port", "protocol")

    def __init__(self, protocol: str, container_port: int, host_ip: str, host_port: int) -> None:
        self.protocol = protocol
        self.container_port = container_port
        self.host_ip = host_ip
        self.host_port = host_port


class Listed:
    """One container: its row's fields, with what its monitor reported merged into `state`
    (the fields of FIELDS a listing prints, `Health` as `{"Status": ...}`)."""

    __slots__ = ("created", "exposed", "id", "image", "name", "published", "state", "words")

    def __init__(self, row: Sequence[Any], state: dict[str, Any]) -> None:
        self.id, self.name, self.image, self.created = (str(value) for value in row[:4])
        self.state = state
        self.words: list[str] = []  # Entrypoint, then Cmd
        self.exposed: list[str] = []  # Config.ExposedPorts' keys
        self.published: list[Published] = []

    @property
    def active(self) -> bool:
        return self.state.get("Status", "created") in ACTIVE


def read(root: str, runroot: str, *, everything: bool) -> list[Listed] | None:
    """The containers of the store at `root` and `runroot`, newest first: all of them, or
    those running, paused or restarting; None when the engine must answer (see above)."""
    connection = direct.connect(root, runroot)
    if connection is None:
        return None
    try:
        return _read(connection, f"{runroot}/{RUN_DIRS}", everything)
    except (EngineNeeded, sqlite3.Error, OSError, ValueError):
        return None
    finally:
        connection.close()


def _read(connection: sqlite3.Connection, run_dirs: str, everything: bool) -> list[Listed]:
    connection.execute("BEGIN")  # one snapshot for every query below (WAL: no lock held)
    where = "" if everything else " WHERE " + _ACTIVE_ONLY.format(state="state")
    rows = connection.execute(_ROWS.format(where=where)).fetchall()
    fields = [_row_fields(row) for row in rows]
    active = [i for i, found in enumerate(fields) if _status(found) in ACTIVE]
    texts = [_read_file(f"{run_dirs}/{rows[i][0]}/{STATUS_FILE}") for i in active]
    for i, report in zip(active, _reports(connection, texts), strict=True):
        fields[i] = _observed(fields[i], report)
    listed = [Listed(row, _plain(found)) for row, found in zip(rows, fields, strict=True)]
    by_id = {item.id: item for item in listed}
    also = "" if everything else " AND " + _ACTIVE_ONLY.format(state="c.state")
    for container_id, part, word, kind in connection.execute(_PARTS.format(also=also)):
        if part < 2 and kind != "text":
            raise EngineNeeded  # a word that is not a string: never written by berth
        item = by_id[container_id]
        (item.exposed if part == 2 else item.words).append(str(word))
    if any(item.active for item in listed):
        for row in connection.execute(_PORTS):
            if (holder := by_id.get(str(row[0]))) is not None:
                holder.published.append(
                    Published(str(row[1]), int(str(row[2])), str(row[3]), int(str(row[4])))
                )
    return listed


def _row_fields(row: Sequence[Any]) -> dict[str, Any]:
    """A row's State fields; a damaged row is the engine's to show (as dead)."""
    if row[4:7] != ("object", "object", "object"):
        raise EngineNeeded
    if row[7] not in (None, "null", "array") or row[8] not in (None, "null", "array"):
        raise EngineNeeded
    if row[9] not in (None, "null", "object"):
        raise EngineNeeded
    found = _fields(row[10:])
    if _status(found) not in STATUSES:
        raise EngineNeeded
    return found


def _fields(values: Sequence[Any]) -> dict[str, Any]:
    """The fields a document has, from `_columns`' pairs: name -> (JSON type, value)."""
    found: dict[str, Any] = {}
    for index, (name, kinds) in enumerate(FIELDS.items()):
        kind, value = values[2 * index], values[2 * index + 1]
        if kind is None:
            continue
        if kind not in kinds:
            raise EngineNeeded
        found[name] = (kind, value)
    return found


def _status(fields: dict[str, Any]) -> object:
    return fields.get("Status", (None, "created"))[1]


def _value(fields: dict[str, Any], name: str) -> Any:
    return fields.get(name, (None, None))[1]


def _reports(connection: sqlite3.Connection, texts: list[str | None]) -> list[dict[str, Any]]:
    """The fields of each status file's report ({} for a missing or empty one), parsed by
    SQLite in one statement."""
    present = [text for text in texts if text is not None]
    parsed: list[dict[str, Any]] = []
    if present:
        rows = connection.execute(_REPORTS, ("[" + ",".join(present) + "]",)).fetchall()
        for _key, kind, empty, *values in sorted(rows, key=lambda row: int(row[0])):
            if kind != "object":
                raise EngineNeeded  # a status the engine reads as none
            parsed.append({} if empty else _fields(values))
    if len(parsed) != len(present):
        raise EngineNeeded
    found = iter(parsed)
    return [{} if text is None else next(found) for text in texts]


def _observed(own: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """A running container's fields with its monitor's report merged, as
    `ContainerView.observe` merges them; a monitor that reported the exit, or is gone
    without reporting one, is the engine's to record (and what the start set up, to release)."""
    monitor = report or {key: own[key] for key in MONITOR_KEYS if key in own}
    pid, started = _value(monitor, "MonitorPid") or 0, _value(monitor, "MonitorStart") or 0
    if _value(report, "Status") == "exited" or not (pid and started and alive(pid, started)):
        raise EngineNeeded
    merged = dict(own)
    if "Health" in report:
        merged.pop("Health.Status", None)  # the report's Health replaces the row's whole
    merged.update((name, value) for name, value in report.items() if name not in MONITOR_KEYS)
    if _status(own) == "paused":
        merged["Status"] = ("text", "paused")
    if _status(merged) not in STATUSES:
        raise EngineNeeded
    return merged


def _read_file(path: str) -> str | None:
    """A status file's text (written whole, by rename), or None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        chunks = [os.read(fd, SMALL_FILE)]
        while len(chunks[-1]) == SMALL_FILE:  # rarely: a status longer than one read
            chunks.append(os.read(fd, SMALL_FILE))
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields as a State: each field's value, and of `Health` the one field a listing prints."""
    state = {name: value for name, (_kind, value) in fields.items() if name[:6] != "Health"}
    if "Health" in fields:
        health = fields.get("Health.Status")
        object_ = fields["Health"][0] == "object"
        state["Health"] = ({} if health is None else {"Status": health[1]}) if object_ else None
    return state
