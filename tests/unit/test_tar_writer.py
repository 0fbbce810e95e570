"""The layer packer's tar writer says every header as tarfile's PAX writer does and hands its
reader the same pieces (gzip's output depends on them): table-tested against tarfile."""

from __future__ import annotations

import io
import tarfile

import pytest

from berth.archive.tar_writer import TarWriter, header


def _info(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.uname = info.gname = ""
    for key, value in fields.items():
        setattr(info, key, value)
    return info


CASES = {
    "file": _info("etc/motd", size=6, mode=0o640, uid=1000, gid=1001, mtime=1_700_000_000),
    "directory": _info("var/cache", tarfile.DIRTYPE, mode=0o755),
    "directory with slash": _info("var/lib/", tarfile.DIRTYPE, mode=0o700),
    "symlink": _info("motd-link", tarfile.SYMTYPE, linkname="/etc/motd"),
    "hard link": _info("bin/tool-again", tarfile.LNKTYPE, linkname="bin/tool"),
    "char device": _info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
    "block device": _info("dev/loop0", tarfile.BLKTYPE, devmajor=7, devminor=0),
    "fifo": _info("pipe", tarfile.FIFOTYPE, mode=0o600),
    "whiteout": _info("etc/.wh.gone", mode=0),
    "setuid": _info("bin/su", mode=0o4755, size=1),
    "name of 100": _info("n" * 100),
    "name of 101": _info("n" * 101),
    "directory of 100 with slash": _info("d" * 100, tarfile.DIRTYPE),
    "link of 101": _info("l", tarfile.SYMTYPE, linkname="t" * 101),
    "non-ASCII name": _info("caf\u00e9.txt"),
    "undecodable name": _info("bad\udcff"),
    "an xattr": _info("bin/ping", pax_headers={"SCHILY.xattr.security.capability": "\x01"}),
    "large uid": _info("big-uid", uid=8**7),
    "large size": _info("big", size=8**11),
    "float time": _info("float", mtime=1.5),
    "negative time": _info("old", mtime=-1),
    "a name": _info("named", uname="root"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_header_is_tarfiles(case: str) -> None:
    info = CASES[case]
    assert header(info) == info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")


class _Pieces:
    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.pieces.append(bytes(data))
        return len(data)


@pytest.mark.parametrize("sizes", [[0], [5], [512, 10240, 3], [30000, 1, 70000], [10240 * 3]])
def test_the_stream_comes_in_tarfiles_pieces(sizes: list[int]) -> None:
    ours, theirs, loose = _Pieces(), _Pieces(), _Pieces()
    writer = TarWriter(ours)
    unchunked = TarWriter(loose, records=False)
    with tarfile.open(fileobj=theirs, mode="w|", format=tarfile.PAX_FORMAT) as reference:  # type: ignore[call-overload]
        for index, size in enumerate(sizes):
            data = bytes((index + n) % 251 for n in range(size))
            info = _info(f"f{index}", size=size, mtime=index)
            writer.add(info, io.BytesIO(data))
            unchunked.add(info, io.BytesIO(data))
            reference.addfile(info, io.BytesIO(data))
    writer.close()
    unchunked.close()
    assert ours.pieces == theirs.pieces
    assert b"".join(loose.pieces) == b"".join(theirs.pieces)
