"""The container tools facade: `exec`, `cp`, `export`, `diff`, `top`, `stats` and `update` —
what the CLI's commands and the API's /containers/{id}/exec, archive, export, changes, top,
stats and update routes call, on containers the containers facade found."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterable, Iterator

    from berth.container.changes import Change
    from berth.container.cp import Root
    from berth.container.lifecycle import Lifecycle
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord, ContainerStore
    from berth.container.stats import Sample, Usage
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
        privileged: bool = False,
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
            privileged=privileged,
        )

    def copy(self, src: str, dest: str, *, follow: bool, archive: bool) -> None:
        """`cp SRC DEST`, one side `CONTAINER:PATH`."""
        from berth.container import cp

        cp.copy_path(
            lambda name: self._root(self.lookup(name)), src, dest, follow=follow, archive=archive
        )

    def _root(self, record: ContainerRecord) -> Root:
        from berth.container import cp

        volumes = self._parts.volume_service
        return cp.container_root(self.paths, self._parts.snapshots, volumes.data, record)

    def stat_path(self, record: ContainerRecord, path: str) -> dict[str, Any]:
        """Docker's stat of a path in the container (HEAD .../archive)."""
        from berth.container import cp

        return cp.stat_path(self._root(self.refresh(record)), path)

    def archive_path(
        self, record: ContainerRecord, path: str
    ) -> tuple[dict[str, Any], Iterator[bytes]]:
        """A path's stat and its tar stream (GET .../archive); the stream must be read to
        its end or closed."""
        from berth.container import cp

        return cp.archive_path(self._root(self.refresh(record)), path)

    def export(self, record: ContainerRecord) -> Iterator[bytes]:
        """The container's filesystem as a tar stream (`export`); read it to its end or
        close it."""
        from berth.container import cp

        root = cp.export_root(self.paths, self._parts.snapshots, record)
        return cp.export(root)

    def extract_archive(
        self,
        record: ContainerRecord,
        path: str,
        chunks: Iterable[bytes],
        *,
        allow_overwrite_dir_with_file: bool,
        copy_uid_gid: bool,
    ) -> None:
        """A client's tar stream unpacked into a directory of the container (PUT .../archive);
        `copy_uid_gid` gives the files to the container's user, as dockerd does."""
        from berth.container import cp

        current = self.refresh(record)
        user = str(current.config.get("User") or "") if copy_uid_gid else ""
        mounts = [
            (str(entry.get("Target") or ""), not entry.get("ReadOnly"))
            for entry in current.host_config.get("Mounts") or []
        ]
        cp.extract_into(
            self._root(current),
            path,
            chunks,
            allow_overwrite_dir_with_file=allow_overwrite_dir_with_file,
            user=user or None,
            mounts=mounts,
            readonly_rootfs=bool(current.host_config.get("ReadonlyRootfs")),
        )

    def changes(self, record: ContainerRecord) -> list[Change]:
        from berth.container.changes import container_changes

        return container_changes(self.paths, self._parts.snapshots, record)

    def top(self, record: ContainerRecord, ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
        from berth.container.top import top

        return top(self.paths, self.refresh(record), ps_args)

    def stats(self, records: list[ContainerRecord]) -> dict[str, Usage]:
        from berth.container.stats import stats

        return stats(self.paths, records)

    def sample(self, record: ContainerRecord) -> Sample | None:
        """One raw reading of a container (the API's stats), None when it is not running."""
        from berth.container.stats import sample

        return sample(self.paths, self.refresh(record))

    def update(self, record: ContainerRecord, changes: dict[str, Any]) -> None:
        from berth.container.update import update

        update(self.paths, self.records, self.refresh(record), changes)
