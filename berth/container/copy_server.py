"""A long-lived copy helper for a build: one interpreter that has imported the copier, forking
a child per request, so a build's COPY steps don't each pay an interpreter's start and its
imports (~30 ms of every step here).

The server is a fresh exec (`python -I -m berth.container.copy_server FD`) and single-threaded,
so its forks are safe; each helper is exactly the copy helper (`berth.container.copier.main`):
its own mount namespace, chroot and sealed imports, gone when the request is done. Requests
come over a SOCK_SEQPACKET socket: the copier's JSON request, with the fds the helper takes as
its stdin, stdout and status fd, and the request's own reply socket (SCM_RIGHTS). Each request
gets a keeper process (requests run side by side) that answers on the reply socket
`{"pid": N}` once the helper runs, then `{"code": C}` when it has exited. End of file on the
server's socket ends the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import NoReturn

from berth.container import copier
from berth.process_exit import exit_now

MESSAGE_SIZE = 1 << 20
REPLY, STDIN, STDOUT, STATUS = "reply", "stdin", "stdout", "status"


def serve(channel: socket.socket) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the requests' keepers exit unwaited
    while True:
        message, fds, _, _ = socket.recv_fds(channel, MESSAGE_SIZE, 4)
        if not message:
            return
        document = json.loads(message)
        given = dict(zip(document["fds"], fds, strict=True))
        if os.fork() == 0:
            channel.close()
            _keep(document["request"], given)
        for fd in fds:
            os.close(fd)


def _keep(request: dict[str, object], given: dict[str, int]) -> NoReturn:
    """One request's keeper, so that requests run side by side (two stages copying at once):
    it forks the copy helper and says, on the request's own socket, its pid and then its
    exit code."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its own child is waited for
    reply = socket.socket(fileno=given.pop(REPLY))
    child = os.fork()
    if child == 0:
        reply.close()
        _child(request, given)
    for fd in given.values():
        os.close(fd)
    reply.send(json.dumps({"pid": child}).encode())
    _, status = os.waitpid(child, 0)
    reply.send(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode())
    os._exit(0)


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
    channel_fd = int(argv[1])
    # A spawn from a threaded caller (`berth serve`) may carry what another thread made
    # inheritable for its own spawn meanwhile (a monitor's channel): not ours to hold.
    os.closerange(3, channel_fd)
    os.closerange(channel_fd + 1, os.sysconf("SC_OPEN_MAX"))
    serve(socket.socket(fileno=channel_fd))
    exit_now(0)


if __name__ == "__main__":
    main(sys.argv)
