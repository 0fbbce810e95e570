"""Handing a command to the store's preloaded CLI, before this process imports anything.

A `berth build` or `berth run` spends ~20-40 ms of its start importing what it runs (on a
two-core machine, a fifth of a `run --rm`, and on a cold build's critical path). The
preloaded CLI (`berth.cli.zygote`) has imported it already: it forks a child that takes this
process's argv, environment, working directory and open fds (the fds themselves, over
SCM_RIGHTS), and runs the command there, while this process relays the signals it receives
(Ctrl-C, a terminal's resize, a `kill`) and ends as the child did: with its exit code, or
killed by its signal. The child is killed if this process dies (even by SIGKILL), and dies
if the zygote does.

Only when nothing could tell the difference: the zygote runs the command only for a client
of its own user, in its namespaces, root, cgroup, capabilities, limits and security
settings, while the code it loaded is the code on disk (`berth.cli.zygote_checks`); else,
or with none there (this process then starts one once the command is done), or with
BERTH_CLI_ZYGOTE=0, the command runs here as always. Stdlib only, and only `sys` until the
command is known to be one it serves.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from collections.abc import Callable

    from berth.cli.zygote_wire import Request

# The commands the zygote runs: those whose imports are a large part of their time (`ps`
# and `images` answer from their own quick paths sooner than a fork of a large process).
SERVED = (("build",), ("image", "build"), ("builder", "build"), ("run",), ("container", "run"))
KIND = "berth-cli"  # the zygote's socket name starts with it (`launch.service_address`)
# The CLI's global options that take a value (`berth.cli.main` parses them the same way).
VALUED_OPTIONS = ("--root", "--runroot", "--log-level", "-l")
MAX_FDS = 250  # SCM_RIGHTS carries up to 253 fds a message; the working directory is one
HANDED_SECONDS = 5.0  # how long an unanswered request waits before the command runs here


def hand_over(argv: list[str]) -> "Callable[[], None] | None":
    """Run the command `argv` in the store's preloaded CLI and exit as it ended; returns
    when the command is to run in this process instead (nothing of it has run yet): with
    no preloaded CLI there, what starts one once the command is done, for the next command
    (started now, it would take this command's other core, or keep it waiting while it
    imports)."""
    if os.environ.get("BERTH_CLI_ZYGOTE") == "0":
        return None
    options = _store_options(argv[1:])
    if options is None:
        return None
    from berth import store_choice
    from berth.monitor import launch

    _, runroot = store_choice.chosen(options.get("--root"), options.get("--runroot"))
    name = launch.service_address(KIND, runroot, *sys.path)
    sock = launch.connect(name)
    if sock is None:
        return lambda: _start(name)
    if _handed(sock, argv):
        _relay(sock)
    sock.close()
    return None


def _store_options(words: list[str]) -> dict[str, str] | None:
    """The global options before a command the zygote serves; None for any other command
    line (a wrong one included: the CLI here says what is wrong with it)."""
    options: dict[str, str] = {}
    index = 0
    while index < len(words) and words[index].startswith("-"):
        name, eq, value = words[index].partition("=")
        if name not in VALUED_OPTIONS:
            return None
        if not eq:
            index += 1
            if index == len(words):
                return None
            value = words[index]
        options[name] = value
        index += 1
    command = tuple(words[index : index + 2])
    if not any(command[: len(served)] == served for served in SERVED):
        return None
    return options


def _handed(sock: "_socket.socket", argv: list[str]) -> bool:
    """Whether the zygote on `sock` took the command (it refused, or did not answer in
    time, or the command can't be handed over: it runs here)."""
    import _socket

    from berth.cli.zygote_wire import STARTED, encode

    fds = _open_fds(sock.fileno())  # before the directory's own fd is opened
    cwd = _directory()
    if cwd is None:
        return False
    try:
        request = None if fds is None else _request(argv, fds)
        if fds is None or request is None:
            return False
        rights = b"".join(fd.to_bytes(4, sys.byteorder) for fd in [cwd, *(n for n, _ in fds)])
        sock.sendmsg([encode(request)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
        sock.settimeout(HANDED_SECONDS)
        answer = sock.recv(64)
        sock.settimeout(None)
    except OSError:
        return False
    finally:
        os.close(cwd)
    return answer == STARTED


def _directory() -> int | None:
    try:
        return os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None


def _open_fds(connection: int) -> list[tuple[int, bool]] | None:
    """This process's open fds with their close-on-exec flags (the standard streams among
    them), but its `connection` to the zygote (the command holding it, the zygote would
    never see this process end); None when there are too many to hand over, or a standard
    stream is closed."""
    opened = []
    try:
        entries = os.listdir("/proc/self/fd")
    except OSError:  # no /proc here: the command runs in this process
        return None
    for entry in entries:
        fd = int(entry)
        if fd == connection:
            continue
        try:
            opened.append((fd, not os.get_inheritable(fd)))
        except OSError:
            continue  # the directory listing's own fd, closed by now
    numbers = {fd for fd, _ in opened}
    if len(opened) > MAX_FDS or not {0, 1, 2} <= numbers:
        return None
    return sorted(opened)


def _request(argv: list[str], fds: list[tuple[int, bool]]) -> "Request | None":
    import _signal
    import io

    from berth.cli.zygote_wire import RELAYED, Request

    ignored = [n for n in RELAYED if _signal.getsignal(n) == _signal.SIG_IGN]
    streams: list[bytes] = []
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):  # not the interpreter's own stream
            return None
        streams += [
            stream.encoding.encode(),
            (stream.errors or "strict").encode(),
            b"1" if stream.line_buffering else b"0",
            b"1" if stream.write_through else b"0",
        ]
    environ = [key + b"=" + value for key, value in os.environb.items()]
    return Request([os.fsencode(word) for word in argv], environ, fds, ignored, streams)


def _start(name: str) -> None:
    """Start the preloaded CLI `name` (unless another command just has), not waiting for it:
    the next command finds it."""
    from berth.monitor import launch

    listener = launch.listen(name)
    if listener is None:
        return
    environment = launch.monitor_environment()
    environment["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    try:
        launch.spawn(["-m", "berth.cli.zygote", name], listener, environment, wait=False)
    except OSError:
        return  # the next command runs in its own process, as this one did
    finally:
        listener.close()


def _relay(sock: "_socket.socket") -> None:
    """Relay the signals this process receives to the command's process until it ends,
    then end as it did."""
    import _signal

    from berth.cli.zygote_wire import EXITED, KILLED, RELAYED

    def relay(number: int, _: object) -> None:
        try:
            sock.send(b"%d" % number)
        except OSError:
            return
        if number == _signal.SIGTSTP:  # the command stopped: stop too, until continued
            _signal.signal(number, _signal.SIG_DFL)
            os.kill(os.getpid(), number)
            _signal.signal(number, relay)

    for number in RELAYED:
        if _signal.getsignal(number) != _signal.SIG_IGN:
            _signal.signal(number, relay)
    try:
        answer = sock.recv(64)
    except OSError:
        answer = b""
    if answer.startswith(EXITED) and answer[len(EXITED) :].isdigit():
        os._exit(int(answer[len(EXITED) :]))
    if answer.startswith(KILLED) and answer[len(KILLED) :].isdigit():
        number = int(answer[len(KILLED) :])
        if number not in (_signal.SIGKILL, _signal.SIGSTOP):  # (theirs can't be changed)
            _signal.signal(number, _signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    sys.stderr.write("Error: the preloaded berth process running this command was stopped\n")
    os._exit(1)
