"""`python -m berth.monitor CHANNEL_FD`: detach, import, then hold the container the launcher
hands over on CHANNEL_FD (see `berth.monitor.launch`).

Imports only what the monitor needs, so it starts fast and stays small (DESIGN §1).
"""

import os
import sys


def _main() -> int:
    channel_fd = int(sys.argv[1])
    # A spawn from a threaded caller (`berth serve` starts containers from many threads) may
    # carry what another thread made inheritable for its own spawn meanwhile: a container's
    # published ports, another monitor's channel. Held here, they would outlive their owner.
    os.closerange(3, channel_fd)
    os.closerange(channel_fd + 1, os.sysconf("SC_OPEN_MAX"))
    # Detach from whoever started us: the launcher reaps this first process at once and the
    # monitor lives on, reparented to init, so a long-lived API server collects no zombies.
    if os.fork():
        os._exit(0)
    os.setsid()
    os.chdir("/")  # the caller's directory must not stay busy as long as the container runs
    from berth.monitor.entry import serve

    return serve(channel_fd)


if __name__ == "__main__":
    from berth.process_exit import exit_now

    exit_now(_main())
