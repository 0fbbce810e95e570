"""Unpacking a layer from the engine's side: start the unpacker process and feed it.

The unpacker (berth.archive.unpacker) is a fresh exec of this interpreter, so parallel
unpacks use every core and the multi-threaded engine never forks. The caller streams the
compressed blob in with `write` (a full pipe blocks it: backpressure), then `finish` waits
and returns what the child reports, or raises the child's error as a berth kind.
Must not import content, registry, image, cli or anything else above archive.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from berth.archive.status import DATA_LOSS, NO_SPACE, NOT_FOUND
from berth.errors import BerthError, DataLoss, InvalidArgument, NoSpace, NotFound, SystemFailure

log = logging.getLogger(__name__)
COMPRESSIONS = frozenset({"gzip", "zstd", "none"})
_FEED = 1 << 20
_FINISH_TIMEOUT = 600.0  # the child has had all the data; only directory metadata is left
# The child must import this same berth, whatever its working directory and install state.
_BERTH_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True, slots=True)
class Applied:
    """What unpacking a layer produced."""

    diff_id: str  # "sha256:<hex>" of the uncompressed tar stream
    size: int  # sum of the regular files' sizes, Docker's layer size


class LayerWriter:
    """The write end of one running unpack; use from one thread."""

    def __init__(self, process: subprocess.Popen[bytes], target: Path) -> None:
        self._process = process
        self._target = target

    def write(self, chunk: bytes) -> None:
        """Feed compressed bytes; raises the unpacker's error if it has already failed."""
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(chunk)
        except BrokenPipeError:
            raise self._failure() from None

    def finish(self) -> Applied:
        """Signal the end of the stream and wait for the unpacker's verdict."""
        try:  # closes stdin, the end of the stream, ignoring a child that quit early
            out, err = self._process.communicate(timeout=_FINISH_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.abort()
            raise SystemFailure(f"unpacking into {self._target} timed out") from None
        if self._process.returncode != 0:
            raise _error_of(self._process.returncode, err, self._target)
        report = json.loads(out)
        return Applied(diff_id=report["diff_id"], size=report["size"])

    def abort(self) -> None:
        """Stop the unpacker; the caller removes the half-written target."""
        self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout, self._process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):  # unsent bytes meet a dead reader
                    pipe.close()

    def _failure(self) -> BerthError:
        _, err = self._process.communicate(timeout=_FINISH_TIMEOUT)
        return _error_of(self._process.returncode, err, self._target)


def _error_of(status: int, stderr: bytes, target: Path) -> BerthError:
    message = stderr.decode(errors="replace").strip() or f"exit status {status}"
    message = f"unpacking layer into {target}: {message}"
    if status == DATA_LOSS:
        return DataLoss(message)
    if status == NOT_FOUND:
        return NotFound(message)
    if status == NO_SPACE:
        return NoSpace(message)
    return SystemFailure(message)


def start_unpack(target: Path, compression: str) -> LayerWriter:
    """Start unpacking a layer stream into the existing, empty directory `target`."""
    if compression not in COMPRESSIONS:
        raise InvalidArgument(f"unknown layer compression {compression!r}")
    if not target.is_dir():
        raise NotFound(f"layer directory {target} does not exist")
    argv = [sys.executable, "-I", "-m", "berth.archive.unpacker", str(target), compression]
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": f"{_BERTH_ROOT}:{path}" if path else _BERTH_ROOT}
    log.debug("run %s", argv)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd="/",
            env=env,
        )
    except OSError as err:
        raise SystemFailure(f"cannot start the unpacker: {err}") from err
    return LayerWriter(process, target)


def apply_layer(source: BinaryIO, target: Path, compression: str) -> Applied:
    """Unpack the compressed layer `source` into `target`; see `start_unpack`."""
    writer = start_unpack(target, compression)
    try:
        while chunk := source.read(_FEED):
            writer.write(chunk)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
