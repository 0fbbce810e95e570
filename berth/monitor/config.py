"""What a monitor is told about its container: `monitor.json` in the container's run dir,
written by the container service before it starts the monitor."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

CONFIG_NAME = "monitor.json"
STATUS_NAME = "status.json"
ATTACH_SOCKET = "attach.sock"
STOP_REQUESTED = "stop-requested"
# The container is being removed: its remover releases what the start set up, so the monitor
# execs no clean-up of its own (berth.monitor.cleanup.exec_last_step).
REMOVE_REQUESTED = "remove-requested"
ENGINE_FAILURE = 125  # the exit code of a container its monitor could not start or watch
RENAMED = "name"  # the container's name after a rename, for the monitor's events


class MonitorConfig(NamedTuple):
    """A NamedTuple, not a dataclass: `ps` imports this module, and dataclasses cost ~9 ms."""

    id: str
    bundle: str
    run_dir: str
    runtime_root: str
    log_path: str
    rootfs: str
    shm: str = ""  # a shareable IPC's /dev/shm on the host, unmounted once it is done
    tty: bool = False
    open_stdin: bool = False
    wait_for_attach: bool = False
    cgroup_name: str | None = None
    cgroup_parent: str = "berth"
    cgroup_procs: Sequence[str] = ()
    restart_policy: str = "no"
    restart_max: int = 0
    auto_remove_argv: Sequence[str] = ()
    healthcheck: dict[str, Any] | None = None  # the container's Config.Healthcheck
    shell: Sequence[str] = ()  # Config.Shell, for CMD-SHELL probes
    cleanup_argv: Sequence[str] = ()  # run once the container is done: frees its network
    dns_fds: Sequence[int] = ()  # (udp, tcp) bound to 127.0.0.11:53 in the container
    dns_names: Sequence[str] = ()  # name tables (JSON) of the container's networks
    held_fds: Sequence[int] = ()  # published ports' reservations, closed once it is done
    reserve: str = ""  # the store's reserve file (berth.space), for a full disk
    events: str = ""  # the store's event journal (berth.events): die, start, health_status
    event_attributes: dict[str, str] | None = None  # the container's image, name, labels
    log_max_size: int = -1  # bytes a json-file log may reach before it rotates; -1: never
    log_max_files: int = 1  # the files kept, the current one included
    dns_servers: Sequence[str] = ()  # where the resolver forwards (--dns); else the host's
    dns_aliases: dict[str, str] | None = None  # link alias -> container name (user networks)
    stdin_once: bool = False  # Config.StdinOnce: the first attached client's end closes stdin
    runroot: str = ""  # the store's run root: where its supervisor is found

    def keeps_rotated_files(self) -> bool:
        """Whether its log rotates into files that are kept (max-size with max-file > 1)."""
        return bool(self.log_path) and self.log_max_size > 0 and self.log_max_files > 1

    def restarts(self, exit_code: int, restart_count: int) -> bool:
        """Whether the restart policy starts the container again after this exit: never
        once a stop or a removal was asked for."""
        run_dir = Path(self.run_dir)
        policy = self.restart_policy
        if policy == "no" or (run_dir / STOP_REQUESTED).exists():
            return False
        if (run_dir / REMOVE_REQUESTED).exists():
            return False
        if policy == "on-failure":
            return exit_code != 0 and (self.restart_max <= 0 or restart_count < self.restart_max)
        return policy in ("always", "unless-stopped")

    def write(self) -> None:
        Path(self.run_dir, CONFIG_NAME).write_text(json.dumps(self._asdict()))

    @classmethod
    def read(cls, run_dir: Path) -> "MonitorConfig":
        written = json.loads((run_dir / CONFIG_NAME).read_text())
        # a field of a newer berth, read by a monitor zygote still running the older code
        return cls(**{key: value for key, value in written.items() if key in cls._fields})
