"""The embedded DNS (127.0.0.11) of the containers conmon holds (`berth.monitor.conmon`), for
all of them in one process: `python -m berth.monitor.supervisor NAME FD`, one per store (its
run root) and berth installation, reached on the abstract unix socket NAME (which the client
that starts it binds and listens on, and hands over as FD), as the monitor zygote is.

berth's own monitor answers its container's names in a thread of its own; conmon can't, so a
container on a user-defined network registers here once conmon has started it: its id, its
run directory, its networks' name tables, its --dns servers and link aliases, and the two
sockets the engine bound inside its network namespace (SCM_RIGHTS). Each gets a resolver
(`berth.monitor.resolver.Resolver`) until the container is released (`release`, from
`Lifecycle.release`: not at each exit, since a restart by policy keeps its namespace), or its
run directory is gone (a release this never heard of). With none left for `LINGER_SECONDS`
it exits; killed, the names of the containers it served go unanswered until they start again.

Only the supervisor's own user may register (SO_PEERCRED): an abstract socket has no file
permissions.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

from berth.monitor.launch import (
    ANSWER_SECONDS,
    detached_listener,
    listen,
    service_address,
    spawn,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from berth.monitor.resolver import Resolver

KIND = "berth-supervisor"
LINGER_SECONDS = 2.0  # with no container registered
SWEEP_SECONDS = 2.0  # how often run directories are looked for
MESSAGE_SIZE = 64 * 1024


# -- the client's side: the engine's ------------------------------------------------------


def register(
    runroot: str,
    container_id: str,
    run_dir: str,
    fds: Sequence[int],
    names: Sequence[str],
    servers: Sequence[str],
    aliases: dict[str, str],
) -> None:
    """The container's resolver, served from now on by the store's supervisor (started now
    if none runs). Raises OSError when none can be reached."""
    request = {
        "register": container_id,
        "run_dir": run_dir,
        "names": list(names),
        "servers": list(servers),
        "aliases": aliases,
    }
    name = service_address(KIND, runroot)
    for _ in range(2):  # a second time: another client was starting one meanwhile
        with contextlib.suppress(OSError):
            _ask(name, request, fds)
            return
        listener = listen(name)
        if listener is None:
            continue
        try:
            spawn(["-m", "berth.monitor.supervisor", name], listener)
        finally:
            listener.close()
        _ask(name, request, fds)
        return
    raise OSError(f"the store's DNS supervisor ({name}) cannot be reached")


def release(runroot: str, container_id: str) -> None:
    """The container's resolver stopped, its sockets closed (nothing when none serves it)."""
    with contextlib.suppress(OSError):
        _ask(service_address(KIND, runroot), {"release": container_id}, ())


def _ask(name: str, request: dict[str, Any], fds: Sequence[int]) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC) as sock:
        sock.settimeout(ANSWER_SECONDS)
        sock.connect("\0" + name)
        socket.send_fds(sock, [json.dumps(request).encode()], list(fds))
        if sock.recv(16) != b"ok":
            raise OSError("the DNS supervisor refused the request")


# -- the supervisor's side --------------------------------------------------------------------


class Served:
    """One container's resolver and where its run directory is."""

    __slots__ = ("resolver", "run_dir")

    def __init__(self, resolver: Resolver, run_dir: str) -> None:
        self.resolver = resolver
        self.run_dir = run_dir


def serve(listener: socket.socket) -> None:
    served: dict[str, Served] = {}
    idle_since = time.monotonic()
    swept = time.monotonic()
    while served or time.monotonic() - idle_since <= LINGER_SECONDS:
        ready, _, _ = select.select([listener], [], [], SWEEP_SECONDS / 4)
        if ready:
            with contextlib.suppress(OSError):
                connection, _ = listener.accept()
                with connection:
                    _answer(connection, served)
        if time.monotonic() - swept >= SWEEP_SECONDS:
            swept = time.monotonic()
            for ident in [i for i, s in served.items() if not os.path.isdir(s.run_dir)]:
                served.pop(ident).resolver.stop()
        if served:
            idle_since = time.monotonic()


def _answer(connection: socket.socket, served: dict[str, Served]) -> None:
    from berth.monitor.resolver import Resolver

    credentials = connection.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
    )
    if struct.unpack("3i", credentials)[1] != os.getuid():
        return
    connection.settimeout(ANSWER_SECONDS)
    message, fds, _, _ = socket.recv_fds(connection, MESSAGE_SIZE, 2)
    try:
        request = json.loads(message)
        if "release" in request:
            gone = served.pop(str(request["release"]), None)
            if gone is not None:
                gone.resolver.stop()
        elif len(fds) == 2:
            ident = str(request["register"])
            previous = served.pop(ident, None)
            if previous is not None:  # started again: its new sockets
                previous.resolver.stop()
            resolver = Resolver(fds, request["names"], request["servers"], request["aliases"])
            fds = []  # the resolver's now
            served[ident] = Served(resolver, str(request["run_dir"]))
        else:
            return
    except (ValueError, KeyError, TypeError):
        return
    finally:
        for fd in fds:
            os.close(fd)
    connection.send(b"ok")


def main(argv: list[str]) -> None:
    """Serve on the socket the client bound to the abstract name `argv[1]` and listens on
    (fd `argv[2]`)."""
    listener = detached_listener(argv)
    from berth.sys.process import set_name

    set_name(KIND.encode())
    serve(listener)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
