"""The container service: create, start, stop, kill, remove, wait, and the state readers
trust (a row reconciled with its monitor's status file).

Start mounts the rootfs (an overlay of the image's layers under the container's own upper
directory: no image file is copied), writes the OCI spec, creates the cgroup and hands the
rest to a detached monitor, waiting only until the monitor reports the container running.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.container import ContainerRecord, ContainerStore, names
from berth.db import now
from berth.errors import BerthError, Conflict, InvalidArgument, NotFound
from berth.monitor.config import STATUS_NAME, STOP_REQUESTED, MonitorConfig
from berth.monitor.files import read_json

if TYPE_CHECKING:
    import subprocess

    from berth.cgroups import CgroupManager
    from berth.engine.engine import Engine
    from berth.engine.networks import NetworkSetup
    from berth.runtime import Runtime, Stdio
    from berth.sys.filelock import FileLock

NOT_STARTED = "0001-01-01T00:00:00Z"
MONITOR_EXIT_SECONDS = 10
CGROUP_PARENT_ENV = "BERTH_CGROUP_PARENT"
INIT_BINARY = Path("/usr/bin/tini-static")  # Debian's tini: what `--init` runs as pid 1
MIN_MEMORY = 6 * 1024 * 1024
NANO = 1_000_000_000
CPU_PERIOD = 100_000
ACTIVE = ("running", "restarting", "paused")
MONITOR_KEYS = ("MonitorPid", "MonitorStart")  # in status.json, not in the container's State


class ContainerFailed(BerthError):
    """The container's process could not be started; `exit_status` is Docker's code for it
    (125 engine failure, 126 not executable, 127 not found)."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def _initial_state() -> dict[str, Any]:
    return {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": NOT_STARTED,
        "FinishedAt": NOT_STARTED,
        "RestartCount": 0,
    }


def _monitor_alive(status: dict[str, Any]) -> bool:
    """Whether the monitor that wrote `status` still runs (pids are reused: its start time
    must match too)."""
    from berth.runtime import processes

    pid, started = int(status.get("MonitorPid") or 0), int(status.get("MonitorStart") or 0)
    return bool(pid and started) and processes.alive(pid, started)


