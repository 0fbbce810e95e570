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
or if it can't be reached or started, or with BERTH_CLI_ZYGOTE=0, the command runs here as
always. Stdlib only, and only `sys` until the command is known to be one it serves.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

    from berth.cli.zygote_wire import Request

# The commands the zygote runs: those whose imports are a large part of their time (`ps`
# and `images` answer from their own quick paths sooner than a fork of a large process).
SERVED = (("build",), ("image", "build"), ("builder", "build"), ("run",), ("container", "run"))
KIND = "berth-cli"  # the zygote's socket name starts with it (`launch.service_address`)
_VALUED_OPTIONS = ("--root", "--runroot", "--log-level", "-l")
MAX_FDS = 250  # SCM_RIGHTS carries up to 253 fds a message; the working directory is one
HANDED_SECONDS = 5.0  # how long an unanswered request waits before the command runs here


def hand_over(argv: list[str]) -> None:
    """Run the command `argv` in the store's preloaded CLI and exit as it ended; returns
    when the command is to run in this process instead (nothing of it has run yet)."""
    if os.environ.get("BERTH_CLI_ZYGOTE") == "0":
        return
    options = _store_options(argv[1:])
    if options is None:
        return
    from berth import store_choice
    from berth.monitor.launch import service_address

    _, runroot = store_choice.chosen(options.get("--root"), options.get("--runroot"))
    name = service_address(KIND, runroot, *sys.path)
    sock = _handed(name, argv)
    if sock is not None:
        _relay(sock)


def _store_options(words: list[str]) -> dict[str, str] | None:
    """The global options before a command the zygote serves; None for any other command
    line (a wrong one included: the CLI here says what is wrong with it)."""
    options: dict[str, str] = {}
    index = 0
    while index < len(words) and words[index].startswith("-"):
        name, eq, value = words[index].partition("=")
        if name not in _VALUED_OPTIONS:
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


def _handed(name: str, argv: list[str]) -> "_socket.socket | None":
    """The connection to the zygote `name` that took the command; None when it did not
    (none could be started, it refused, or it did not answer in time)."""
    import _socket

    from berth.cli.zygote_wire import REFUSED, STARTED, encode

    fds = _open_fds()  # before the directory's own fd is opened
    cwd = _directory()
    if cwd is None:
        return None
    try:
        request = None if fds is None else _request(argv, fds)
        if fds is None or request is None:
            return None
        sock = _connected(name)
        if sock is None:
            return None
        try:
            rights = b"".join(fd.to_bytes(4, sys.byteorder) for fd in [cwd, *(n for n, _ in fds)])
            message = encode(request)
            sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
            sock.settimeout(HANDED_SECONDS)
            answer = sock.recv(64)
            sock.settimeout(None)
        except OSError:
            answer = REFUSED
        if answer != STARTED:
            sock.close()
            return None
        return sock
    finally:
        os.close(cwd)


def _directory() -> int | None:
    try:
        return os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None


def _open_fds() -> list[tuple[int, bool]] | None:
    """This process's open fds with their close-on-exec flags (the standard streams among
    them); None when there are too many to hand over, or a standard stream is closed."""
    opened = []
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
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


def _connected(name: str) -> "_socket.socket | None":
    """A connection to the zygote `name`, which is started now if none listens there (the
    request then waits in its backlog while it imports)."""
    from berth.monitor import launch

    for _ in range(2):  # a second time: another client was starting one meanwhile
        sock = launch.connect(name)
        if sock is not None:
            return sock
        listener = launch.listen(name)
        if listener is None:
            continue
        try:
            sock = launch.connect(name)
            environment = launch.monitor_environment()
            environment["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
            launch.spawn(["-m", "berth.cli.zygote", name], listener, environment)
        except OSError:
            if sock is not None:
                sock.close()
            return None
        finally:
            listener.close()
        return sock
    return None


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
