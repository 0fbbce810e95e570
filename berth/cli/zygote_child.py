"""A child of the preloaded CLI (`berth.cli.zygote`) becoming the client's command: its
fds at their numbers, its directory, environment, locale, standard streams, signal
dispositions and argv, then `berth.cli.main.main` as the `berth` executable runs it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
from typing import TYPE_CHECKING

from berth.cli.zygote_wire import RELAYED

if TYPE_CHECKING:
    from typing import NoReturn

    from berth.cli.zygote_wire import Request


class Child:
    """The command a forked child of the zygote runs (`run`)."""

    __slots__ = ("_fds", "_imports", "_request", "_zygote")

    def __init__(self, request: Request, fds: list[int], imports: int, zygote: int) -> None:
        self._request = request
        self._fds = fds  # the client's working directory, then its fds in `request.fds`
        self._imports = imports  # where to report the modules the command imported
        self._zygote = zygote

    def run(self) -> NoReturn:
        """Run the command, report what it imported, exit with its code (through
        `exit_now`: with threads still running, a normal exit that waits for them)."""
        from berth.process_exit import exit_now

        preloaded = set(sys.modules)
        code = 1
        try:
            code = self._run()
        except SystemExit as stop:  # argparse's, after --help or a usage error
            code = _exit_status(stop)
        except BaseException as error:  # not a zygote's traceback on the user's terminal
            with contextlib.suppress(Exception):
                print(f"Error: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        finally:
            _report_imports(self._imports, preloaded)
        exit_now(code)

    def _run(self) -> int:
        from berth.sys.process import PR_SET_PDEATHSIG, prctl, set_name

        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # relayed to, watched over: by the zygote
        if os.getppid() != self._zygote:
            return 1  # it died before that could take effect
        request = self._request
        for number in RELAYED:  # SIGINT too: as `berth.cli.start` leaves it for `main`
            ignored = number in request.ignored
            signal.signal(number, signal.SIG_IGN if ignored else signal.SIG_DFL)
        self._imports = _install_fds(self._fds, request.fds, self._imports)
        _take_environment(request.environ)
        _take_streams(request.streams)
        sys.argv = [os.fsdecode(word) for word in request.argv]
        set_name(b"berth")
        from berth.cli.main import main

        return main(sys.argv[1:])


def _install_fds(received: list[int], wanted: list[tuple[int, bool]], imports: int) -> int:
    """The client's fds (`received`: its directory, then the fds `wanted` names, in order)
    at their numbers with their close-on-exec flags, the directory made the working one,
    and nothing else open but `imports`; where `imports` is now."""
    floor = 1 + max([imports, *received, *(number for number, _ in wanted)])
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor) for fd in received]
    imports = fcntl.fcntl(imports, fcntl.F_DUPFD_CLOEXEC, floor)
    os.closerange(0, floor)  # the zygote's streams, and what it received
    directory, *opened = moved
    os.fchdir(directory)
    os.close(directory)
    for fd, (number, cloexec) in zip(opened, wanted, strict=True):
        os.dup2(fd, number, inheritable=not cloexec)
        os.close(fd)
    return imports


def _take_environment(environ: list[bytes]) -> None:
    """The client's environment, and the character type of its locale (Python sets only
    LC_CTYPE from the environment at its start)."""
    import locale

    os.environb.clear()
    for item in environ:
        key, _, value = item.partition(b"=")
        if key:
            os.environb[key] = value
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:
        locale.setlocale(locale.LC_CTYPE, "C")


def _take_streams(streams: list[bytes]) -> None:
    """Standard streams on fds 0-2 as the client's were: encoding, errors, buffering."""
    for index, name in enumerate(("stdin", "stdout", "stderr")):
        encoding, errors, line_buffering, write_through = (
            item.decode() for item in streams[index * 4 : index * 4 + 4]
        )
        stream = open(  # noqa: SIM115 - the process's stream, open until it exits
            index, "r" if index == 0 else "w", encoding=encoding, errors=errors, closefd=False
        )
        if index:
            stream.reconfigure(
                line_buffering=line_buffering == "1", write_through=write_through == "1"
            )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _exit_status(stop: SystemExit) -> int:
    """The exit code the interpreter gives for `stop` (a message is printed, and is 1)."""
    if stop.code is None or isinstance(stop.code, int):
        return stop.code or 0
    with contextlib.suppress(Exception):
        print(stop.code, file=sys.stderr)
    return 1


def _report_imports(fd: int, preloaded: set[str]) -> None:
    """Tell the zygote which modules the command imported that it had not (without
    waiting: what doesn't fit in the pipe is not learned)."""
    imported = "\n".join(sorted(set(sys.modules) - preloaded)).encode()
    try:
        os.write(fd, imported)
    except OSError:
        pass
    finally:
        os.close(fd)
