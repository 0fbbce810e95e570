"""What a `berth` command hands the preloaded CLI (`berth.cli.zygote`), and its answers.

A request is one message: the command's argv and environment (bytes, as the kernel gave
them), which of its fds the command has open (the fds themselves ride along as SCM_RIGHTS,
its working directory's first), the signals it ignores, and how its standard streams encode
text. Each field is a list of byte strings, each string length-prefixed: nothing in a path,
an argument or a variable can be mistaken for a separator. Built-in modules only: the client
encodes before it imports anything else.
"""

from __future__ import annotations

import _signal

VERSION = b"1"
STARTED = b"started"  # the command runs in a child of the zygote: no longer ours to run
REFUSED = b"refused"  # the zygote won't run it: the client runs it itself
EXITED = b"exit "  # + the child's exit code
KILLED = b"signal "  # + the signal that ended the child
# The signals a command's user sends it, which the client relays: Ctrl-C and Ctrl-\\, a
# terminal's hang-up and resize, `kill`'s TERM, USR1/USR2, and job control's stop and continue.
RELAYED = (
    _signal.SIGHUP,
    _signal.SIGINT,
    _signal.SIGQUIT,
    _signal.SIGTERM,
    _signal.SIGUSR1,
    _signal.SIGUSR2,
    _signal.SIGWINCH,
    _signal.SIGTSTP,
    _signal.SIGCONT,
)


class Request:
    """A command for the zygote to run as the client would have."""

    __slots__ = ("argv", "environ", "fds", "ignored", "streams")

    def __init__(
        self,
        argv: list[bytes],
        environ: list[bytes],
        fds: list[tuple[int, bool]],
        ignored: list[int],
        streams: list[bytes],
    ) -> None:
        self.argv = argv
        self.environ = environ  # KEY=VALUE
        self.fds = fds  # (number, close-on-exec) of each fd after the working directory's
        self.ignored = ignored  # signals the client ignores: the command ignores them too
        # stdin, stdout, stderr: encoding, errors, line buffering, write-through each
        self.streams = streams


def encode(request: Request) -> bytes:
    sections = [
        [VERSION],
        request.argv,
        request.environ,
        [b"%d:%d" % (fd, cloexec) for fd, cloexec in request.fds],
        [b"%d" % number for number in request.ignored],
        request.streams,
    ]
    parts: list[bytes] = []
    for section in sections:
        parts.append(b"%d\n" % len(section))
        for item in section:
            parts.append(b"%d\n" % len(item))
            parts.append(item)
    return b"".join(parts)


def decode(data: bytes) -> Request | None:
    """`encode`'s request, or None for anything it can't have written."""
    sections: list[list[bytes]] = []
    position = 0
    try:
        for _ in range(6):
            count, position = _number(data, position)
            section = []
            for _ in range(count):
                size, position = _number(data, position)
                if position + size > len(data):
                    return None
                section.append(data[position : position + size])
                position += size
            sections.append(section)
        version, argv, environ, fds, ignored, streams = sections
        if version != [VERSION] or position != len(data) or len(streams) != 12 or not argv:
            return None
        numbers = [item.split(b":") for item in fds]
        opened = [(int(fd), cloexec == b"1") for fd, cloexec in numbers]
        signals = [int(number) for number in ignored]
        if any(fd < 0 for fd, _ in opened) or any(not 0 < n < 65 for n in signals):
            return None
        return Request(argv, environ, opened, signals, streams)
    except ValueError:
        return None


def _number(data: bytes, position: int) -> tuple[int, int]:
    end = data.index(b"\n", position)
    text = data[position:end]
    if not text.isdigit() or len(text) > 9:
        raise ValueError("not a count")
    return int(text), end + 1
