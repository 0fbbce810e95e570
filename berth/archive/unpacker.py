"""The unpacker process: `python -m berth.archive.unpacker TARGET COMPRESSION`.

Reads a compressed layer on stdin and writes it into TARGET, inside a private mount
namespace chrooted to TARGET: the kernel, not path checks, keeps `../x`, `/x`, symlinks and
hardlinks pointing outside, inside the layer. It is always a fresh exec, never a fork of the
engine (unshare in a threaded process would strand the other threads), and it imports all
it needs before the chroot, after which the host's files are out of reach.

Reports `{"diff_id": ..., "size": ...}` on stdout and exits 0; on failure one line on stderr
and exit status DATA_LOSS (the stream is bad), NOT_FOUND or SYSTEM_FAILURE. Imports only the
stdlib, isal/zstandard, berth.sys, berth.errors and its own package's child-side modules;
never berth.archive.layer (the parent side) or anything above archive.
"""

from __future__ import annotations

import os
import sys

from berth.archive.status import DATA_LOSS, NOT_FOUND, SYSTEM_FAILURE


def unpack(target: str, compression: str) -> tuple[str, int]:
    """Contain this process in `target`, then unpack stdin into it: (diff_id, size)."""
    from berth.archive.extract import Extractor
    from berth.archive.headers import Reader
    from berth.archive.source import Source, reader_for
    from berth.sys import CLONE_NEWNS, chroot, make_private, unshare

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
    from berth.archive.source import Corrupt
    from berth.errors import BerthError, DataLoss, NotFound

    if len(argv) != 2:
        sys.stderr.write("usage: python -m berth.archive.unpacker TARGET COMPRESSION\n")
        return SYSTEM_FAILURE
    try:
        diff_id, size = unpack(argv[0], argv[1])
    except (Corrupt, DataLoss, EOFError) as err:
        return _fail(DATA_LOSS, str(err))
    except Exception as err:
        import tarfile  # already loaded: no file access after the chroot

        if isinstance(err, tarfile.TarError):
            return _fail(DATA_LOSS, f"bad tar stream: {err}")
        if isinstance(err, NotFound):
            return _fail(NOT_FOUND, str(err))
        if isinstance(err, BerthError):
            return _fail(SYSTEM_FAILURE, str(err))
        if isinstance(err, OSError):
            where = f"{os.fsdecode(err.filename)}: " if err.filename is not None else ""
            return _fail(SYSTEM_FAILURE, f"{where}{err.strerror}")
        return _fail(SYSTEM_FAILURE, f"{type(err).__name__}: {err}")
    sys.stdout.write(f'{{"diff_id": "{diff_id}", "size": {size}}}\n')
    return 0


def _fail(status: int, message: str) -> int:
    sys.stderr.write(" ".join(message.split()) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
