"""Where `save` and `export` write an archive: `-o FILE` (a partial file beside it, renamed
over it once complete, as Docker's CLI does; a device or fifo such as /dev/null written as is)
or stdout, which must not be a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import BinaryIO

from berth.errors import InvalidArgument, SystemFailure


def refuse_terminal(output: str | None) -> None:
    if output is None and sys.stdout.isatty():
        raise InvalidArgument(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        )


def write_output(output: str | None, write: Callable[[BinaryIO], None], failure: str) -> None:
    """`write` the archive to `output` (None: stdout); `failure` words an OSError."""
    try:
        if output is None:
            sys.stdout.flush()
            write(sys.stdout.buffer)
        elif os.path.exists(output) and not os.path.isfile(output):  # /dev/null, a fifo
            with open(output, "wb") as out:
                write(out)
        else:
            partial = f"{output}.berth-partial"
            try:
                with open(partial, "wb") as out:
                    write(out)
                os.replace(partial, output)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
    except OSError as error:
        raise SystemFailure(f"{failure}: {error}") from None
