"""Packing an overlay upper directory into a layer, then unpacking it with berth's own
unpacker: the same tree comes back (whiteouts, opaque directories, hard links, file
capabilities, devices), the digests are stable, and a hostile tree can't lead the reads out.
On the store's tmpfs (trusted.* xattrs need a real filesystem and root)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from berth.archive import apply_layer
from berth.archive.pack import measure, pack
from berth.errors import InvalidArgument
from tests.fixtures.store import Store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and xattrs need root")


def _tree(root: Path) -> None:
    """What a container's upper directory may hold."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "motd").write_text("hello\n")
    os.chmod(root / "etc" / "motd", 0o640)
    os.chown(root / "etc" / "motd", 1000, 1001)
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_bytes(b"\x7fELF" + bytes(100_000))
    os.chmod(root / "bin" / "tool", 0o4755)
    os.link(root / "bin" / "tool", root / "bin" / "tool-again")
    os.symlink("/etc/motd", root / "motd-link")
    os.mknod(root / "removed", stat.S_IFCHR | 0o000, os.makedev(0, 0))  # a whiteout
    (root / "var" / "cache").mkdir(parents=True)
    os.setxattr(root / "var" / "cache", "trusted.overlay.opaque", b"y")
    (root / "var" / "cache" / "fresh").write_text("new\n")
    os.mkfifo(root / "pipe")
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    for path in root.rglob("*"):
        os.utime(path, (1_600_000_000.7, 1_600_000_000.7), follow_symlinks=False)


def _describe(root: Path) -> dict[str, tuple[object, ...]]:
    """Each entry's kind, mode, owner, mtime, content or target, and opaque mark."""
    found: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        kind = stat.S_IFMT(st.st_mode)
        detail: object = None
        if stat.S_ISREG(st.st_mode):
            detail = hashlib.sha256(path.read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            detail = os.readlink(path)
        elif stat.S_ISCHR(st.st_mode):
            detail = st.st_rdev
        opaque = None
        if stat.S_ISDIR(st.st_mode):
            try:
                opaque = os.getxattr(path, "trusted.overlay.opaque")
            except OSError:
                opaque = None
        whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0  # its time says nothing
        mtime = None if whiteout else int(st.st_mtime)
        found[str(path.relative_to(root))] = (
            kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, mtime, detail, opaque
        )  # fmt: skip
    return found


def test_a_packed_upper_unpacks_to_the_same_tree(store: Store) -> None:
    upper, back = store.mountpoint / "upper", store.mountpoint / "back"
    _tree(upper)
    subprocess.run(["setcap", "cap_net_raw+ep", str(upper / "bin" / "tool")], check=True)
    blob = io.BytesIO()
    packed = pack(str(upper), blob)
    data = blob.getvalue()
    assert packed.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert packed.size == len(data)
    assert packed.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest()
    assert packed.content_size == 100_004 + len("hello\n") + len("new\n")

    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = {m.name: m for m in archive.getmembers()}
    # depth first, each directory's names sorted as they are on disk (whiteouts by the name
    # they hide; the opaque marker right after its directory)
    on_disk = [n.replace(".wh..wh..opq", "").replace(".wh.", "").split("/") for n in members]
    assert on_disk == sorted(on_disk)
    assert members[".wh.removed"].isfile() and members[".wh.removed"].size == 0
    assert "var/cache/.wh..wh..opq" in members and "removed" not in members
    assert members["bin/tool-again"].islnk() and members["bin/tool-again"].linkname == "bin/tool"
    assert "pipe" in members and "null" in members
    assert all(m.uname == "" and m.gname == "" for m in members.values())
    assert not any("trusted.overlay" in key for m in members.values() for key in m.pax_headers)

    back.mkdir()
    applied = apply_layer(io.BytesIO(data), back, "gzip")
    assert applied.diff_id == packed.diff_id
    assert _describe(back) == _describe(upper)
    assert os.getxattr(back / "bin" / "tool", "security.capability") == os.getxattr(
        upper / "bin" / "tool", "security.capability"
    )
    assert os.stat(back / "bin" / "tool").st_ino == os.stat(back / "bin" / "tool-again").st_ino


def test_packing_is_deterministic_and_clamps_to_the_epoch(store: Store) -> None:
    first, second = store.mountpoint / "one", store.mountpoint / "two"
    _tree(first)
    _tree(second)  # made later: other inodes, other ctimes, the same tree
    assert pack(str(first), io.BytesIO()) == pack(str(second), io.BytesIO())
    os.utime(second / "etc" / "motd", (1_700_000_000, 1_700_000_000))
    assert pack(str(first), io.BytesIO()).diff_id != pack(str(second), io.BytesIO()).diff_id
    clamped = io.BytesIO()
    pack(str(second), clamped, epoch=1_500_000_000)
    with tarfile.open(fileobj=io.BytesIO(clamped.getvalue())) as archive:
        assert {m.mtime for m in archive.getmembers()} == {1_500_000_000}


def test_measuring_says_what_packing_would_without_a_blob(store: Store) -> None:
    """A build step's layer is only measured: the same diff_id and size a pack of the tree
    gives (with or without an epoch), and nothing written."""
    upper = store.mountpoint / "upper"
    _tree(upper)
    for epoch in (None, 1_500_000_000):
        packed = pack(str(upper), io.BytesIO(), epoch=epoch)
        measured = measure(str(upper), epoch=epoch)
        assert (measured.diff_id, measured.content_size) == (packed.diff_id, packed.content_size)
    assert measure(str(upper)).diff_id != measure(str(upper), epoch=1_500_000_000).diff_id


def test_symlinks_in_the_tree_are_entries_never_followed(store: Store) -> None:
    upper, outside = store.mountpoint / "upper", store.mountpoint / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host\n")
    upper.mkdir()
    os.symlink(outside, upper / "dir-link")
    os.symlink(outside / "secret", upper / "file-link")
    blob = io.BytesIO()
    pack(str(upper), blob)
    with tarfile.open(fileobj=io.BytesIO(blob.getvalue())) as archive:
        members = archive.getmembers()
    assert [(m.name, m.type, m.linkname) for m in members] == [
        ("dir-link", tarfile.SYMTYPE, str(outside)),
        ("file-link", tarfile.SYMTYPE, str(outside / "secret")),
    ]


def test_a_tree_too_deep_is_refused(store: Store) -> None:
    upper = store.mountpoint / "upper"
    path = upper
    for _ in range(600):
        path = path / "d"
    os.makedirs(path)
    with pytest.raises(InvalidArgument, match="deeper than"):
        pack(str(upper), io.BytesIO())
