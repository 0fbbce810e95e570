"""Containers held by conmon (podman's monitor, in C: ~0.4 MiB per container) rather than by
berth's own monitor (a forked Python, ~2.7 MiB), for the containers whose duties conmon
covers (see `eligible`; docs/conmon-monitor-plan.md maps every duty), when conmon is
installed (`berth.monitor.choice`).

conmon runs `berth-runtime create` (berth's runtime behind runc's command line) on the bundle
written in the container's run directory, writes the container's output to the container's
log in Kubernetes' format (`berth.container.logs` reads both formats), reaps it, writes its
exit code to `<run dir>/exit` (and `oom`), then runs the exit command,
`python -m berth.monitor.exited RUN_DIR`, which records the exit and releases the container as
berth's monitor would have; for a container being removed, a shell that ends at once (its
remover releases it and says its end, see `claim_exit`: ~20 ms of every `rm -f`).
The start is the engine's: `start` here spawns conmon, learns the container's pid on conmon's
sync pipe, writes status.json (conmon writes none), then starts the created container through
the runtime.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from berth.errors import BerthError, SystemFailure
from berth.monitor import choice, launch
from berth.monitor.config import ENGINE_FAILURE, REMOVE_REQUESTED, STATUS_NAME, MonitorConfig
from berth.monitor.files import rfc3339_nano, running, status_lock, write_status
from berth.runtime.cli import GATE_CANCEL, GATE_ENV, GATE_GO

CONMON_PID = "conmon.pid"  # conmon's own pid, written by its first process (-P)
EXIT_FILE = "exit"  # in the run directory (conmon's persist dir): the exit code
OOM_FILE = "oom"  # there too, when the kernel's OOM killer struck the container's cgroup
ANNOUNCED_FILE = "exit-announced"  # made by whoever says this run's end (oom, die) first
SYNC_LIMIT = 64 * 1024
CREATE_SECONDS = 60  # conmon's wait for `berth-runtime create` is not bounded: ours is
ABORT_SECONDS = 5.0  # for a conmon whose create was canceled to be gone
CREATE_FAILED = "berth-runtime create failed: "
AWAIT_CLIENT = "await-client"  # this run's container is started by its first client
START_ON_ATTACH = "start-on-attach"  # ... and it is recorded running: a client may start it


def eligible(config: MonitorConfig) -> bool:
    """Whether conmon covers every duty this container needs of a monitor (the embedded DNS
    of user-defined networks, healthchecks and a log's rotated files: with
    `berth.monitor.supervisor`; a terminal attached from the start (`run -it`), whose
    client starts it: `conmon_attach.start_on_attach`). Another foreground container keeps
    berth's monitor: its start is quicker (a `run --rm` is timed), and its client removes
    an `--rm` one as it hears the exit (conmon's exit command would, with a second berth
    command: `run --rm -i` fed from a pipe 70 -> 170 ms); a terminal is what users detach."""
    return not config.wait_for_attach or (config.open_stdin and config.tty)


CONTROL = "ctl"  # conmon's control FIFO, in the run directory


def control(run_dir: Path, line: str) -> None:
    """A line on conmon's control FIFO: `1 ROWS COLUMNS` resizes the terminal, `2 0 0`
    reopens the log. Raises OSError when no conmon reads it (ENXIO)."""
    fd = os.open(run_dir / CONTROL, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def is_conmon(run_dir: Path) -> bool:
    """Whether the container of this run directory is (or was last) held by conmon."""
    return (run_dir / CONMON_PID).exists()


GATE_NAME = "gate"  # the FIFO in the run directory a `create` started ahead waits on


def start(
    config: MonitorConfig,
    name: str,
    spec_text: str,
    held: Sequence[int],
    restart_count: int = 0,
) -> dict[str, Any]:
    """Create the container under a new conmon, record it running, start it (see
    `Spawned.finish`). A restart (by the last conmon's exit command) is one: started at
    once, whether or not its first run waited for a client."""
    spawned = Spawned(config, name, held, spec_text=spec_text, restart=restart_count > 0)
    return spawned.finish(spec_text, restart_count)


class Spawned:
    """conmon, spawned, running `berth-runtime create` on the run directory's bundle.

    Given the spec, it is written first. Without it, conmon is spawned ahead of it: the
    runtime's start (an interpreter and its imports, ~30 ms) then overlaps the engine's own
    preparations (the rootfs, the network), and its create waits on a gate (a FIFO named in
    its environment, `berth.runtime.cli_create`) until `finish` writes the spec and says go;
    `abort` (or the engine's death: the gate's end of file) cancels it. The engine holds the
    gate open until the create is done, so the word waits in the FIFO for a late reader.
    With `wait_for_attach` (not on a restart), the container is created, recorded running,
    and left for its first client to start (`conmon_attach.start_on_attach`). Raises
    SystemFailure when conmon can't be started."""

    def __init__(
        self,
        config: MonitorConfig,
        name: str,
        held: Sequence[int],
        *,
        spec_text: str | None,
        restart: bool = False,
    ) -> None:
        import subprocess

        conmon, runtime = choice.conmon_path(), choice.runtime_path()
        if conmon is None or runtime is None:
            raise SystemFailure("BERTH_MONITOR=conmon: conmon or berth-runtime is not installed")
        self.config = config
        self.run_dir = run_dir = Path(config.run_dir)
        self._gate = self._sync = -1
        ours = (EXIT_FILE, OOM_FILE, ANNOUNCED_FILE, CONMON_PID, GATE_NAME, AWAIT_CLIENT)
        for leftover in (*ours, START_ON_ATTACH, "pid", "attach", "ctl", "winsz"):
            (run_dir / leftover).unlink(missing_ok=True)
        self._awaits_client = config.wait_for_attach and not restart
        if self._awaits_client:  # before conmon's socket exists: a client knows to wait
            (run_dir / AWAIT_CLIENT).touch()
        environment = {**launch.monitor_environment()}
        environment.pop(GATE_ENV, None)  # an exit command's restart inherits the last one's
        if spec_text is None:
            os.mkfifo(run_dir / GATE_NAME, 0o600)
            self._gate = os.open(run_dir / GATE_NAME, os.O_RDWR | os.O_CLOEXEC)  # never blocks
            environment[GATE_ENV] = str(run_dir / GATE_NAME)
        else:
            (run_dir / "config.json").write_text(spec_text)  # the bundle conmon is given
        argv = _argv(conmon, runtime, config, name)
        self._sync, sync_write = os.pipe2(os.O_CLOEXEC)
        environment["_OCI_SYNCPIPE"] = str(sync_write)
        try:
            with open(run_dir / launch.LOG_NAME, "ab") as log:
                first = subprocess.Popen(
                    argv,
                    env=environment,
                    cwd=run_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    pass_fds=(sync_write, *held),
                )
            first.wait()  # it forks conmon off and exits: reaped here, conmon lives on
        except OSError as error:
            self._close()
            raise SystemFailure(f"conmon failed to start: {error}") from None
        finally:
            os.close(sync_write)

    def abort(self) -> None:
        """The start given up before `finish`: the create canceled; conmon's exit command
        leaves the release to the engine (as a remover's). Returns once that conmon is gone,
        so nothing of it acts on a later run in this directory (~30-50 ms: its runtime
        reads the gate once it has imported)."""
        if self._sync < 0:
            return
        with contextlib.suppress(OSError):
            (self.run_dir / REMOVE_REQUESTED).touch()
            os.write(self._gate, GATE_CANCEL)
        try:  # the gate held open meanwhile: its word lives only while someone holds it
            _wait_gone(self.run_dir)
        finally:
            self._close()

    def _close(self) -> None:
        for fd in (self._gate, self._sync):
            if fd >= 0:
                os.close(fd)
        self._gate = self._sync = -1
        (self.run_dir / GATE_NAME).unlink(missing_ok=True)

    def finish(self, spec_text: str, restart_count: int = 0) -> dict[str, Any]:
        """The spec written (if it was not), conmon's word on the create awaited, the
        container recorded running and started. Returns the monitor's kind of report:
        {"pid": …} or {"error": …, "exit_code": …} when the runtime could not create it
        (conmon then runs the exit command, which releases it). Raises SystemFailure when
        conmon died or hung (nothing will run the exit command: the caller releases what
        the start set up)."""
        config, run_dir = self.config, self.run_dir
        try:
            if self._gate >= 0:
                (run_dir / "config.json").write_text(spec_text)
                os.write(self._gate, GATE_GO)
            message = _read_sync(self._sync)
            monitor_pid = int((run_dir / CONMON_PID).read_text().strip())
        except (OSError, ValueError) as error:
            raise SystemFailure(f"conmon failed to start: {error}") from None
        finally:
            self._close()
        if message is None:
            with contextlib.suppress(OSError):
                os.kill(monitor_pid, signal.SIGKILL)
            raise SystemFailure(f"the runtime did not create the container in {CREATE_SECONDS} s")
        pid = message.get("data")
        if not isinstance(pid, int):
            raise SystemFailure(f"conmon failed to start the container: {_log_tail(run_dir)}")
        if pid <= 0:
            text = runtime_error(str(message.get("message") or ""))
            return {"error": text, "exit_code": failure_code(text)}
        from berth.runtime import Runtime, processes

        # Running before it is started: its exit, recorded by the exit command, must come after.
        status = {
            **running(pid, rfc3339_nano()),
            "RestartCount": restart_count,
            "MonitorPid": monitor_pid,
            "MonitorStart": processes.start_time(monitor_pid),
        }
        with status_lock(run_dir):  # a last run's health may be being written
            write_status(run_dir / STATUS_NAME, status, config.reserve)
        if config.keeps_rotated_files():  # from before its first output
            from berth.monitor.supervisor import keep_rotated

            keep_rotated(config, monitor_pid)
        if self._awaits_client:  # its first client starts it, once it is there to listen
            (run_dir / START_ON_ATTACH).touch()
            return {"pid": pid}
        runtime_handle = Runtime(Path(config.runtime_root))
        try:
            runtime_handle.start(config.id)
        except BerthError as error:
            runtime_handle.delete(config.id)  # conmon hears the end and runs the exit command
            return {"error": error.message, "exit_code": ENGINE_FAILURE}
        return {"pid": pid}


def _wait_gone(run_dir: Path) -> None:
    """Until the conmon of this run directory has exited; killed after `ABORT_SECONDS`."""
    from berth.runtime.processes import wait_or_kill

    try:
        pid = int((run_dir / CONMON_PID).read_text().strip())
    except (OSError, ValueError):
        return  # it never wrote its pid
    wait_or_kill(pid, ABORT_SECONDS)


def _log_tail(run_dir: Path) -> str:
    """What conmon said before it died without a word on its sync pipe."""
    try:
        return (run_dir / launch.LOG_NAME).read_text(errors="replace")[-500:]
    except OSError:
        return ""


def claim_exit(run_dir: Path) -> bool:
    """Whether the caller is the one to say the end of the run conmon held here: its exit
    command, or the remover of a container being removed, whose exit command left at once
    (`EXIT_SCRIPT`); whichever comes first, once per run. False for berth's monitor's
    containers, whose monitor says it."""
    if not is_conmon(run_dir):
        return False
    try:
        os.close(os.open(run_dir / ANNOUNCED_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    return True


# The exit command, as `sh -c EXIT_SCRIPT PYTHON RUN_DIR`: a container being removed is its
# remover's to release and announce (an interpreter's start and imports less on `rm -f`,
# which waits for conmon, which waits for this).
EXIT_SCRIPT = f'[ -e "$1/{REMOVE_REQUESTED}" ] || exec "$0" -P -s -S -m berth.monitor.exited "$1"'


def _argv(conmon: str, runtime: str, config: MonitorConfig, name: str) -> list[str]:
    run_dir = config.run_dir
    log = f"k8s-file:{config.log_path}" if config.log_path else "none"
    # A log that keeps rotated files is rotated by the supervisor (conmon's limit drops them).
    limited = config.log_max_size >= 0 and not config.keeps_rotated_files()
    size = ["--log-size-max", str(config.log_max_size)] if limited else []
    terminal = ["-t"] if config.tty else []
    # conmon closes the container's stdin when an attached client goes (or ends its own),
    # unless told to leave it open: Docker's StdinOnce is the first, and never with a
    # terminal (Docker keeps a tty's stdin: a detach, or a resize's connection, ends nothing)
    once = config.stdin_once and not config.tty
    stdin = ["-i", *([] if once else ["--leave-stdin-open"])]
    exit_command = ["-c", EXIT_SCRIPT, sys.executable, run_dir]
    return [
        conmon,
        "--api-version", "1",
        "-c", config.id,
        "-u", config.id,
        "-n", name,
        "-r", runtime,
        "--runtime-arg", "--root",
        "--runtime-arg", config.runtime_root,
        "--runtime-arg", "--log-format=json",
        "-b", run_dir,
        "-p", f"{run_dir}/pid",
        "-P", f"{run_dir}/{CONMON_PID}",
        "-0", run_dir,
        "--full-attach",
        "-l", log,
        *size,
        *terminal,
        *(stdin if config.open_stdin else []),
        "--exit-command", "/bin/sh",
        *(word for arg in exit_command for word in ("--exit-command-arg", arg)),
    ]  # fmt: skip


def _read_sync(fd: int) -> dict[str, Any] | None:
    """conmon's first message on its sync pipe: {"data": pid} once `create` has exited, or
    {"data": -1, "message": the runtime's error}; {} when conmon died before it wrote; None
    when nothing came in `CREATE_SECONDS`."""
    import json
    import select
    import time

    data = b""
    deadline = time.monotonic() + CREATE_SECONDS
    while b"\n" not in data and len(data) < SYNC_LIMIT:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    try:
        message = json.loads(data.partition(b"\n")[0] or b"{}")
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def runtime_error(stderr: str) -> str:
    """The runtime's words from what conmon passed on of its stderr: the JSON log line of
    `berth-runtime --log-format=json` (`{"level", "msg", "time"}`), without the command's
    name, as berth's own monitor says it."""
    import json

    for line in reversed(stderr.strip().splitlines()):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("msg"):
            return str(entry["msg"]).removeprefix(CREATE_FAILED)
    return stderr.strip() or "conmon failed to create the container"


def failure_code(message: str) -> int:
    """Docker's exit code for a process that could not be started, from the runtime's words
    (as podman reads runc's): 127 not found, 126 not executable, else 125."""
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered or "is a directory" in lowered:
        return 126
    return ENGINE_FAILURE


def exit_code(run_dir: Path) -> int | None:
    """The code conmon recorded for the container's exit (128+N for signal N), or None when
    it recorded none."""
    try:
        text = (run_dir / EXIT_FILE).read_text().strip()
    except OSError:
        return None
    try:
        code = int(text)
    except ValueError:
        return None
    return code if code >= 0 else ENGINE_FAILURE