class ContainerService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.layout = engine.layout
        self.records = ContainerStore(engine.database)

    # -- places --------------------------------------------------------------------------

    def directory(self, container_id: str) -> Path:
        return self.layout.containers / container_id

    def run_dir(self, container_id: str) -> Path:
        return self.layout.runroot / "containers" / container_id

    @property
    def cgroup_parent(self) -> str:
        return os.environ.get(CGROUP_PARENT_ENV, "berth")

    def _runtime(self) -> Runtime:
        from berth.runtime import Runtime

        return Runtime(self.layout.runroot / "runtime")

    # -- reading -------------------------------------------------------------------------

    def lookup(self, text: str) -> ContainerRecord:
        return self.refresh(self.records.lookup(text))

    def inspect(self, record: ContainerRecord) -> dict[str, Any]:
        """`docker container inspect`'s document for the container."""
        from berth.engine.reports import container_inspect

        settings = self.engine.networks.settings(record)
        return container_inspect(record, self.directory(record.id), self.layout.volumes, settings)

    def all(self) -> list[ContainerRecord]:
        return [self.refresh(record) for record in self.records.all()]

    def refresh(self, record: ContainerRecord) -> ContainerRecord:
        """Merge what the monitor reported; a monitor that is gone without reporting an exit
        means the container is gone too (a crash or a reboot): say so, never 'running'."""
        if record.status not in ACTIVE:
            return record
        run_dir = self.run_dir(record.id)
        status = read_json(run_dir / STATUS_NAME) or {}
        monitor_alive = _monitor_alive(status)
        changes = {k: v for k, v in status.items() if k not in MONITOR_KEYS}
        if status.get("Status") == "exited" or not monitor_alive:
            if status.get("Status") != "exited":
                changes = {
                    "ExitCode": 255,
                    "Error": "the container's monitor is gone",
                    "FinishedAt": now(),
                }
            changes.update(Status="exited", Running=False, Paused=False, Restarting=False, Pid=0)
            updated = record.with_state(**changes)
            self.records.save_state(updated)
            if not monitor_alive:
                self._release(updated)
            return updated
        if record.status == "paused":
            changes.update(Status="paused", Paused=True)
        changes["Restarting"] = changes.get("Status") == "restarting"
        return record.with_state(**changes)

    # -- create --------------------------------------------------------------------------

    def create(
        self,
        config: dict[str, Any],
        host_config: dict[str, Any],
        name: str | None,
        aliases: list[str] | None = None,
    ) -> ContainerRecord:
        image = self.engine.images.lookup(str(config.get("Image") or ""))
        image_config = self.engine.images.config(image).config
        merged = _merge_image_config(config, dict(image_config))
        from berth.container.spec import process_args

        process_args(merged)  # "No command specified" now, not at start
        _check_resources(host_config)
        taken = {r.name for r in self.records.all()}
        container_id = os.urandom(32).hex()
        chosen = names.check_name(name) if name else names.random_name(taken)
        volumes = self.engine.volumes
        # -v name:/path creates the volume; -v /path and the image's VOLUMEs, anonymous ones
        anonymous = volumes.register_mounts(host_config, image_config.get("Volumes") or {})
        merged.setdefault("Hostname", "")
        if not merged["Hostname"]:
            merged["Hostname"] = container_id[:12]
        record = ContainerRecord(
            id=container_id,
            name=chosen,
            image_id=image.id,
            image_name=str(config.get("Image")),
            created=now(),
            config=merged,
            host_config=host_config,
            state=_initial_state(),
        )
        directory = self.directory(container_id)
        added = False
        try:
            for sub in ("diff", "work", "rootfs"):
                (directory / sub).mkdir(parents=True)
            self.records.add(record)
            added = True
            self.engine.networks.register(record.id, host_config, list(aliases or []))
        except BaseException:
            # Nothing of a container that was not created stays: row, directory, the
            # anonymous volumes made for it above.
            if added:
                self.records.delete(record.id)
            _remove_tree(directory)
            for volume in anonymous:
                with contextlib.suppress(BerthError):
                    volumes.remove(volume)
            raise
        return record

    # -- start ---------------------------------------------------------------------------

    def start_lock(self, container_id: str) -> FileLock:
        """Held while a container starts: nothing may release what a start is setting up."""
        from berth.sys.filelock import FileLock

        return FileLock(self.layout.locks / f"start-{container_id}")

    def starting(self, container_id: str) -> bool:
        lock = self.start_lock(container_id)
        if not lock.acquire(blocking=False):
            return True
        lock.release()
        return False

    def start(self, record: ContainerRecord, *, wait_for_attach: bool = False) -> ContainerRecord:
        with self.start_lock(record.id):
            return self._start(record, wait_for_attach)

    def _start(self, record: ContainerRecord, wait_for_attach: bool) -> ContainerRecord:
        record = self.refresh(record)
        if record.status in ("running", "restarting"):
            return record
        if record.status == "paused":
            raise Conflict("cannot start a paused container, try unpause instead")
        directory, run_dir = self.directory(record.id), self.run_dir(record.id)
        _remove_tree(run_dir)
        run_dir.mkdir(parents=True)
        rootfs = directory / "rootfs"
        self._mount_rootfs(record, rootfs)
        cgroup: CgroupManager | None = None
        network: NetworkSetup | None = None
        try:
            self.engine.volumes.copy_up(record.host_config, rootfs)
            network = self.engine.networks.setup(record)
            spec = self._spec(record, rootfs, network)
            (directory / "config.json").write_text(json.dumps(spec))
            cgroup = self._cgroup(record)
            dns_fds = network.dns_fds or ()
            monitor = MonitorConfig(
                id=record.id,
                bundle=str(directory),
                run_dir=str(run_dir),
                runtime_root=str(self.layout.runroot / "runtime"),
                log_path=str(directory / f"{record.id}-json.log"),
                rootfs=str(rootfs),
                tty=bool(record.config.get("Tty")),
                open_stdin=bool(record.config.get("OpenStdin")),
                wait_for_attach=wait_for_attach,
                cgroup_name=record.id,
                cgroup_parent=self.cgroup_parent,
                cgroup_procs=[str(p) for p in cgroup.procs_files()],
                restart_policy=str(
                    (record.host_config.get("RestartPolicy") or {}).get("Name") or "no"
                ),
                restart_max=int(
                    (record.host_config.get("RestartPolicy") or {}).get("MaximumRetryCount") or 0
                ),
                auto_remove_argv=self._remove_argv(record)
                if record.host_config.get("AutoRemove")
                else [],
                healthcheck=record.config.get("Healthcheck"),
                shell=list(record.config.get("Shell") or []),
                cleanup_argv=self._admin_argv("container", "cleanup", record.id)
                if network.netns == str(self.engine.networks.netns_path(record.id))
                else [],
                dns_fds=list(dns_fds),
                dns_names=network.names_files,
                held_fds=[s.fileno() for s in network.held if s.fileno() not in dns_fds],
            )
            monitor.write()
            report = self.engine.monitor_launcher().hand_over(
                run_dir, [s.fileno() for s in network.held]
            )
        except BaseException as error:
            self._release(record, cgroup_too=cgroup is not None)
            message = getattr(error, "message", str(error))
            failed = record.with_state(
                Status="exited" if record.state.get("StartedAt") != NOT_STARTED else "created",
                Error=message,
                ExitCode=getattr(error, "exit_status", 125),
            )
            self.records.save_state(failed)
            if record.host_config.get("AutoRemove"):
                self._discard(record)  # no monitor holds it, so none will remove it (--rm)
                self.engine.volumes.remove_anonymous(record.host_config)
            raise
        finally:
            for sock in network.held if network else []:
                sock.close()  # the monitor holds them now
        if "error" in report:
            code = int(report.get("exit_code", 125))
            self.records.save_state(
                record.with_state(
                    Status="exited" if code != 125 else "created",
                    Error=report["error"],
                    ExitCode=code,
                    FinishedAt=now(),
                )
            )
            raise ContainerFailed(report["error"], code)
        status = read_json(run_dir / STATUS_NAME) or {}
        started = record.with_state(**{k: v for k, v in status.items() if k not in MONITOR_KEYS})
        self.records.save_state(started)
        return started

    def _remove_argv(self, record: ContainerRecord) -> list[str]:
        return self._admin_argv("rm", "-f", record.id)

    def _admin_argv(self, *words: str) -> list[str]:
        """A berth command on this store, for the monitor to run once its container is done."""
        return [
            sys.executable,
            "-I",
            "-m",
            "berth",
            "--root",
            str(self.layout.root),
            "--runroot",
            str(self.layout.runroot),
            *words,
        ]

    def _mount_rootfs(self, record: ContainerRecord, rootfs: Path) -> None:
        from berth.sys import mount_overlay

        image = self.engine.images.records.get(record.image_id)
        directory = self.directory(record.id)
        if image.top_chain is None:
            empty = directory / "empty"
            empty.mkdir(exist_ok=True)
            lowers = [empty]
        else:
            lowers = [layer.path for layer in self.engine.layers.chain_layers(image.top_chain)]
        if os.path.ismount(rootfs):
            return
        privileged = bool(record.host_config.get("Privileged"))
        # nodev: the device policy (berth.container.mounts.oci_mounts)
        mount_overlay(lowers, directory / "diff", directory / "work", rootfs, nodev=not privileged)

    def _spec(self, record: ContainerRecord, rootfs: Path, network: NetworkSetup) -> dict[str, Any]:
        from berth.container import spec, user
        from berth.engine.etc_files import write_etc_files

        resolved = user.resolve(rootfs, str(record.config.get("User") or ""))
        etc = write_etc_files(self.directory(record.id), record, network)
        return spec.build(
            record.config,
            record.host_config,
            spec.SpecInputs(
                rootfs=rootfs,
                user=resolved,
                etc_files=etc,
                netns=network.netns,
                seccomp=self._seccomp(record),
                init_binary=INIT_BINARY if INIT_BINARY.exists() else None,
                binds=self._binds(record),
            ),
        )

    def _binds(self, record: ContainerRecord) -> list[dict[str, Any]]:
        from berth.container.mounts import oci_mounts

        return oci_mounts(record.host_config, self.layout.volumes)

    def _seccomp(self, record: ContainerRecord) -> dict[str, Any] | None:
        """Docker's default filter, a profile file, or none (privileged or unconfined)."""
        from berth.container.spec import capabilities
        from berth.runtime import seccomp_default

        host_config = record.host_config
        if host_config.get("Privileged"):
            return None
        chosen = None
        for option in host_config.get("SecurityOpt") or []:
            text = str(option)
            if text.startswith(("seccomp=", "seccomp:")):
                chosen = text[len("seccomp=") :]
        caps = capabilities(
            host_config.get("CapAdd") or [], host_config.get("CapDrop") or [], False
        )
        if chosen == "unconfined":
            return None
        if chosen:  # the profile's JSON, read from its file when the container was created
            return dict(seccomp_default.parse_profile(chosen, caps, source="SecurityOpt"))
        return dict(seccomp_default.default_profile(caps))

    def _cgroup(self, record: ContainerRecord) -> CgroupManager:
        from berth.cgroups import Resources, open_cgroup

        hc = record.host_config
        quota = None
        if hc.get("NanoCpus"):
            quota = int(hc["NanoCpus"]) * CPU_PERIOD // NANO
        resources = Resources(
            memory=hc.get("Memory") or None,
            memory_swap=hc.get("MemorySwap") or None,
            memory_reservation=hc.get("MemoryReservation") or None,
            cpu_quota=quota or hc.get("CpuQuota") or None,
            cpu_period=CPU_PERIOD if quota else (hc.get("CpuPeriod") or None),
            cpu_shares=hc.get("CpuShares") or None,
            cpuset_cpus=hc.get("CpusetCpus") or None,
            pids_limit=hc.get("PidsLimit") if (hc.get("PidsLimit") or 0) > 0 else None,
        )
        cgroup = open_cgroup(record.id, parent=self.cgroup_parent)
        cgroup.create(resources)
        return cgroup

    # -- stop, kill, wait, remove ----------------------------------------------------------

    def kill(self, record: ContainerRecord, sig: int, *, all_processes: bool = False) -> None:
        record = self.refresh(record)
        if record.status not in ("running", "restarting"):
            raise Conflict(
                f"Cannot kill container: {record.id}: Container {record.id} is not running"
            )
        configured = record.config.get("StopSignal")
        if not configured or sig in (signal.SIGKILL, signal_number(str(configured))):
            # As Docker's: this ends the container for good, whatever its restart policy
            # (another signal, when a stop signal is configured, is just a signal).
            (self.run_dir(record.id) / STOP_REQUESTED).touch()
        with contextlib.suppress(NotFound):
            self._runtime().kill(record.id, sig, all_processes=all_processes)

    def stop(self, record: ContainerRecord, timeout: float | None = None) -> ContainerRecord:
        record = self.refresh(record)
        if record.status not in ("running", "restarting", "paused"):
            return record
        (self.run_dir(record.id) / STOP_REQUESTED).touch()
        if record.status == "paused":
            self.unpause(record)
        configured = record.config.get("StopTimeout")
        grace = timeout if timeout is not None else 10 if configured is None else configured
        stop_signal = signal_number(str(record.config.get("StopSignal") or "SIGTERM"))
        with contextlib.suppress(BerthError):
            self._runtime().kill(record.id, stop_signal)
        stopped = self.wait_exit(record, float(grace))
        if stopped is None:
            with contextlib.suppress(BerthError):
                self._runtime().kill(record.id, signal.SIGKILL, all_processes=True)
            stopped = self.wait_exit(record, 30.0)
        if stopped is not None:
            # Its monitor, then the cleanup it execs, release the network: done when stop
            # returns, as Docker's (inspect right after shows no address).
            self._wait_monitor_gone(record)
        return stopped or self.refresh(record)

    def wait_exit(self, record: ContainerRecord, timeout: float | None) -> ContainerRecord | None:
        """The container once it has exited (and will not restart), or None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while True:
            current = self.refresh(self.records.get(record.id))
            if current.status in ("exited", "created", "dead"):
                return current
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

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
        console_size: tuple[int, int] | None = None,  # (rows, columns) of the caller's
    ) -> subprocess.Popen[bytes]:
        """Run one more process in a running container, as `docker exec` does: the
        container's environment, user, capabilities and seccomp filter unless overridden."""
        from berth.cgroups import open_cgroup
        from berth.container import user as users
        from berth.container.spec import merge_env

        record = self.refresh(record)
        if record.status == "paused":
            raise Conflict(f"Container {record.id} is paused, unpause the container before exec")
        if record.status != "running":
            raise Conflict(f"Container {record.id} is not running")
        if not args:
            raise InvalidArgument("exec needs a command to run")
        directory = self.directory(record.id)
        spec = json.loads((directory / "config.json").read_text())
        process = dict(spec["process"])
        process["args"] = args
        process["env"] = merge_env(process.get("env") or [], ["TERM=xterm"] if tty else [], env)
        process["terminal"] = tty
        if tty and console_size:
            process["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
        if workdir:
            process["cwd"] = workdir
        if user is not None:
            resolved = users.resolve(directory / "rootfs", user)
            process["user"] = {
                "uid": resolved.uid,
                "gid": resolved.gid,
                "additionalGids": list(resolved.additional_gids),
            }
        cgroup = open_cgroup(record.id, parent=self.cgroup_parent)
        return self._runtime().exec(
            record.id,
            process,
            stdio,
            cgroup_procs=cgroup.procs_files(),
            seccomp_profile=(spec.get("linux") or {}).get("seccomp"),
            console_socket=console_socket,
        )

    def wait_removed(self, record: ContainerRecord, timeout: float = 30.0) -> None:
        """Wait while the monitor removes an `--rm` container, as Docker's CLI waits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.records.get(record.id)
            except NotFound:
                return
            time.sleep(0.01)

    def pause(self, record: ContainerRecord) -> None:
        from berth.cgroups import open_cgroup

        record = self.refresh(record)
        if record.status != "running":
            raise Conflict(f"Container {record.id} is not running")
        open_cgroup(record.id, parent=self.cgroup_parent).freeze()
        self.records.save_state(record.with_state(Status="paused", Paused=True))

    def unpause(self, record: ContainerRecord) -> None:
        from berth.cgroups import open_cgroup

        if record.status != "paused":
            raise Conflict(f"Container {record.id} is not paused")
        open_cgroup(record.id, parent=self.cgroup_parent).thaw()
        self.records.save_state(record.with_state(Status="running", Paused=False))

    def remove(
        self, record: ContainerRecord, *, force: bool = False, volumes: bool = False
    ) -> None:
        """`volumes`: its anonymous volumes go too (`rm -v`, and --rm)."""
        record = self.refresh(record)
        if record.status in ACTIVE:
            if not force:
                raise Conflict(
                    f"You cannot remove a {record.status} container {record.id}. Stop the "
                    "container before attempting removal or force remove"
                )
            (self.run_dir(record.id) / STOP_REQUESTED).touch()
            if record.status == "paused":
                self.unpause(record)
            with contextlib.suppress(BerthError):
                self._runtime().kill(record.id, signal.SIGKILL, all_processes=True)
            self.wait_exit(record, 30.0)
        self._wait_monitor_gone(record)
        self._release(record, cgroup_too=True)
        self._discard(record)
        if volumes or record.host_config.get("AutoRemove"):
            self.engine.volumes.remove_anonymous(record.host_config)

    def _discard(self, record: ContainerRecord) -> None:
        """The container's row, names, network endpoints and directories (released first)."""
        self.engine.networks.forget(record.id)
        self.records.delete(record.id)
        _remove_tree(self.directory(record.id))
        _remove_tree(self.run_dir(record.id))
        (self.layout.locks / f"start-{record.id}").unlink(missing_ok=True)

    def _wait_monitor_gone(self, record: ContainerRecord) -> None:
        run_dir = self.run_dir(record.id)
        status = read_json(run_dir / STATUS_NAME) or {}
        pid = int(status.get("MonitorPid") or 0)
        if pid == os.getppid() or not _monitor_alive(status):
            return
        try:  # a pidfd turns readable the moment the monitor exits: no polling
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            ready, _, _ = select.select([pidfd], [], [], MONITOR_EXIT_SECONDS)
            if not ready and _monitor_alive(status):
                os.kill(pid, signal.SIGKILL)
        finally:
            os.close(pidfd)

    def _release(self, record: ContainerRecord, *, cgroup_too: bool = True) -> None:
        """Undo what start set up on the host: the rootfs mount, runtime state, the cgroup."""
        from berth.sys import MNT_DETACH, umount

        rootfs = self.directory(record.id) / "rootfs"
        if os.path.ismount(rootfs):
            with contextlib.suppress(BerthError):
                umount(rootfs, MNT_DETACH)
        with contextlib.suppress(BerthError):
            self._runtime().delete(record.id)
        self.engine.networks.teardown(record)
        if cgroup_too:
            with contextlib.suppress(BerthError):
                from berth.cgroups import open_cgroup

                open_cgroup(record.id, parent=self.cgroup_parent).destroy()

    def size(self, record: ContainerRecord) -> int:
        """What the container wrote: its overlay upper directory."""
        from berth.engine.disk import tree_size

        return tree_size(self.directory(record.id) / "diff")

    def cleanup(self, record: ContainerRecord) -> None:
        """Release a container that is done (a no-op for one that was started again)."""
        with self.start_lock(record.id):
            record = self.refresh(self.records.get(record.id))
            if record.status not in ACTIVE:
                self._release(record, cgroup_too=True)

    def rename(self, record: ContainerRecord, name: str) -> None:
        self.records.rename(record, names.check_name(name))
        self.engine.networks.renamed(record.id)


def _remove_tree(path: Path) -> None:
    """shutil.rmtree, imported when used: `ps` (which imports this module) never removes."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def signal_number(name: str) -> int:
    text = name.upper()
    if text.isdigit():
        return int(text)
    try:
        return int(signal.Signals[text if text.startswith("SIG") else f"SIG{text}"])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {name}") from None


def _merge_image_config(config: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """Docker's merge at create: the image supplies what the run options leave unset."""
    merged = dict(config)
    from berth.container.spec import merge_env

    merged["Env"] = merge_env(image.get("Env") or [], config.get("Env") or [])
    if not config.get("Entrypoint") and config.get("Entrypoint") != []:
        merged["Entrypoint"] = image.get("Entrypoint")
        if not config.get("Cmd"):
            merged["Cmd"] = image.get("Cmd")
    for key in ("WorkingDir", "User", "StopSignal", "Shell"):
        if not merged.get(key) and image.get(key):
            merged[key] = image[key]
    for key in ("ExposedPorts", "Volumes", "Labels"):
        combined = {**(image.get(key) or {}), **(config.get(key) or {})}
        merged[key] = combined or None
    if image.get("Healthcheck"):  # Docker's merge: unset fields come from the image
        own = dict(config.get("Healthcheck") or {})
        merged["Healthcheck"] = {
            **image["Healthcheck"],
            **{k: v for k, v in own.items() if v not in (None, 0, [], "")},
        }
    return merged


def _check_resources(host_config: dict[str, Any]) -> None:
    memory = int(host_config.get("Memory") or 0)
    if memory and memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    swap = int(host_config.get("MemorySwap") or 0)
    if swap > 0 and memory and swap < memory:
        raise InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if swap and not memory:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
