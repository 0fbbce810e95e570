"""`python -m berth.monitor.exited RUN_DIR`: conmon's exit command for a berth container
(`berth.monitor.conmon`), run once conmon has reaped the container and written its exit code.

It does what berth's monitor does when its container ends: the runtime's state deleted, the
exit recorded in status.json (code, OOM killer, time), the oom and die events; then, when its
restart policy says so, the container started again under a new conmon after Docker's
back-off; else the rootfs and cgroup released and the last step taken
(`cleanup.exec_last_step`: `rm -f` of an `--rm` container, or the clean-up that frees its
network). conmon waits for this process before it exits itself, so a `stop` that waits for
the monitor to be gone returns once this is done.

Never raises: what went wrong goes to the monitor's log in the run directory.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from berth.errors import BerthError
from berth.monitor import cleanup, conmon, launch
from berth.monitor.config import (
    ENGINE_FAILURE,
    REMOVE_REQUESTED,
    STATUS_NAME,
    STOP_REQUESTED,
    MonitorConfig,
)
from berth.monitor.files import announce, ended, read_json, status_lock, write_status

BACKOFF_FILE = "backoff"  # the delay before the last restart, seconds
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 60.0
BACKOFF_RESET = 10.0  # a run longer than this starts the back-off over
BACKOFF_POLL = 0.05  # how often a stop is looked for meanwhile


def main(run_dir: Path) -> int:
    launch.log_to(run_dir)
    try:
        config = MonitorConfig.read(run_dir)
    except (OSError, ValueError, TypeError) as error:
        print(f"exit command: cannot read the container's monitor.json: {error}", flush=True)
        return 1
    if config.keeps_rotated_files():  # its last rotation, before the exit is seen
        from berth.monitor.supervisor import settle_log

        settle_log(config)
    try:
        if record_exit(config):
            return 0  # started again, under a new conmon: it holds what this one held
    except Exception:  # the top of the exit command: say why, then release what can be
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
    cleanup.exec_last_step(config, heard=False)
    return 0


def record_exit(config: MonitorConfig) -> bool:
    """The container's end, as berth's monitor records it; then, as its restart policy says,
    the container started again (True), or what it held released (False)."""
    run_dir = Path(config.run_dir)
    code = conmon.exit_code(run_dir)
    oom = (run_dir / conmon.OOM_FILE).exists()
    leftovers = None
    if not (run_dir / REMOVE_REQUESTED).exists():  # else its remover releases it all, after
        from berth.runtime import Runtime  # this process: `rm -f` waits for conmon

        leftovers = cleanup.Cleanup(config, cleanup.cgroup_layout())
        oom = oom or leftovers.oom_killed()
        with contextlib.suppress(BerthError):
            Runtime(Path(config.runtime_root)).delete(config.id)
    if code is not None:  # else it never ran: the start failed, and its caller says so
        with status_lock(run_dir):  # the supervisor may be writing its health meanwhile
            status = read_json(run_dir / STATUS_NAME) or {}
            count = int(status.get("RestartCount") or 0)
            again = config.restarts(code, count)
            status.update(ended(again, code, oom))
            write_status(run_dir / STATUS_NAME, status, config.reserve)
        if conmon.claim_exit(run_dir):  # else a remover said it, not waiting for this
            if oom:
                announce(config, "oom")
            announce(config, "die", exitCode=str(code))
        failed: dict[str, Any] = {}
        if again and _backed_off(run_dir):
            failure = _start_again(config, count + 1)
            if failure is None:
                return True
            failed = {"ExitCode": failure["exit_code"], "Error": failure["error"]}
        if again:  # stopped meanwhile, or the start failed: it ends here
            status.update(Status="exited", **failed)
            with status_lock(run_dir):
                write_status(run_dir / STATUS_NAME, status, config.reserve)
    if leftovers is not None:
        leftovers.unmount_and_destroy()
    return False


def _stopping(run_dir: Path) -> bool:
    return (run_dir / STOP_REQUESTED).exists() or (run_dir / REMOVE_REQUESTED).exists()


def _backed_off(run_dir: Path) -> bool:
    """Docker's back-off before a restart: 100 ms, doubled after each run shorter than 10 s
    (at most a minute), back to 100 ms after a longer one. Kept in the run directory (a start
    by hand clears it). False when a stop or a removal came meanwhile."""
    backoff = run_dir / BACKOFF_FILE
    try:
        delay = float(backoff.read_text())
        ran = time.time() - (run_dir / conmon.CONMON_PID).stat().st_mtime
    except (OSError, ValueError):
        delay, ran = 0.0, 0.0
    delay = BACKOFF_FIRST if ran > BACKOFF_RESET or delay <= 0 else min(delay * 2, BACKOFF_MAX)
    backoff.write_text(str(delay))
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if _stopping(run_dir):
            return False
        time.sleep(min(BACKOFF_POLL, max(0.0, deadline - time.monotonic())))
    return not _stopping(run_dir)


def _start_again(config: MonitorConfig, count: int) -> dict[str, Any] | None:
    """The container started under a new conmon (None), or why it could not be."""
    run_dir = Path(config.run_dir)
    name = (config.event_attributes or {}).get("name", config.id)
    try:
        spec = (run_dir / "config.json").read_text()
        report = conmon.start(config, name, spec, (), restart_count=count)
    except (BerthError, OSError) as error:
        report = {"error": str(error), "exit_code": ENGINE_FAILURE}
    if "error" in report:
        return report
    announce(config, "start")
    if config.healthcheck:
        from berth.monitor.supervisor import probe_health  # its socket: only where needed

        probe_health(config, int(report["pid"]))
    return None


if __name__ == "__main__":
    from berth.process_exit import exit_now

    exit_now(main(Path(sys.argv[1])))
