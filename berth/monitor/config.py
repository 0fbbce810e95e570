"""What a monitor is told about its container: `monitor.json` in the container's run dir,
written by the container service before it starts the monitor."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONFIG_NAME = "monitor.json"
STATUS_NAME = "status.json"
ATTACH_SOCKET = "attach.sock"
STOP_REQUESTED = "stop-requested"


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    id: str
    bundle: str
    run_dir: str
    runtime_root: str
    log_path: str
    rootfs: str
    tty: bool = False
    open_stdin: bool = False
    wait_for_attach: bool = False
    cgroup_name: str | None = None
    cgroup_parent: str = "berth"
    cgroup_procs: list[str] = field(default_factory=list)
    restart_policy: str = "no"
    restart_max: int = 0
    auto_remove_argv: list[str] = field(default_factory=list)
    healthcheck: dict[str, Any] | None = None  # the container's Config.Healthcheck
    shell: list[str] = field(default_factory=list)  # Config.Shell, for CMD-SHELL probes

    def write(self) -> None:
        Path(self.run_dir, CONFIG_NAME).write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, run_dir: Path) -> MonitorConfig:
        return cls(**json.loads((run_dir / CONFIG_NAME).read_text()))
