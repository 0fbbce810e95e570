"""`berth system check [--repair]`: what is damaged in a store, and what can be rebuilt.

Checked: the database itself (it opens; SQLite's integrity check), each container row, each
image (its manifest, config and layers on disk), each layer (its directory), each container
(its directory and its filesystem snapshot). With `--repair`:

- a database that can't be used is moved aside (berth.db.damaged-<time>) and rebuilt from
  the store: layers from their directories (each says what it is), images from the content
  store's manifests (untagged: names are not in the blobs), volumes from their directories,
  containers from their record files (created, as never started: their state is lost), on
  the default network (a user-defined network is lost with the database);
- a damaged container row is rebuilt from its record file, or removed;
- images, layers and containers whose files are gone are removed (they can't run).

Containers that run keep running; what can't be recovered is said, never silently dropped.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, NamedTuple

from berth.errors import BerthError, DataLoss, NotFound
from berth.layout import Layout

if TYPE_CHECKING:
    from berth.container.records import ContainerRecord
    from berth.engine.engine import Engine

DAMAGED = "the container's record is damaged"


class Finding(NamedTuple):
    subject: str  # "database", "image sha256:…", "container 1a2b…", "layer 12"
    problem: str
    action: str = ""  # what --repair did ("" when nothing was done)


def check(layout: Layout, *, repair: bool) -> list[Finding]:
    from berth.engine.engine import Engine

    try:
        engine = Engine.open(layout)
    except DataLoss as error:
        finding = Finding("database", error.message)
        if not repair:
            return [finding]
        return [finding._replace(action=f"{_rebuilt(layout)}, rebuilt"), *_rebuild_in(layout)]
    try:
        problems = engine.database.problems()
        if not (problems and repair):
            findings = [Finding("database", problem) for problem in problems]
            return findings + _rows(engine, repair)
    finally:
        engine.close()
    finding = Finding("database", "; ".join(problems[:3]), f"{_rebuilt(layout)}, rebuilt")
    return [finding, *_rebuild_in(layout)]


def _rebuilt(layout: Layout) -> str:
    return f"moved to {_quarantine(layout)}"


def _rebuild_in(layout: Layout) -> list[Finding]:
    from berth.engine.engine import Engine

    engine = Engine.open(layout, rebuild=True)
    try:
        return _rebuild(engine)
    finally:
        engine.close()


def _quarantine(layout: Layout) -> str:
    """The damaged database and its journal files, moved aside (never deleted)."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = layout.database.with_name(f"{layout.database.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = layout.database.with_name(layout.database.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    return target.name


def _rebuild(engine: Engine) -> list[Finding]:
    from berth.container import recovery
    from berth.image.recovery import recover_images
    from berth.snapshot.recovery import recover_layers

    findings: list[Finding] = []
    adopted, unknown = recover_layers(engine.layout, engine.layers)
    findings.append(Finding("layers", f"{adopted} found on disk", "recorded again"))
    for directory in unknown:
        findings.append(Finding(f"layer {directory.name}", "does not say what it is"))
    images = recover_images(engine.content, engine.layers, engine.image_service.records)
    for image_id in images:
        findings.append(Finding(f"image {image_id}", "found in the content store", "untagged"))
    for name in engine.volume_service.adopt_directories():
        findings.append(Finding(f"volume {name}", "found on disk", "recorded again"))
    if engine.layout.containers.is_dir():
        for entry in sorted(os.scandir(engine.layout.containers), key=lambda e: e.name):
            record = recovery.load(engine.layout.containers / entry.name)
            subject = f"container {entry.name[:12]}"
            if record is None:
                findings.append(Finding(subject, "has no record file"))
                continue
            findings.append(_restore(engine, record, subject))
    return findings


def _restore(engine: Engine, record: ContainerRecord, subject: str) -> Finding:
    from berth.network.setup import is_bridged, network_mode

    try:
        image = engine.image_service.records.get(record.image_id)
    except NotFound:
        return Finding(subject, f"its image {record.image_id} is gone")
    from berth.container.view import MONITOR_KEYS, monitor_alive, reported

    status = engine.container_view.monitor_status(record.id)
    if monitor_alive(status):  # it still runs: its monitor knows how it is
        monitor = {key: status[key] for key in MONITOR_KEYS}
        record = record.with_state(**reported(status), **monitor)
    engine.container_records.add(record)
    if not engine.snapshots.adopt(record.id, image.top_chain):
        return Finding(subject, "its filesystem is gone", "recorded; remove it with rm")
    mode = network_mode(record.host_config)
    if mode in ("bridge", "default"):
        engine.sandboxes.register(record.id, mode, [])
    elif is_bridged(mode):
        return Finding(subject, f"its network {mode} is lost", "recorded, on no network")
    return Finding(subject, f"found on disk ({record.name})", "recorded again, created")


def _rows(engine: Engine, repair: bool) -> list[Finding]:
    """What is wrong row by row in a database that opens."""
    from berth.container import recovery

    findings: list[Finding] = []
    lifecycle = engine.lifecycle
    for record in engine.container_records.all():
        subject = f"container {record.id[:12]}"
        if str(record.state.get("Error", "")).startswith(DAMAGED):
            restored = recovery.load(engine.container_paths.directory(record.id))
            action = ""
            if repair and restored is not None:
                engine.container_records.replace(restored)
                action = "rebuilt from its record file"
            elif repair:
                engine.controls.remove(record, force=True)
                action = "removed"
            findings.append(Finding(subject, "its row is damaged", action))
            continue
        missing = [
            what
            for what, present in (
                ("directory", engine.container_paths.directory(record.id).is_dir()),
                ("filesystem", _has_snapshot(engine, record.id)),
            )
            if not present
        ]
        if missing:
            action = ""
            if repair:
                engine.controls.remove(lifecycle.refresh(record), force=True)
                action = "removed"
            findings.append(Finding(subject, f"its {' and '.join(missing)} is gone", action))
    findings += _images(engine, repair)
    for layer in engine.layers.rows():
        if not layer.path.is_dir():
            action = ""
            if repair:
                engine.layers.forget(layer)
                action = "removed"
            findings.append(Finding(f"layer {layer.id}", "its directory is gone", action))
    return findings


def _images(engine: Engine, repair: bool) -> list[Finding]:
    service = engine.image_service
    findings: list[Finding] = []
    for record in service.all():
        problem = ""
        if not engine.content.exists(record.id) or not engine.content.exists(
            record.manifest_digest
        ):
            problem = "its config or manifest is gone from the content store"
        elif record.top_chain is not None:
            try:
                layers = engine.layers.chain_layers(record.top_chain)
            except NotFound:
                layers = []
            if not layers or not all(layer.path.is_dir() for layer in layers):
                problem = "a layer of it is gone"
        if not problem:
            continue
        action = ""
        if repair:
            if service.users_of(record.id):
                action = ""  # a container uses it: removing it is the user's call
            else:
                for name in (*record.tags, *record.digests):
                    service.records.untag(name)
                service.records.delete(record.id)
                action = "removed"
        findings.append(Finding(f"image {record.id}", problem, action))
    return findings


def _has_snapshot(engine: Engine, container_id: str) -> bool:
    try:
        return engine.snapshots.upper(container_id).is_dir()
    except (NotFound, BerthError):
        return False
