"""`berth-runtime`: berth's runtime behind runc's command line, so conmon, podman (and any
runc-compatible caller) can run containers with it.

    berth-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS] ID

Commands as runc's: create, start, state, kill, delete, exec and features. As
runc: every failure exits 1 with one message, written to the log (`--log`, else stderr) in
runc's format (logrus text, or a JSON line `{"level","msg","time"}` that conmon and podman
read with --log-format json) and, when the log is a file, to stderr too; a command this
program doesn't know exits 3. On success nothing but `state`'s and `features`' JSON is
printed: a `create` run by conmon shares the container's stdout and stderr.

Start-up matters (conmon waits for `create`, podman for every command): this module imports
the stdlib's cheapest parts only, and each command imports what it needs.
"""

from __future__ import annotations

import os
import sys
import time

from berth import __version__
from berth.errors import BerthError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

PROG = "berth-runtime"
SPEC_VERSION = "1.0.2"
DEFAULT_ROOT = "/run/berth-runtime"
UNKNOWN_COMMAND = 3  # runc's (urfave/cli's) status for a command it doesn't know
# berth's engine may spawn conmon, and so `create`, before the bundle is written, so that this
# interpreter's start and imports overlap its own work (`berth.monitor.conmon.Spawned`): it
# names a FIFO in this variable, and says go on it once the bundle is ready.
GATE_ENV = "BERTH_RUNTIME_GATE"
GATE_GO = b"1"  # on the gate: the bundle is written, create the container
GATE_CANCEL = b"0"  # on the gate: the start was given up

# Per command: every spelling of an option -> its canonical name; `VALUED` ones take a value.
GLOBAL = {
    "root": "root",
    "log": "log",
    "log-format": "log-format",
    "systemd-cgroup": "systemd-cgroup",
    "debug": "debug",
    "rootless": "rootless",
}
COMMANDS: dict[str, dict[str, str]] = {
    "create": {
        "bundle": "bundle",
        "b": "bundle",
        "console-socket": "console-socket",
        "pid-file": "pid-file",
        "no-pivot": "no-pivot",
        "no-new-keyring": "no-new-keyring",
        "preserve-fds": "preserve-fds",
        "pidfd-socket": "pidfd-socket",
    },
    "start": {},
    "state": {},
    "kill": {"all": "all", "a": "all"},
    "delete": {"force": "force", "f": "force"},
    "exec": {
        "process": "process",
        "p": "process",
        "pid-file": "pid-file",
        "detach": "detach",
        "d": "detach",
        "tty": "tty",
        "t": "tty",
        "console-socket": "console-socket",
        "cwd": "cwd",
        "env": "env",
        "e": "env",
        "user": "user",
        "u": "user",
        "preserve-fds": "preserve-fds",
        "no-new-privs": "no-new-privs",
    },
    "features": {},
}
VALUED = frozenset(
    {"root", "log", "log-format", "rootless", "bundle", "console-socket", "pid-file"}
    | {"preserve-fds", "pidfd-socket", "process", "cwd", "env", "user"}
)


class Options:
    """One command line: the options given (a repeated option keeps every value) and the
    positional arguments."""

    def __init__(self) -> None:
        self.values: dict[str, list[str]] = {}
        self.args: list[str] = []

    def get(self, name: str, default: str = "") -> str:
        given = self.values.get(name)
        return given[-1] if given else default

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def flag(self, name: str) -> bool:
        value = self.get(name, "false")
        return name in self.values and value.lower() not in ("false", "0")


def parse(argv: list[str], accepted: dict[str, str], options: Options, stop_after: int) -> int:
    """Read `argv` into `options` until `stop_after` positionals were read; returns where
    reading stopped (the rest is the caller's). As Go's flag packages: `-x` and `--x` alike,
    `--x=v` or `--x v`, a boolean takes `=value` only, and `--` ends the options."""
    index = 0
    while index < len(argv) and len(options.args) < stop_after:
        word = argv[index]
        index += 1
        if word == "--":
            break
        if not word.startswith("-") or word == "-":
            options.args.append(word)
            continue
        name, equals, value = word.lstrip("-").partition("=")
        canonical = accepted.get(name)
        if canonical is None:
            raise InvalidArgument(f"flag provided but not defined: -{name}")
        if canonical in VALUED and not equals:
            if index >= len(argv):
                raise InvalidArgument(f"flag needs an argument: -{name}")
            value = argv[index]
            index += 1
        options.values.setdefault(canonical, []).append(value if equals or value else "true")
    return index


class Log:
    """runc's log: logrus text (`time="…" level=… msg="…"`) or JSON lines, to `--log` or
    stderr. Opened lazily: a successful command writes nothing."""

    def __init__(self, path: str, json_format: bool) -> None:
        self.path = path
        self.json_format = json_format

    def write(self, level: str, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        import json

        if self.json_format:
            line = json.dumps({"level": level, "msg": message, "time": stamp})
        else:
            line = f'time="{stamp}" level={level} msg={json.dumps(message)}'
        if not self.path:
            os.write(2, (line + "\n").encode())
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(self.path, flags, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def fail(self, message: str, status: int = 1) -> NoReturn:
        """Report a failure as runc does (to the log, and to stderr if the log is a file)
        and exit with `status`."""
        self.write("error", message)
        if self.path:
            os.write(2, (message + "\n").encode())
        raise SystemExit(status)


def _command(name: str) -> Callable[[Options, Log], int]:
    """The function running command `name`, imported only when it runs."""
    if name == "create":
        from berth.runtime.cli_create import create

        return create
    if name == "exec":
        from berth.runtime.cli_exec import exec_process

        return exec_process
    from berth.runtime import cli_commands

    return getattr(cli_commands, name)  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    options = Options()
    log = Log("", False)
    name = ""
    try:
        index = parse(argv, {**GLOBAL, "version": "version", "v": "version"}, options, 1)
        log_format = options.get("log-format", "text")
        log = Log(options.get("log"), log_format == "json")
        if log_format not in ("text", "json"):
            log.fail(f"invalid log-format: {log_format}")
        if options.flag("version"):
            os.write(1, f"{PROG} version {__version__}\nspec: {SPEC_VERSION}\n".encode())
            return 0
        if not options.args:
            log.fail(f"usage: {PROG} [global options] COMMAND [options] CONTAINER_ID")
        name = options.args.pop()
        accepted = COMMANDS.get(name)
        if accepted is None:
            log.fail(f"No help topic for '{name}'", UNKNOWN_COMMAND)
        # Options end at the id for kill (its signal follows) and exec (its command follows).
        rest = argv[index:]
        read = parse(rest, accepted, options, 1 if name in ("kill", "exec") else len(rest))
        options.args.extend(rest[read:])
        return _command(name)(options, log)
    except BerthError as error:
        log.fail(f"{PROG} create failed: {error}" if name == "create" else str(error))
    except OSError as error:  # the top of the command: one line, as runc's
        log.fail(f"{error.strerror or error}" + (f": {error.filename}" if error.filename else ""))


def container_id(options: Options, log: Log, extra: int = 0) -> str:
    """The command's container id: exactly one positional (plus `extra` optional ones)."""
    if not options.args or len(options.args) > 1 + extra:
        log.fail('"container id" must be given once')  # runc: checkArgs
    return options.args[0]


def entry() -> NoReturn:
    """The console script's entry. Without the interpreter's teardown (~5-8 ms): conmon
    waits for `create` to exit before it reports the container's pid."""
    from berth.process_exit import exit_now

    exit_now(main(sys.argv[1:]))
