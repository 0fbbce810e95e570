"""The tar header fast path: which headers it decodes itself, and that it agrees with tarfile."""

from __future__ import annotations

import io
import tarfile

import pytest

from berth.archive.headers import Member, Reader, _amend, _parse
from berth.archive.source import Source


def header(info: tarfile.TarInfo, fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        archive.addfile(info, io.BytesIO(bytes(info.size)) if info.isreg() else None)
    return buffer.getvalue()


def info(name: str, type_: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    made = tarfile.TarInfo(name)
    made.type = type_
    made.mode, made.uid, made.gid, made.mtime = 0o4755, 1234, 5678, 1_700_000_000
    for key, value in fields.items():
        setattr(made, key, value)
    return made


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_plain_headers_take_the_fast_path(fmt: int) -> None:
    member = _parse(header(info("usr/bin/su", size=3), fmt)[:512])
    assert member is not None
    assert (member.name, member.type, member.mode) == (b"usr/bin/su", tarfile.REGTYPE, 0o4755)
    assert (member.uid, member.gid, member.size) == (1234, 5678, 3)
    assert member.mtime_ns == 1_700_000_000 * 1_000_000_000


def test_device_numbers_and_links() -> None:
    dev = _parse(header(info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3), 1)[:512])
    assert dev is not None and (dev.devmajor, dev.devminor, dev.size) == (1, 3, 0)
    link = _parse(header(info("lib", tarfile.SYMTYPE, linkname="/usr/lib"), 1)[:512])
    assert link is not None and link.linkname == b"/usr/lib"


def test_ustar_prefix_joins_the_name() -> None:
    name = "a" * 90 + "/" + "b" * 90
    member = _parse(header(info(name), tarfile.USTAR_FORMAT)[:512])
    assert member is not None and member.name == name.encode()


def test_v7_directory_is_a_file_named_with_a_slash() -> None:
    block = bytearray(header(info("dir/", size=0), tarfile.USTAR_FORMAT)[:512])
    block[156:157] = tarfile.AREGTYPE
    block[148:156] = b"        "
    block[148:155] = b"%06o\x00" % sum(block)
    member = _parse(bytes(block))
    assert member is not None and member.type == tarfile.DIRTYPE and member.size == 0


@pytest.mark.parametrize(
    ("made", "fmt"),
    [
        (info("x" * 150), tarfile.PAX_FORMAT),  # PAX 'x' header for the long name
        (info("x" * 150), tarfile.GNU_FORMAT),  # GNU 'L' long name
        (info("big-uid", uid=0o7777777 + 1), tarfile.GNU_FORMAT),  # base-256 number
    ],
)
def test_extended_headers_are_left_to_tarfile(made: tarfile.TarInfo, fmt: int) -> None:
    assert _parse(header(made, fmt)[:512]) is None


def test_a_bad_checksum_is_left_to_tarfile() -> None:
    block = bytearray(header(info("f"), tarfile.USTAR_FORMAT)[:512])
    block[0:1] = b"g"
    assert _parse(bytes(block)) is None


def members_of(tar: bytes) -> list[Member]:
    reader = Reader(Source(io.BytesIO(tar).read))
    found = []
    while (member := reader.next()) is not None:
        found.append(member)
    return found


def pax_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        long_file = info("d/" + "long-" * 40, size=700)
        long_file.pax_headers = {
            "mtime": "1700000000.123456789",
            "SCHILY.xattr.user.k": "v",
            "atime": "1700000001.5",
        }
        archive.addfile(long_file, io.BytesIO(bytes(700)))
        link = info("l", tarfile.SYMTYPE, linkname="/" + "t" * 120, uid=3_000_000)
        archive.addfile(link)
        archive.addfile(info("after", size=1), io.BytesIO(b"x"))
    return buffer.getvalue()


def test_pax_records_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("tarfile parsed a header the fast path should have")

    monkeypatch.setattr(tarfile.TarInfo, "fromtarfile", refuse)
    long_file, link, after = members_of(pax_tar())
    assert long_file.name == ("d/" + "long-" * 40).encode()
    assert long_file.size == 700 and long_file.mtime_ns == 1_700_000_000_123_456_789
    assert long_file.xattrs == (("user.k", b"v"),)
    assert link.linkname == b"/" + b"t" * 120 and link.uid == 3_000_000
    assert (after.name, after.size, after.mode) == (b"after", 1, 0o4755)


def test_fast_path_agrees_with_tarfile() -> None:
    tar = pax_tar()
    ours = members_of(tar)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        theirs = archive.getmembers()
    assert [m.name.decode() for m in ours] == [m.name for m in theirs]
    assert [m.linkname.decode() for m in ours] == [m.linkname for m in theirs]
    assert [(m.uid, m.gid, m.mode, m.size) for m in ours] == [
        (m.uid, m.gid, m.mode, m.size) for m in theirs
    ]


def test_gnu_sparse_and_malformed_pax_records_are_left_to_tarfile() -> None:
    def member() -> Member:
        return Member(b"f", tarfile.REGTYPE, mode=0, uid=0, gid=0, size=0, mtime_ns=0)

    plain = member()
    assert _amend(plain, b"14 path=other\n") and plain.name == b"other"
    assert not _amend(member(), b"22 GNU.sparse.major=1\n14 path=other\n")
    assert not _amend(member(), b"15 path=other\n")  # the length is off by one
    assert not _amend(member(), b"14 path=other")
