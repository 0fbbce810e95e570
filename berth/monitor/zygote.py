"""Monitors forked from one interpreter that has imported them: `python -m berth.monitor.zygote
NAME FD`, one per store (its run root) and berth installation, reached on the abstract unix
socket NAME (which the launcher that starts it binds, listens on and hands over as FD).

A monitor spawned on its own is a whole interpreter with its own copy of every module it
imports: ~7 MiB of memory for each idle container, all of it private. Forked from a process
that has imported them (and frozen its objects out of the garbage collector's reach, so no
collection dirties their pages), its modules' pages stay shared with that process and with
every other monitor forked from it: what each container costs is only what its monitor
changes. A fork is also a millisecond where a spawn is an interpreter's start and imports.

The launcher (`berth.monitor.launch`) asks for a monitor by sending its channel's far end
(SCM_RIGHTS) and its environment; the zygote forks, and the child is from then on exactly what
`python -m berth.monitor FD` is once detached: it serves the channel (`entry.serve`). Its
parent answers with its pid. Only the zygote's own user may ask (SO_PEERCRED): an abstract
socket has no file permissions. It needs no file of the store open (nothing keeps a run root
on tmpfs busy) and exits once no monitor of its own has run for `LINGER_SECONDS`, or none
was asked for for `KEEP_SECONDS`; a zygote gone (or killed) is started again by the next
launcher, whose request waits in the new zygote's backlog while it starts.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING

from berth.monitor.launch import ANSWER_SECONDS, REQUEST_SIZE, detached_listener

if TYPE_CHECKING:
    from typing import NoReturn

    from berth.cgroups import Layout as CgroupLayout

# After the last monitor it forked is gone, and no one asked meanwhile: a working session's
# next command (a `run`, a build's RUN steps) finds it (`run --rm busybox true`: ~60 ms, 70-80
# when a zygote must start first: an interpreter and its imports); idle, it holds ~7 MiB of
# its own. BERTH_ZYGOTE_LINGER (seconds) changes it.
LINGER_SECONDS = 30.0
# With monitors still running, no longer than this after the last request: what they share
# stays shared among them when the zygote is gone; a zygote kept for one long-running
# container would double what that container costs.
KEEP_SECONDS = 60.0


def linger_seconds() -> float:
    """How long an idle zygote stays: BERTH_ZYGOTE_LINGER's seconds, else `LINGER_SECONDS`."""
    try:
        chosen = float(os.environ.get("BERTH_ZYGOTE_LINGER", LINGER_SECONDS))
    except ValueError:
        return LINGER_SECONDS
    return chosen if 0 <= chosen <= KEEP_SECONDS else LINGER_SECONDS


def serve(listener: socket.socket, cgroup_layout: CgroupLayout | None) -> None:
    """Fork a monitor per request until none of ours has run for `linger_seconds()`, or no
    one has asked for `KEEP_SECONDS`. The kernel reaps the monitors as they exit (SIGCHLD
    ignored: a dead monitor is never a zombie that looks alive); a pidfd per monitor tells
    when the last has gone."""
    linger = linger_seconds()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    running: set[int] = set()  # pidfds of the monitors forked
    watched = select.poll()  # not select(): past fd 1024 with a thousand monitors
    watched.register(listener.fileno(), select.POLLIN)
    quiet_since = asked = time.monotonic()
    while time.monotonic() - asked <= KEEP_SECONDS and (
        running or time.monotonic() - quiet_since <= linger
    ):
        for fd, _ in watched.poll(500):
            if fd != listener.fileno():
                watched.unregister(fd)
                running.discard(fd)
                os.close(fd)
                quiet_since = time.monotonic()
                continue
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                child = _answer(connection, [listener.fileno(), *running], cgroup_layout)
            if child is not None:
                # Gone already, or no fd left for it (EMFILE): not watched, so not counted.
                with contextlib.suppress(OSError):
                    pidfd = os.pidfd_open(child)
                    watched.register(pidfd, select.POLLIN)
                    running.add(pidfd)
            quiet_since = asked = time.monotonic()


def _answer(
    connection: socket.socket, ours: list[int], cgroup_layout: CgroupLayout | None
) -> int | None:
    """Fork a monitor for the request on `connection`; its pid. `ours`: the zygote's fds,
    none of the monitor's business."""
    credentials = connection.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
    )
    _, uid, _ = struct.unpack("3i", credentials)
    if uid != os.getuid():
        return None
    connection.settimeout(ANSWER_SECONDS)
    try:
        environment, fds, _, _ = socket.recv_fds(connection, REQUEST_SIZE, 1)
    except OSError:
        return None
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        return None
    pid = os.fork()
    if pid == 0:
        for fd in [connection.fileno(), *ours]:
            os.close(fd)
        _become_monitor(fds[0], cgroup_layout, environment)
    os.close(fds[0])
    with contextlib.suppress(OSError):  # the launcher gave up: its monitor reads end-of-file
        connection.send(str(pid).encode())
    return pid


def _become_monitor(
    channel_fd: int, cgroup_layout: CgroupLayout | None, environment: bytes
) -> NoReturn:
    """The forked child: what `python -m berth.monitor` is once detached. It changes as
    little as it can of what it shares with the zygote (see `entry.Forked`)."""
    from berth.monitor.entry import Forked
    from berth.monitor.entry import serve as serve_channel
    from berth.process_exit import exit_now

    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        code = serve_channel(channel_fd, Forked(cgroup_layout, environment))
    finally:
        exit_now(code)


def main(argv: list[str]) -> None:
    """Detach, import what monitors run, then serve on the socket the launcher bound to the
    abstract name `argv[1]` and listens on (fd `argv[2]`; the name is for `ps` to show)."""
    listener = detached_listener(argv)
    from berth.sys.process import set_name

    set_name(b"berth-zygote")
    from berth.monitor.cleanup import cgroup_layout
    from berth.monitor.entry import PRELOAD

    for module in (*PRELOAD, "berth.events"):  # and what the exit's `die` event needs
        __import__(module)
    layout = cgroup_layout()  # once for all the monitors: the host's does not change
    gc.collect()
    gc.freeze()  # the modules' objects: never collected, so their pages stay shared
    serve(listener, layout)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
