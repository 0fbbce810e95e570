"""A long-lived copy helper for a build: one interpreter that has imported the copier, forking
a child per request, so a build's COPY steps don't each pay an interpreter's start and its
imports (~30 ms of every step here).

The server is a fresh exec (`python -I -m berth.container.copy_server FD`) and single-threaded,
so its forks are safe; each child is exactly the copy helper (`berth.container.copier.main`):
its own mount namespace, chroot and sealed imports, gone when the request is done. Requests
come one at a time over a SOCK_SEQPACKET socket: the copier's JSON request, with the fds the
child takes as its stdin, stdout and status fd (SCM_RIGHTS); the server answers
`{"pid": N}` once the child runs, then `{"code": C}` when it has exited. End of file on the
socket ends the server.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import NoReturn

from berth.container import copier
from berth.process_exit import exit_now

MESSAGE_SIZE = 1 << 20
STDIN, STDOUT, STATUS = "stdin", "stdout", "status"


def serve(channel: socket.socket) -> None:
    while True:
        message, fds, _, _ = socket.recv_fds(channel, MESSAGE_SIZE, 3)
        if not message:
            return
        document = json.loads(message)
        request, given = document["request"], dict(zip(document["fds"], fds, strict=True))
        child = os.fork()
        if child == 0:
            channel.close()
            _child(request, given)
        for fd in given.values():
            os.close(fd)
        channel.send(json.dumps({"pid": child}).encode())
        _, status = os.waitpid(child, 0)
        channel.send(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode())


def _child(request: dict[str, object], given: dict[str, int]) -> None:
    """The copy helper, as if it had been exec'd with these fds."""
    code = 1
    try:
        for name, target in ((STDIN, 0), (STDOUT, 1)):
            if name in given:
                os.dup2(given[name], target)
        request["status_fd"] = given[STATUS]
        code = copier.main(["copier", json.dumps(request)])
    finally:
        os._exit(code)


def main(argv: list[str]) -> NoReturn:
    """Serve until the build lets go, then leave at once: the build waits for this exit."""
    serve(socket.socket(fileno=int(argv[1])))
    exit_now(0)


if __name__ == "__main__":
    main(sys.argv)
