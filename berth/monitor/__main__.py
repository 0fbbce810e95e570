"""`python -m berth.monitor RUN_DIR READY_FD`: detach, then hold one container.

Imports only what the monitor needs, so it starts fast and stays small (DESIGN §1).
"""

import os
import sys


def _main() -> int:
    run_dir, ready_fd = sys.argv[1], int(sys.argv[2])
    # Detach from whoever started us: the launcher reaps this first process at once and the
    # monitor lives on, reparented to init, so a long-lived API server collects no zombies.
    if os.fork():
        os._exit(0)
    os.setsid()
    from pathlib import Path

    from berth.monitor.monitor import run

    return run(Path(run_dir), ready_fd)


if __name__ == "__main__":
    raise SystemExit(_main())
