"""`python -m berth.runtime.exec PID PROCESS_JSON SYNC_FD CGROUPS SECCOMP_JSON [CONSOLE_FD]`:
run one more process inside a running container (`berth exec`).

With a terminal (`exec -t`), the process gets a pty made in the container's own devpts, whose
master goes back over the console socket, as for `run -t` (init.make_console).

Joins the container's cgroups and namespaces (those of its pid 1), forks so the new process
lands in the pid namespace, then sets credentials and the container's seccomp filter, and
execs. This process stays as the new one's parent and exits with its status, so whoever
started it gets the exit code with a plain waitpid. A command that can't be found or run is
reported as JSON on the sync pipe (close-on-exec: EOF means the exec happened).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from berth.runtime import seccomp
from berth.runtime.command import exec_command, find_command
from berth.runtime.credentials import lock_down
from berth.runtime.hardening import seal_imports, undumpable
from berth.runtime.init import NAMESPACE_FLAGS, console_channel, make_console, take_terminal
from berth.runtime.sync import InitError, send
from berth.sys import setns

# Join order: the mount namespace last, since /proc/PID paths are read through the old one.
JOIN_ORDER = ("cgroup", "ipc", "uts", "network", "pid", "mount")
PROC_NAMES = {
    "cgroup": "cgroup",
    "ipc": "ipc",
    "uts": "uts",
    "network": "net",
    "pid": "pid",
    "mount": "mnt",
}


def main() -> None:
    pid = int(sys.argv[1])
    process = json.loads(sys.argv[2])
    sync_fd = int(sys.argv[3])
    cgroup_procs = json.loads(sys.argv[4])
    profile = json.loads(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] else None
    console_fd = int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[6] else None
    os.set_inheritable(sync_fd, False)
    channel = console_channel(console_fd) if console_fd is not None else None
    undumpable()
    try:
        program = seccomp.prepare(profile) if profile else None
        for path in cgroup_procs:
            Path(path).write_text(str(os.getpid()))
        own = {kind: os.readlink(f"/proc/self/ns/{name}") for kind, name in PROC_NAMES.items()}
        fds = []
        for kind in JOIN_ORDER:
            path = f"/proc/{pid}/ns/{PROC_NAMES[kind]}"
            if os.readlink(path) != own[kind]:  # `--network host` shares the host's
                fds.append((os.open(path, os.O_RDONLY | os.O_CLOEXEC), kind))
        for fd, kind in fds:
            setns(fd, NAMESPACE_FLAGS[kind])
            os.close(fd)
        seal_imports()  # the container's root from here on
    except Exception as error:  # the top of the helper: report, the caller decides
        send(sync_fd, {"error": str(error), "exit_status": 126})
        os._exit(126)
    child = os.fork()
    if child == 0:
        try:
            os.chdir(str(process.get("cwd") or "/"))
            env = list(process.get("env") or [])
            args = list(process["args"])
            executable = find_command(args, env)
            if channel is not None:
                user = process.get("user") or {}
                uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
                make_console(channel, uid, gid, process.get("consoleSize"))
                take_terminal()
            lock_down(process, program)
            exec_command(executable, args, env)
        except InitError as error:
            send(sync_fd, {"error": str(error), "exit_status": error.exit_status})
            os._exit(error.exit_status)
        except Exception as error:
            send(sync_fd, {"error": str(error), "exit_status": 126})
            os._exit(126)
    os.close(sync_fd)
    if channel is not None:
        channel.close()
    # Forward the signals a foreground `berth exec` receives to the process it runs.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, lambda received, _frame: os.kill(child, received))
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
