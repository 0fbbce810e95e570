"""The unpacker process: `python -m berth.archive.unpacker TARGET COMPRESSION`.

Reads a compressed layer on stdin and writes it into TARGET, inside a private mount
namespace chrooted to TARGET: the kernel, not path checks, keeps `../x`, `/x`, symlinks and
hardlinks pointing outside, inside the layer. It is always a fresh exec, never a fork of the
engine (unshare in a threaded process would strand the other threads), and it imports all
it needs before the chroot, after which the host's files are out of reach.

Reports `{"diff_id": ..., "size": ...}` on stdout and exits 0; on failure one line on stderr
and exit status DATA_LOSS (the stream is bad), NOT_FOUND, NO_SPACE or SYSTEM_FAILURE.
Imports only the stdlib, isal/zstandard, berth.sys, berth.errors and its own package's
child-side modules; never berth.archive.layer (the parent side) or anything above archive.
"""

from __future__ import annotations

import errno
import os
import sys
import tarfile

from berth.archive.extract import Extractor
from berth.archive.headers import Reader
from berth.archive.source import Corrupt, Source, reader_for
from berth.archive.status import DATA_LOSS, NO_SPACE, NOT_FOUND, SYSTEM_FAILURE
from berth.errors import BerthError, NotFound
from berth.sys import CLONE_NEWNS, chroot, make_private, unshare


def unpack(target: str, compression: str) -> tuple[str, int]:
    """Contain this process in `target`, then unpack stdin into it: (diff_id, size)."""
    stdin = os.fdopen(0, "rb", buffering=0, closefd=False)
    source = Source(reader_for(stdin, compression))  # starts isal's thread: import done
    unshare(CLONE_NEWNS)
    make_private("/")
    chroot(target)
    os.umask(0)  # modes come from the layer, exactly

    reader = Reader(source)
    extractor = Extractor(reader, source)
    while (member := reader.next()) is not None:
        extractor.apply(member)
    extractor.finish()
    source.drain()
    return source.diff_id(), extractor.size


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m berth.archive.unpacker TARGET COMPRESSION\n")
        return SYSTEM_FAILURE
    try:
        diff_id, size = unpack(argv[0], argv[1])
    except (Corrupt, tarfile.TarError) as err:  # TarError: tarfile reading a sparse file
        return _fail(DATA_LOSS, str(err))
    except NotFound as err:
        return _fail(NOT_FOUND, str(err))
    except BerthError as err:
        return _fail(SYSTEM_FAILURE, str(err))
    except OSError as err:
        where = f"{os.fsdecode(err.filename)}: " if err.filename is not None else ""
        if err.errno in (errno.ENOSPC, errno.EDQUOT):  # the engine's NoSpace, in its words
            return _fail(NO_SPACE, f"{where}no space left on device")
        return _fail(SYSTEM_FAILURE, f"{where}{err.strerror}")
    except Exception as err:  # the top of this process: whatever failed, report one line
        return _fail(SYSTEM_FAILURE, f"{type(err).__name__}: {err}")
    sys.stdout.write(f'{{"diff_id": "{diff_id}", "size": {size}}}\n')
    return 0


def _fail(status: int, message: str) -> int:
    sys.stderr.write(" ".join(message.split()) + "\n")
    return status


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # No interpreter shutdown: it would wait for isal's reader thread, which may sit on a
    # pipe the engine is still writing to after a failure.
    os._exit(status)
