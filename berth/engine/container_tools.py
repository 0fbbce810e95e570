"""The container tools facade: `exec`, `cp`, `diff`, `top`, `stats` and `update` — what the
CLI's commands and the API's /containers/{id}/exec, archive, changes, top, stats and update
routes call, on containers the containers facade found."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import subprocess

    from berth.container.changes import Change
    from berth.container.lifecycle import Lifecycle
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord, ContainerStore
    from berth.container.stats import Usage
    from berth.engine.containers import Containers
    from berth.runtime import Stdio
    from berth.snapshot import Snapshotter
    from berth.volume import Volumes as VolumeService


class Parts(Protocol):
    """What the tools use of the engine."""

    @property
    def container_records(self) -> ContainerStore: ...

    @property
    def container_paths(self) -> ContainerPaths: ...

    @property
    def containers(self) -> Containers: ...

    @property
    def lifecycle(self) -> Lifecycle: ...

    @property
    def snapshots(self) -> Snapshotter: ...

    @property
    def volume_service(self) -> VolumeService: ...


class ContainerTools:
    def __init__(self, parts: Parts) -> None:
        self._parts = parts
        self.records = parts.container_records
        self.paths = parts.container_paths

    def refresh(self, record: ContainerRecord) -> ContainerRecord:
        return self._parts.containers.refresh(record)

    def lookup(self, text: str) -> ContainerRecord:
        return self._parts.containers.lookup(text)

    def exec(
        self,
        record: ContainerRecord,
        args: list[str],
        *,
        env: list[str],
        user: str | None,
        workdir: str | None,
        tty: bool,
        stdio: Stdio,
        console_socket: int | None = None,
        console_size: tuple[int, int] | None = None,
    ) -> subprocess.Popen[bytes]:
        from berth.container import exec as container_exec

        lifecycle = self._parts.lifecycle
        return container_exec.run(
            self.paths,
            lifecycle.runtime(),
            self.refresh(record),
            args,
            env=env,
            user=user,
            workdir=workdir,
            tty=tty,
            stdio=stdio,
            console_socket=console_socket,
            console_size=console_size,
        )

    def copy(self, src: str, dest: str, *, follow: bool, archive: bool) -> None:
        """`cp SRC DEST`, one side `CONTAINER:PATH`."""
        from berth.container import cp

        def root(name: str) -> cp.Root:
            record = self.lookup(name)
            volumes = self._parts.volume_service
            return cp.container_root(self.paths, self._parts.snapshots, volumes.data, record)

        cp.copy_path(root, src, dest, follow=follow, archive=archive)

    def changes(self, record: ContainerRecord) -> list[Change]:
        from berth.container.changes import container_changes

        return container_changes(self.paths, self._parts.snapshots, record)

    def top(self, record: ContainerRecord, ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
        from berth.container.top import top

        return top(self.paths, self.refresh(record), ps_args)

    def stats(self, records: list[ContainerRecord]) -> dict[str, Usage]:
        from berth.container.stats import stats

        return stats(self.paths, records)

    def update(self, record: ContainerRecord, changes: dict[str, Any]) -> None:
        from berth.container.update import update

        update(self.paths, self.records, self.refresh(record), changes)
