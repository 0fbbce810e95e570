"""The container lifecycle: create, start, refresh, release, remove — and the only place
that calls across resources (the network for the sandbox, volumes for the mounts).

Create prepares the rootfs as an active snapshot of its image (no file copied). Start mounts
it, writes the OCI spec, makes the cgroup and hands the rest to a detached monitor (berth's
or conmon: `monitors`), until it reports the container running. What start set up is released
once it is done: by the monitor's clean-up, or by the first berth command that finds the
monitor gone (`refresh`). Stopping, killing and pausing are in `stopping`."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth import space
from berth.container import monitors, recovery, state, volume_mounts
from berth.container.paths import ContainerPaths
from berth.container.records import ContainerRecord, ContainerStore
from berth.container.state import ACTIVE, Status
from berth.container.view import MONITOR_KEYS, ContainerView, reported
from berth.db import now
from berth.errors import (
    BerthError,
    Conflict,
    ContainerFailed,
    NoSpace,
    NotFound,
    PermissionDenied,
)
from berth.monitor.config import RENAMED
from berth.network.setup import default_hostname, is_bridged, network_mode

if TYPE_CHECKING:
    from berth.cgroups import CgroupManager
    from berth.container.services import Network, Snapshots
    from berth.container.volume_mounts import VolumeService
    from berth.events import Journal
    from berth.image.records import ImageRecord
    from berth.monitor.launch import MonitorLauncher
    from berth.network.records import NetworkRecord
    from berth.network.setup import NetworkSetup
    from berth.runtime import Runtime


class Lifecycle:
    def __init__(
        self,
        records: ContainerStore,
        paths: ContainerPaths,
        view: ContainerView,
        snapshots: Snapshots,
        network: Callable[[], Network],
        volumes: Callable[[], VolumeService],
        volumes_root: Path,
        launcher: Callable[[], MonitorLauncher],
        journal: Journal,
    ) -> None:
        """`network` and `volumes` give the services on first use: a container on
        `--network none` without volumes never builds (nor imports) them."""
        self.records = records
        self.paths = paths
        self.view = view
        self.snapshots = snapshots
        self._network_service = network
        self._volumes = volumes
        self.volumes_root = volumes_root
        self._launcher = launcher
        self.journal = journal

    @property
    def network(self) -> Network:
        return self._network_service()

    @property
    def volumes(self) -> VolumeService:
        return self._volumes()

    def runtime(self) -> Runtime:
        from berth.runtime import Runtime

        return Runtime(self.paths.runtime_root)

    # -- reading ---------------------------------------------------------------------------

    def refresh(self, record: ContainerRecord) -> ContainerRecord:
        """The container as it is now; an exit its monitor reported (or a monitor gone
        without reporting one) is recorded, and what the start set up released."""
        observed = self.view.observe(record)
        if observed.changed:
            try:
                self.records.save_state(observed.record)
                monitors.say_end(self.paths.run_dir(record.id), self.announce, record)
                if observed.monitor_gone:
                    self.release(observed.record)
            except (NoSpace, PermissionDenied):
                pass  # a full or read-only store is still read; a later command records it
        return observed.record

    def lookup(self, text: str) -> ContainerRecord:
        return self.refresh(self.records.lookup(text))

    def all(self) -> list[ContainerRecord]:
        return [self.refresh(record) for record in self.records.all()]

    def size(self, record: ContainerRecord) -> int:
        """What the container wrote: its snapshot's upper directory."""
        try:
            return self.snapshots.usage(record.id)
        except NotFound:
            return 0

    # -- create ----------------------------------------------------------------------------

    def create(
        self,
        image: ImageRecord,
        image_config: Mapping[str, Any],
        config: dict[str, Any],
        host_config: dict[str, Any],
        name: str | None,
        aliases: list[str] | None = None,
        address: str | None = None,
        container_id: str | None = None,
    ) -> ContainerRecord:
        """`container_id`: chosen by `run -d` with its conmon (canceled if this fails)."""
        from berth.container import names, references
        from berth.container.creating import check, merge_image_config
        from berth.container.spec import process_args

        merged = merge_image_config(config, dict(image_config))
        process_args(merged)  # "No command specified" now, not at start
        check(config, host_config, self.lookup)
        references.resolve(host_config, self.lookup)  # --volumes-from, --link
        taken = {r.name for r in self.records.all()}
        container_id = container_id or os.urandom(32).hex()
        chosen = names.check_name(name) if name else names.random_name(taken)
        # -v name:/path creates the volume; -v /path and the image's VOLUMEs, anonymous ones
        anonymous = []
        if host_config.get("Mounts") or image_config.get("Volumes"):
            anonymous = volume_mounts.register(
                self.volumes, host_config, image_config.get("Volumes") or {}
            )
        if not merged.get("Hostname"):
            merged["Hostname"] = default_hostname(network_mode(host_config), container_id)
        record = ContainerRecord(
            id=container_id,
            name=chosen,
            image_id=image.id,
            image_name=str(config.get("Image")),
            created=now(),
            config=merged,
            host_config=host_config,
            state=state.initial_state(),
        )
        prepared = added = False
        try:
            self.paths.rootfs(container_id).mkdir(parents=True)
            self.snapshots.prepare(container_id, image.top_chain)
            prepared = True
            self.records.add(record)
            added = True
            recovery.save(self.paths.directory(container_id), record)
            mode = network_mode(host_config)
            if is_bridged(mode) or aliases or address:
                self.network.register(record.id, mode, list(aliases or []), address)
        except BaseException as error:
            # Nothing of a container that was not created stays: row, snapshot, directory,
            # the anonymous volumes made for it above (on a full disk, with the store's
            # reserve: undoing must not fail for the space that made the create fail).
            monitors.cancel_ahead(container_id)
            if isinstance(error, NoSpace) and prepared:
                space.make_room(self.paths.layout.reserve)
            if added:
                self.records.delete(record.id)
            if prepared:
                self.snapshots.remove(container_id)
            _remove_tree(self.paths.directory(container_id))
            for volume in anonymous:
                with contextlib.suppress(BerthError):
                    self.volumes.remove_if_anonymous(volume)
            raise
        self.announce("create", record)
        return record

    def announce(self, action: str, record: ContainerRecord, **attributes: str) -> None:
        """A container event (what `docker events` shows), with its image, name and labels."""
        details = {**record.event_attributes(), **attributes}
        self.journal.record("container", action, record.id, details)

    # -- start -----------------------------------------------------------------------------

    def starting(self, container_id: str) -> bool:
        return self.view.starting(container_id)

    def start(
        self,
        record: ContainerRecord,
        *,
        wait_for_attach: bool = False,
        meanwhile: Callable[[], object] | None = None,
        own_monitor: bool = False,
    ) -> ContainerRecord:
        """Start the container, return it running; `meanwhile` runs while its monitor starts it."""
        if record.status not in ACTIVE:  # its last monitor may still release the last run
            monitors.wait_gone(self.view.monitor_of(record))
        with self.paths.start_lock(record.id):
            # Read again under the lock: a record read before may predate another start.
            current = self.refresh(self.records.get(record.id))
            return self._start(current, wait_for_attach, meanwhile, own_monitor)

    def _start(
        self,
        record: ContainerRecord,
        wait_for_attach: bool,
        meanwhile: Callable[[], object] | None,
        own_monitor: bool,
    ) -> ContainerRecord:
        from berth.container import starting

        if not state.check_start(record.id, record.status):
            return record
        run_dir = self.paths.run_dir(record.id)
        ahead = monitors.take_ahead(record.id)  # spawned by `run -d` before its create
        if ahead is None:
            _remove_tree(run_dir)
            run_dir.mkdir(parents=True)
        starting.mount_rootfs(self.paths, self.snapshots, record)
        group: CgroupManager | None = None
        network: NetworkSetup | None = None
        basics = starting.monitor_basics(record, self.paths, wait_for_attach=wait_for_attach)
        if ahead is None and not own_monitor:
            ahead = monitors.ahead(basics, record.host_config, record.name)
        try:
            if volume_mounts.volume_names(record.host_config):
                rootfs = self.paths.rootfs(record.id)
                volume_mounts.copy_up(self.volumes, record.host_config, rootfs)
            network = self._setup_network(record)
            spec = starting.spec(record, self.paths, self.volumes_root, network, self.lookup)
            (self.paths.directory(record.id) / "config.json").write_text(json.dumps(spec))
            group = starting.cgroup(record, self.paths.cgroup_parent)
            owns_netns = self._bridged(record) and network.netns == str(
                self.network.netns_path(record.id)
            )
            config = starting.monitor_config(
                basics, self.paths, group, network, owns_netns=owns_netns
            )
            config.write()
            held = [s.fileno() for s in network.held]
            report = monitors.hand_over(
                config, record.name, spec, held, self._launcher, meanwhile, ahead, own_monitor
            )
        except BaseException as error:
            if ahead is not None:
                ahead.abort()
            self.release(record, cgroup_too=group is not None)
            message = getattr(error, "message", str(error))
            code = getattr(error, "exit_status", 125)
            self.records.save_state(
                record.with_state(**state.start_failed(record.state, message, code))
            )
            if record.host_config.get("AutoRemove"):
                self.discard(record)  # no monitor holds it, so none will remove it (--rm)
                self.remove_anonymous_volumes(record)
            raise
        finally:
            for sock in network.held if network else []:
                sock.close()  # the monitor holds them now
        if "error" in report:
            code = int(report.get("exit_code", 125))
            failed = state.process_failed(report["error"], code, now())
            self.records.save_state(record.with_state(**failed))
            raise ContainerFailed(report["error"], code)
        status = self.view.monitor_status(record.id)
        monitor = {key: status[key] for key in MONITOR_KEYS if key in status}
        # The monitor's identity goes in the row too: the run directory may be wiped.
        started = record.with_state(**reported(status), **monitor)
        self.records.save_state(started)
        for name, attributes in volume_mounts.mount_events(record.host_config, record.id):
            self.journal.record("volume", "mount", name, attributes)
        self.announce("start", started)
        return started

    def _setup_network(self, record: ContainerRecord) -> NetworkSetup:
        from berth.container import bridging
        from berth.network import setup

        mode = setup.network_mode(record.host_config)
        if mode == "host":
            return setup.on_host()
        if mode == "none":
            return setup.isolated()
        if mode.startswith("container:"):
            other = self.lookup(mode.partition(":")[2])
            if other.status != Status.RUNNING:
                raise Conflict(f"cannot join network of a non running container: {other.id}")
            path = self.network.netns_path(other.id)
            if not path.exists():
                path = Path(f"/proc/{int(other.state.get('Pid') or 0)}/ns/net")
            return setup.joined(path, self.paths.directory(other.id))
        return bridging.setup(record, self.network, mode, self.lookup)

    # -- release and remove ----------------------------------------------------------------

    def release(self, record: ContainerRecord, *, cgroup_too: bool = True) -> None:
        """Undo what start set up: the rootfs mount, runtime state, network, cgroup."""
        from berth.container import namespaces
        from berth.sys import MNT_DETACH, umount

        rootfs = self.paths.rootfs(record.id)
        if os.path.ismount(rootfs):
            with contextlib.suppress(BerthError):
                umount(rootfs, MNT_DETACH)
        with contextlib.suppress(BerthError):
            self.runtime().delete(record.id)
        namespaces.release(self.paths, record.id)  # a shareable IPC's /dev/shm
        if self._bridged(record):
            monitors.release(str(self.paths.layout.runroot), record.id)  # its DNS server
            self.network.teardown(record.id)
        if cgroup_too:
            with contextlib.suppress(BerthError):
                from berth.cgroups import open_cgroup

                open_cgroup(record.id, parent=self.paths.cgroup_parent).destroy()

    def cleanup(self, record: ContainerRecord) -> None:
        """Release a container that is done (a no-op for one that was started again)."""
        with self.paths.start_lock(record.id):
            record = self.refresh(self.records.get(record.id))
            if record.status not in ACTIVE:
                self.release(record, cgroup_too=True)

    def discard(self, record: ContainerRecord) -> None:
        """The container's network endpoints, snapshot, row and directories (released
        first). The snapshot goes before the row: a crash between leaves a row `rm -f`
        removes, not an upper directory nothing names."""
        if self._bridged(record):
            self.network.forget(record.id)
        with contextlib.suppress(NotFound):
            self.snapshots.remove(record.id)
        self.records.delete(record.id)
        _remove_tree(self.paths.directory(record.id))
        _remove_tree(self.paths.run_dir(record.id))
        self.paths.start_lock_path(record.id).unlink(missing_ok=True)
        self.announce("destroy", record)

    def remove_anonymous_volumes(self, record: ContainerRecord) -> None:
        """`rm -v` and --rm: the container's anonymous volumes no other container uses."""
        if volume_mounts.volume_names(record.host_config):
            volume_mounts.remove_anonymous(self.volumes, record.host_config)

    def _bridged(self, record: ContainerRecord) -> bool:
        """Whether the container has (or may get) endpoints: only then has the network
        anything of it to set up, release or forget."""
        return is_bridged(network_mode(record.host_config))

    # -- names and networks ----------------------------------------------------------------

    def rename(self, record: ContainerRecord, name: str) -> None:
        from berth.container import names

        checked = names.check_name(name)
        self.records.rename(record, checked)
        recovery.save(self.paths.directory(record.id), record._replace(name=checked))
        with contextlib.suppress(OSError):  # for a running monitor's events (die, health…)
            (self.paths.run_dir(record.id) / RENAMED).write_text(checked)
        if self._bridged(record):
            self.network.renamed(record.id)
        self.announce("rename", record._replace(name=checked), oldName=f"/{record.name}")

    def connect(self, network: NetworkRecord, record: ContainerRecord, aliases: list[str]) -> None:
        def running() -> bool:
            return self.refresh(record).status in (Status.RUNNING, Status.PAUSED)

        mode = network_mode(record.host_config)
        self.network.connect(network, record.id, record.name, mode, aliases, running)
        self._announce_network("connect", network, record)

    def disconnect(self, network: NetworkRecord, record: ContainerRecord) -> None:
        self.network.disconnect(network, record.id)
        self._announce_network("disconnect", network, record)

    def _announce_network(
        self, action: str, network: NetworkRecord, record: ContainerRecord
    ) -> None:
        attributes = {"container": record.id, "name": network.name, "type": network.driver}
        self.journal.record("network", action, network.id, attributes)


def _remove_tree(path: Path) -> None:
    """shutil.rmtree, imported only when there is something to remove (its imports cost ~1.5
    ms): `ps` imports this module, a new container's start finds no run directory to clear."""
    if not os.path.lexists(path):
        return
    import shutil

    shutil.rmtree(path, ignore_errors=True)
