"""`berth-runtime exec [--process P.json | options ID COMMAND...] [--detach] [--pid-file F]
[--tty --console-socket S] ID`, as runc's.

The process runs in the container's namespaces and cgroup under its seccomp profile (the
spec `create` read). Its parent is the runtime's exec helper, which exits with its status
(128+N when killed): `--detach` leaves that helper to the caller's subreaper (conmon, which
waits for the pid in --pid-file: the helper's), without it this command waits and exits with
that status.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from berth.errors import Conflict, InvalidArgument
from berth.runtime import cli_state
from berth.runtime.cli import container_id
from berth.runtime.spawn import Stdio

if TYPE_CHECKING:
    from berth.runtime.cli import Log, Options


def _process(options: Options, spec: dict[str, Any]) -> dict[str, Any]:
    """The OCI process to run: --process's file, else the container's own process running
    the command line's arguments, changed by --cwd, --env, --user, --tty, --no-new-privs."""
    if options.get("process"):
        with open(options.get("process")) as stream:
            given: dict[str, Any] = json.load(stream)
        return given
    if len(options.args) < 2:
        raise InvalidArgument("exec args cannot be empty")
    process = dict(spec.get("process") or {})
    process["args"] = options.args[1:]
    process["terminal"] = options.flag("tty")
    process["env"] = [*(process.get("env") or []), *options.all("env")]
    if options.get("cwd"):
        process["cwd"] = options.get("cwd")
    if options.get("user"):
        uid, _, gid = options.get("user").partition(":")
        if not uid.isdigit() or not (gid or "0").isdigit():
            raise InvalidArgument(f"--user takes UID[:GID], not {options.get('user')!r}")
        process["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    if options.flag("no-new-privs"):
        process["noNewPrivileges"] = True
    return process


def exec_process(options: Options, log: Log) -> int:
    ident = container_id(options, log, extra=1 << 30)
    runtime = cli_state.open_runtime(options, log)
    record = cli_state.read_record(runtime, ident)
    if cli_state.status(runtime, ident).status != "running":
        raise Conflict("cannot exec in a stopped container")
    spec = cli_state.read_spec(runtime, ident)
    process = _process(options, spec)
    socket_path = options.get("console-socket")
    if process.get("terminal") and not socket_path:
        raise InvalidArgument("cannot allocate tty without setting console socket")
    console = cli_state.connect_console(socket_path) if socket_path else None
    try:
        helper = runtime.exec(
            ident,
            process,
            Stdio(0, 1, 2),
            cgroup_procs=cli_state.cgroup(record).procs_files(),
            seccomp_profile=(spec.get("linux") or {}).get("seccomp"),
            console_socket=console,
        )
    finally:
        if console is not None:
            os.close(console)
    if options.get("pid-file"):
        cli_state.write_pid_file(options.get("pid-file"), helper.pid)
    if options.flag("detach"):
        # Gone without Popen's finalizer, which would reap a helper that exited already:
        # its status belongs to the caller's subreaper (conmon waits for the pid file's pid).
        os._exit(0)
    import signal

    # Signals for this command are the process's: the helper passes them on.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, lambda received, _frame: helper.send_signal(received))
    return helper.wait()
