"""conmon's attach socket, spoken to as berth's monitor's (`berth.monitor.protocol`), so the
CLI's `attach` and the API's attach and resize serve a container held by conmon unchanged.

conmon's socket (`<run dir>/attach`, SOCK_SEQPACKET) sends one message per read of the
container's output: a byte for the stream (2 stdout, 3 stderr), then the bytes. It takes raw
stdin, says nothing of the exit (it closes its clients, then writes the exit file), and takes
a resize on its `ctl` FIFO (`1 ROWS COLUMNS`). Here each output message becomes a frame,
the end becomes the EXIT frame once the exit file is there, and the client's frames become
what conmon takes: stdin written as it came, its end a shutdown, a resize a line on `ctl`, a
signal sent to the container's pid 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from berth.errors import BerthError
from berth.monitor import conmon, protocol
from berth.monitor.config import ENGINE_FAILURE, MonitorConfig

ATTACH = "attach"  # conmon's socket, in the run directory (its bundle, with --full-attach)
MESSAGE_SIZE = 8193  # a stream byte and one read of output (conmon's STDIO_BUF_SIZE)
STDIN_CHUNK = 32 * 1024  # the most conmon reads of one message
EXIT_WAIT_SECONDS = 5.0  # conmon writes the exit file after it closed its clients
STREAMS = {2: protocol.STDOUT, 3: protocol.STDERR}
ATTACH_START_SECONDS = 10.0  # a client greeting before its start recorded the container running


class ConmonAttach(socket.socket):
    """A connection to conmon's attach socket that reads and writes berth's frames."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        self.run_dir = run_dir
        self._greeting = bytearray()  # the client's first line, until its end came
        self._greeted = False
        self._reader = protocol.FrameReader()
        self._ended = False
        try:
            with protocol.reachable(run_dir / ATTACH) as name:
                self.connect(name)
        except BaseException:
            self.close()
            raise

    def shutdown(self, how: int) -> None:
        if how in (socket.SHUT_RD, socket.SHUT_RDWR):
            self._ended = True  # the client detached: no exit to wait for
        super().shutdown(how)

    def recv(self, size: int, flags: int = 0) -> bytes:  # a frame whole, whatever `size`
        while not self._ended:
            message = super().recv(MESSAGE_SIZE)
            if not message and self._ended:  # (detached meanwhile, from another thread)
                return b""
            if not message:
                self._ended = True
                ended = {"ExitCode": self._exit_code(), "Error": ""}
                return protocol.frame(protocol.EXIT, json.dumps(ended).encode())
            kind = STREAMS.get(message[0])
            if kind is not None and len(message) > 1:
                return protocol.frame(kind, message[1:])
        return b""

    def _exit_code(self) -> int:
        deadline = time.monotonic() + EXIT_WAIT_SECONDS
        while (code := conmon.exit_code(self.run_dir)) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return ENGINE_FAILURE if code is None else code

    def sendall(self, data: bytes, flags: int = 0) -> None:  # type: ignore[override]
        if not self._greeted:
            self._greeting += data
            _, newline, data = bytes(self._greeting).partition(b"\n")
            if not newline:
                return
            self._greeted = True  # conmon sends every stream to every client: not needed
            start_on_attach(self.run_dir)  # a container waiting for its first client
        for kind, payload in self._reader.feed(data):
            self._apply(kind, payload)

    def _apply(self, kind: int, payload: bytes) -> None:
        """A client's frame, as conmon takes it; a resize or a signal that can't be carried
        out (the container gone meanwhile, words that are no numbers) is dropped, as berth's
        monitor drops them."""
        if kind == protocol.STDIN:
            for start in range(0, len(payload), STDIN_CHUNK):
                super().sendall(payload[start : start + STDIN_CHUNK])
        elif kind == protocol.STDIN_CLOSE:
            self.shutdown(socket.SHUT_WR)
        elif kind in (protocol.RESIZE, protocol.SIGNAL):
            with contextlib.suppress(OSError, ValueError):
                if kind == protocol.RESIZE:
                    rows, _, columns = payload.decode().partition(" ")
                    conmon.control(self.run_dir, f"1 {int(rows)} {int(columns)}\n")
                elif conmon.exit_code(self.run_dir) is None:  # its pid not reused since
                    os.kill(int((self.run_dir / "pid").read_text()), int(payload))


def start_on_attach(run_dir: Path) -> None:
    """From a client's greeting: the container of `run_dir` started, if this run waits for
    its first client (`conmon.Spawned` with `wait_for_attach`) and no other client started it. A
    client that greets before the start has recorded it running waits for that (or for its
    end, or `ATTACH_START_SECONDS`). The runtime failing, the container is deleted (conmon
    hears the end and runs the exit command); its monitor.json unreadable (a damaged run
    directory), it is left unstarted, for `stop` or `rm -f`."""
    deadline = time.monotonic() + ATTACH_START_SECONDS
    while not (run_dir / conmon.START_ON_ATTACH).exists():
        if not (run_dir / conmon.AWAIT_CLIENT).exists() or (run_dir / conmon.EXIT_FILE).exists():
            return
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)
    try:
        (run_dir / conmon.AWAIT_CLIENT).unlink()
    except FileNotFoundError:
        return  # another client started it
    from berth.runtime import Runtime

    try:
        config = MonitorConfig.read(run_dir)
    except (OSError, ValueError, TypeError):
        return
    runtime = Runtime(Path(config.runtime_root))
    try:
        runtime.start(config.id)
    except BerthError:
        with contextlib.suppress(BerthError):
            runtime.delete(config.id)
