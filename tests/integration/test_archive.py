"""Real unpacking into tmpfs: containment, fidelity, whiteouts under overlay, digests, errors.

Layers are built in memory with the fixtures' tar builder (raw names, so hostile ones reach
the archive as written). Every test unpacks into `<tmpfs>/layers/...` next to a canary
directory that must come out untouched; mounts are removed in the test and the `store`
fixture fails the test if one is left.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.archive import Applied, apply_layer, start_unpack
from berth.errors import BerthError, DataLoss, InvalidArgument, NotFound
from berth.sys import mount_overlay, umount
from tests.fixtures import oci_layout as oci
from tests.fixtures.oci_layout import FIXED_MTIME, TarEntry, make_tar
from tests.fixtures.store import Store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking needs root")


@dataclass
class Area:
    root: Path
    canary: Path

    def layer(self, name: str = "layer") -> Path:
        path = self.root / "layers" / name
        path.mkdir(parents=True)
        return path

    def canary_state(self) -> list[tuple[str, int, int]]:
        return sorted(
            (str(p.relative_to(self.canary)), p.lstat().st_mode, p.lstat().st_mtime_ns)
            for p in [self.canary, *self.canary.rglob("*")]
        )


@pytest.fixture
def area(store: Store) -> Iterator[Area]:
    root = store.mountpoint / "archive"
    canary = root / "canary"
    (canary / "etc").mkdir(parents=True)
    (canary / "etc" / "passwd").write_text("canary\n")
    (canary / "tmp").mkdir()
    made = Area(root, canary)
    before = made.canary_state()
    yield made
    assert made.canary_state() == before, "a layer changed the directory next to it"
    assert (canary / "etc" / "passwd").read_text() == "canary\n"


def unpack(entries: list[TarEntry], target: Path, compression: str = "gzip") -> Applied:
    blob = oci.compress(make_tar(entries), compression)  # type: ignore[arg-type]
    return apply_layer(io.BytesIO(blob), target, compression)


def regular_size(tar: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return sum(m.size for m in archive.getmembers() if m.isreg())


# --------------------------------------------------------------------------- containment

HOST_PASSWD = Path("/etc/passwd")

MALICIOUS: dict[str, list[TarEntry]] = {
    "dotdot": [oci.file("../evil-dotdot", "x"), oci.file("../../../../../evil-dotdot2", "x")],
    "absolute": [oci.file("/evil-absolute", "x"), oci.directory("/evil-absolute-dir")],
    "deep-dotdot": [oci.file("a/b/../../../../../evil-deep", "x")],
    "symlink-to-root": [oci.symlink("x", "/"), oci.file("x/evil-through-root", "x")],
    "symlink-dotdot": [oci.symlink("up", "../../.."), oci.file("up/evil-through-up", "x")],
    "symlink-then-dir": [
        oci.symlink("tmp", "/tmp"),
        oci.directory("tmp"),
        oci.file("tmp/evil-in-tmp", "x"),
    ],
    "hardlink-host": [oci.hardlink("passwd-link", "/etc/passwd")],
    "hardlink-dotdot": [oci.hardlink("passwd-link", "../../../../../../etc/passwd")],
    "hardlink-through-symlink": [
        oci.symlink("etc-link", "/etc"),
        oci.hardlink("passwd-link", "etc-link/passwd"),
    ],
    "long-pax-name": [oci.file("../" * 80 + "evil-long-" + "x" * 150, "x")],
    "long-pax-symlink": [
        oci.symlink("s", "/" + "../" * 60 + "tmp"),
        oci.file("s/evil-long-symlink", "x"),
    ],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_layers_stay_inside_their_directory(area: Area, case: str) -> None:
    target = area.layer()
    passwd_before = HOST_PASSWD.stat()
    with contextlib.suppress(BerthError):  # refusing is fine; escaping is not
        unpack(MALICIOUS[case], target)
    assert HOST_PASSWD.stat() == passwd_before
    for root in (Path("/"), Path("/tmp"), area.root, area.root / "layers", target.parent.parent):
        assert not [p.name for p in root.iterdir() if p.name.startswith("evil")], root
    assert sorted(p.name for p in area.root.iterdir()) == ["canary", "layers"]
    for path in target.rglob("*"):
        assert path.lstat().st_ino != passwd_before.st_ino or path.lstat().st_dev != (
            passwd_before.st_dev
        )


def test_dotdot_and_absolute_names_land_inside(area: Area) -> None:
    target = area.layer()
    unpack(MALICIOUS["dotdot"] + MALICIOUS["absolute"], target)
    assert sorted(p.name for p in target.iterdir()) == [
        "evil-absolute",
        "evil-absolute-dir",
        "evil-dotdot",
        "evil-dotdot2",
    ]


def test_writes_through_a_symlink_to_root_land_inside(area: Area) -> None:
    target = area.layer()
    unpack(MALICIOUS["symlink-to-root"], target)
    assert os.readlink(target / "x") == "/"
    assert (target / "evil-through-root").read_text() == "x"


def test_hardlink_to_a_host_path_is_refused(area: Area) -> None:
    with pytest.raises(DataLoss, match="hardlink"):
        unpack(MALICIOUS["hardlink-host"], area.layer())


def test_hardlink_to_an_absolute_name_links_inside(area: Area) -> None:
    target = area.layer()
    unpack([oci.file("etc/passwd", "layer's own\n"), *MALICIOUS["hardlink-host"]], target)
    assert (target / "passwd-link").stat().st_ino == (target / "etc/passwd").stat().st_ino
    assert (target / "passwd-link").read_text() == "layer's own\n"


def test_a_file_replaces_a_symlink_instead_of_following_it(area: Area) -> None:
    target = area.layer()
    (area.root / "outside").write_text("outside\n")
    unpack([oci.symlink("f", "/outside"), oci.file("f", "replaced\n")], target)
    assert not (target / "f").is_symlink()
    assert (target / "f").read_text() == "replaced\n"
    assert (area.root / "outside").read_text() == "outside\n"
    (area.root / "outside").unlink()


# --------------------------------------------------------------------------- fidelity


def test_owners_modes_and_special_files_are_faithful(area: Area) -> None:
    target = area.layer()
    content = b"same inode\n"
    unpack(
        [
            oci.directory("tmp", mode=0o1777),
            oci.file("bin/su", "#!/bin/sh\n", mode=0o4755),
            oci.file("bin/owned-setuid", "x", mode=0o6755, uid=1234, gid=5678),
            oci.directory("sgid", mode=0o2775, gid=5678),
            oci.file("sgid/inherits-not", "x", mode=0o644),
            oci.file("owned", "x", mode=0o640, uid=1234, gid=5678),
            oci.directory("private", mode=0o700, uid=1234, gid=5678),
            oci.file("private/secret", "x", mode=0o600, uid=1234, gid=5678),
            oci.file("xattr", "x", xattrs={"user.foo": "bar", "trusted.berth": "baz"}),
            oci.char_device("dev/null", 1, 3),
            oci.block_device("dev/loop0", 7, 0),
            oci.fifo("fifo", mode=0o600),
            oci.file("hard1", content),
            oci.hardlink("hard2", "hard1"),
            oci.symlink("abs-link", "/etc/passwd"),
            oci.symlink("rel-link", "../etc/passwd"),
            oci.symlink("dangling", "/does/not/exist"),
            oci.file("long/" + "name-" * 40, "pax name\n"),
            oci.file("ünïcödé", "x"),
        ],
        target,
    )

    def st(name: str) -> os.stat_result:
        return (target / name).lstat()

    assert stat.S_IMODE(st("tmp").st_mode) == 0o1777
    assert stat.S_IMODE(st("bin/su").st_mode) == 0o4755
    owned_setuid = st("bin/owned-setuid")
    assert (owned_setuid.st_uid, owned_setuid.st_gid) == (1234, 5678)
    assert stat.S_IMODE(owned_setuid.st_mode) == 0o6755  # chmod after chown
    assert stat.S_IMODE(st("sgid").st_mode) == 0o2775 and st("sgid").st_gid == 5678
    # Docker gives entries the owner stored, not the group a setgid parent would hand down.
    assert st("sgid/inherits-not").st_gid == 0
    assert (st("owned").st_uid, st("owned").st_gid, stat.S_IMODE(st("owned").st_mode)) == (
        1234,
        5678,
        0o640,
    )
    assert (st("private").st_uid, stat.S_IMODE(st("private").st_mode)) == (1234, 0o700)
    assert st("private/secret").st_uid == 1234
    assert os.getxattr(target / "xattr", "user.foo") == b"bar"
    assert os.getxattr(target / "xattr", "trusted.berth") == b"baz"
    null = st("dev/null")
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    loop = st("dev/loop0")
    assert stat.S_ISBLK(loop.st_mode) and (os.major(loop.st_rdev), os.minor(loop.st_rdev)) == (7, 0)
    assert stat.S_ISFIFO(st("fifo").st_mode) and stat.S_IMODE(st("fifo").st_mode) == 0o600
    assert st("hard1").st_ino == st("hard2").st_ino and st("hard1").st_nlink == 2
    assert os.readlink(target / "abs-link") == "/etc/passwd"
    assert os.readlink(target / "rel-link") == "../etc/passwd"
    assert os.readlink(target / "dangling") == "/does/not/exist"
    assert (target / "long" / ("name-" * 40)).read_text() == "pax name\n"
    assert (target / "ünïcödé").exists()
    for name in ("tmp", "bin/su", "owned", "private", "dev/null", "fifo", "hard1", "abs-link"):
        assert st(name).st_mtime_ns == FIXED_MTIME * 1_000_000_000, name


def test_directory_mtime_survives_later_entries(area: Area) -> None:
    target = area.layer()
    unpack(
        [oci.directory("d"), oci.file("d/a", "x"), oci.directory("d/sub"), oci.file("d/b", "y")],
        target,
    )
    assert (target / "d").stat().st_mtime_ns == FIXED_MTIME * 1_000_000_000
    assert (target / "d/sub").stat().st_mtime_ns == FIXED_MTIME * 1_000_000_000


def test_pax_nanosecond_mtime_is_kept(area: Area) -> None:
    info = tarfile.TarInfo("precise")
    info.pax_headers = {"mtime": "1700000000.123456789"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(b""))
    target = area.layer()
    apply_layer(io.BytesIO(buffer.getvalue()), target, "none")
    assert (target / "precise").lstat().st_mtime_ns == 1_700_000_000_123_456_789


def test_later_entries_replace_earlier_ones_as_tar_does(area: Area) -> None:
    target = area.layer()
    unpack(
        [
            oci.file("was-file", "x"),
            oci.directory("was-file"),
            oci.directory("was-dir"),
            oci.file("was-dir/inner", "x"),
            oci.file("was-dir", "now a file\n"),
            oci.directory("merged", mode=0o700),
            oci.file("merged/kept", "x"),
            oci.directory("merged", mode=0o755),
        ],
        target,
    )
    assert (target / "was-file").is_dir()
    assert (target / "was-dir").read_text() == "now a file\n"
    assert (target / "merged/kept").exists()
    assert stat.S_IMODE((target / "merged").stat().st_mode) == 0o755


def test_missing_parents_are_created(area: Area) -> None:
    target = area.layer()
    unpack([oci.file("a/b/c/file", "x")], target)
    assert (target / "a/b/c/file").read_text() == "x"
    assert stat.S_IMODE((target / "a").stat().st_mode) == 0o755


# --------------------------------------------------------------------------- whiteouts


def test_whiteouts_and_opaque_dirs_merge_like_docker(area: Area) -> None:
    base, upper = area.layer("base"), area.layer("upper")
    unpack(
        [
            oci.directory("data"),
            oci.file("data/keep", "kept\n"),
            oci.file("data/gone", "deleted\n"),
            oci.directory("data/gonedir"),
            oci.file("data/gonedir/inner", "deleted too\n"),
            oci.directory("opq"),
            oci.file("opq/old", "hidden\n"),
            oci.directory("opq/sub"),
            oci.file("opq/sub/old2", "hidden\n"),
        ],
        base,
    )
    unpack(
        [
            oci.directory("data"),
            oci.whiteout("data/gone"),
            oci.whiteout("data/gonedir"),
            oci.opaque("opq"),  # before its directory: the unpacker must create it
            oci.directory("opq"),
            oci.file("opq/new", "new\n"),
            oci.opaque("fresh"),  # a marker whose directory never appears
        ],
        upper,
    )
    gone = (upper / "data/gone").lstat()
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    assert os.getxattr(upper / "opq", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(upper / "fresh", "trusted.overlay.opaque") == b"y"
    assert not (upper / "opq/.wh..wh..opq").exists()
    assert (upper / "opq").stat().st_mtime_ns == FIXED_MTIME * 1_000_000_000

    merged = area.root / "merged"
    merged.mkdir()
    mount_overlay([upper, base], None, None, merged, readonly=True)
    try:
        assert sorted(p.name for p in (merged / "data").iterdir()) == ["keep"]
        assert sorted(p.name for p in (merged / "opq").iterdir()) == ["new"]
        assert (merged / "opq/new").read_text() == "new\n"
        assert (merged / "data/keep").read_text() == "kept\n"
        with pytest.raises(OSError, match="Read-only"):
            (merged / "data/new").write_text("x")
    finally:
        umount(merged)


def test_aufs_metadata_is_skipped(area: Area) -> None:
    target = area.layer()
    unpack([oci.directory(".wh..wh.plnk"), oci.file("kept", "x")], target)
    assert sorted(p.name for p in target.iterdir()) == ["kept"]


# --------------------------------------------------------------------------- digests, errors

LAYER = [
    oci.directory("d"),
    oci.file("d/a", b"a" * 1000),
    oci.file("d/b", os.urandom(300_000)),
    oci.hardlink("d/c", "d/a"),
    oci.symlink("d/s", "a"),
]


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_diff_id_is_the_uncompressed_stream_digest(area: Area, compression: str) -> None:
    tar = make_tar(LAYER)
    blob = oci.compress(tar, compression)  # type: ignore[arg-type]
    applied = apply_layer(io.BytesIO(blob), area.layer(), compression)
    assert applied == Applied("sha256:" + hashlib.sha256(tar).hexdigest(), regular_size(tar))
    assert applied.size == 301_000


def test_diff_id_covers_padding_after_the_tar_end(area: Area) -> None:
    tar = make_tar(LAYER) + bytes(20 * 512)
    applied = apply_layer(io.BytesIO(oci.compress(tar, "gzip")), area.layer(), "gzip")
    assert applied.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()


def test_zstd_with_several_frames(area: Area) -> None:
    tar = make_tar(LAYER)
    blob = oci.compress(tar[:5000], "zstd") + oci.compress(tar[5000:], "zstd")
    applied = apply_layer(io.BytesIO(blob), area.layer(), "zstd")
    assert applied.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()


def test_corrupt_gzip_is_data_loss(area: Area) -> None:
    blob = bytearray(oci.compress(make_tar(LAYER), "gzip"))
    blob[len(blob) // 2 : len(blob) // 2 + 64] = bytes(64)
    with pytest.raises(DataLoss):
        apply_layer(io.BytesIO(bytes(blob)), area.layer(), "gzip")


def test_not_gzip_at_all_is_data_loss(area: Area) -> None:
    with pytest.raises(DataLoss):
        apply_layer(io.BytesIO(b"this is not gzip" * 100), area.layer(), "gzip")


@pytest.mark.parametrize(
    ("compression", "drop"),
    [
        ("gzip", 0.5),
        ("zstd", 0.5),
        ("none", 0.5),
        ("gzip", 1),  # only the trailer's last byte
        ("zstd", 1),
        # An uncompressed tar cut inside the zero padding after its end-of-archive block can
        # only be told by its digest: the caller compares the diff_id.
    ],
)
def test_truncated_stream_is_reported_by_finish(area: Area, compression: str, drop: float) -> None:
    blob = oci.compress(make_tar(LAYER), compression)  # type: ignore[arg-type]
    cut = int(len(blob) * drop) if drop < 1 else len(blob) - int(drop)
    writer = start_unpack(area.layer(), compression)
    writer.write(blob[:cut])
    with pytest.raises(DataLoss):
        writer.finish()


def test_tar_without_end_blocks_is_data_loss(area: Area) -> None:
    tar = make_tar(LAYER)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        end = archive.getmembers()[-1].offset_data  # the last member has no data
    with pytest.raises(DataLoss, match="without an end block"):
        apply_layer(io.BytesIO(tar[:end]), area.layer(), "none")


def test_empty_layer_is_a_valid_layer(area: Area) -> None:
    tar = make_tar([])
    applied = apply_layer(io.BytesIO(tar), area.layer(), "none")
    assert applied == Applied("sha256:" + hashlib.sha256(tar).hexdigest(), 0)


def test_abort_stops_the_unpacker(area: Area) -> None:
    blob = oci.compress(make_tar(LAYER), "gzip")
    writer = start_unpack(area.layer(), "gzip")
    writer.write(blob[:100])
    writer.abort()


def test_missing_target_and_unknown_compression_are_refused(area: Area) -> None:
    with pytest.raises(NotFound):
        start_unpack(area.root / "missing", "gzip")
    with pytest.raises(InvalidArgument):
        start_unpack(area.layer(), "bzip2")


# --------------------------------------------------------------------------- other writers

GNU_TAR = "/usr/bin/tar"


def test_gnu_long_names_and_big_ids(area: Area) -> None:
    long_name = "d/" + "n" * 200
    entries = [
        tarfile.TarInfo(long_name),
        tarfile.TarInfo("big-owner"),
        tarfile.TarInfo("long-link"),
    ]
    entries[1].uid = entries[1].gid = 0o7777777 + 5  # base-256 in GNU format
    entries[2].type, entries[2].linkname = tarfile.SYMTYPE, "/" + "t" * 150
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for entry in entries:
            archive.addfile(entry, io.BytesIO(b"") if entry.isreg() else None)
    target = area.layer()
    apply_layer(io.BytesIO(buffer.getvalue()), target, "none")
    assert (target / long_name).is_file()
    assert (target / "big-owner").lstat().st_uid == 0o7777777 + 5
    assert os.readlink(target / "long-link") == "/" + "t" * 150


def test_pax_global_header_applies_to_later_members(area: Area) -> None:
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"uid": "4321"}
    ) as archive:
        archive.addfile(tarfile.TarInfo("f"), io.BytesIO(b""))
    target = area.layer()
    apply_layer(io.BytesIO(buffer.getvalue()), target, "none")
    assert (target / "f").lstat().st_uid == 4321


@pytest.mark.skipif(not Path(GNU_TAR).exists(), reason="needs GNU tar")
def test_gnu_tar_sparse_files_and_binary_capabilities(area: Area, tmp_path: Path) -> None:
    import subprocess

    source = area.root / "source"
    source.mkdir()
    sparse = source / "sparse"
    with sparse.open("wb") as out:
        out.seek(5_000_000)
        out.write(b"end")
    ping = source / "ping"
    ping.write_bytes(b"\x7fELF")
    # security.capability of `setcap cap_net_raw+ep`: binary, not valid UTF-8.
    capability = bytes.fromhex("0100000200200000000000000000000000000000")
    os.setxattr(ping, "security.capability", capability)
    layer = tmp_path / "layer.tar"
    subprocess.run(
        [GNU_TAR, "--sparse", "--xattrs", "--xattrs-include=*", "--format=posix", "-cf",
         str(layer), "-C", str(source), "sparse", "ping"],
        check=True,
        timeout=60,
    )  # fmt: skip
    target = area.layer()
    with layer.open("rb") as stream:
        applied = apply_layer(stream, target, "none")
    assert (target / "sparse").read_bytes() == sparse.read_bytes()
    assert os.getxattr(target / "ping", "security.capability") == capability
    assert applied.size == 5_000_003 + 4
    shutil.rmtree(source)


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything unpacking must reproduce, per path (atime and ctime aside)."""
    found: dict[str, tuple[object, ...]] = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        record: tuple[object, ...] = (
            stat.S_IFMT(st.st_mode),
            stat.S_IMODE(st.st_mode),
            st.st_uid,
            st.st_gid,
            st.st_mtime_ns,
            st.st_rdev,
            st.st_nlink,
            sorted(
                (k, os.getxattr(path, k, follow_symlinks=False))
                for k in os.listxattr(path, follow_symlinks=False)
            ),
        )
        if stat.S_ISREG(st.st_mode):
            record += (hashlib.sha256(path.read_bytes()).hexdigest(),)
        elif stat.S_ISLNK(st.st_mode):
            record += (os.readlink(path),)
        found[str(path.relative_to(root))] = record
    return found


@pytest.mark.skipif(not Path(GNU_TAR).exists(), reason="needs GNU tar")
def test_matches_gnu_tar_on_a_real_tree(area: Area, tmp_path: Path) -> None:
    import subprocess

    sources = ["/etc", "/usr/share/zoneinfo", "/usr/bin/gpasswd", "/usr/bin/newuidmap"]
    layer = tmp_path / "real.tar"
    subprocess.run(
        [GNU_TAR, "--format=posix", "--xattrs", "--xattrs-include=*", "--numeric-owner",
         "-cf", str(layer), *[s for s in sources if Path(s).exists()]],
        check=False,  # files changing while read only make tar warn
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    ours, theirs = area.layer("berth"), area.layer("gnu-tar")
    with layer.open("rb") as stream:
        apply_layer(stream, ours, "none")
    subprocess.run(
        [GNU_TAR, "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", str(layer),
         "-C", str(theirs)],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    with tarfile.open(layer) as archive:  # parents without an entry get the time of day
        names = {m.name.rstrip("/") for m in archive.getmembers()}
    expected, got = tree(theirs), tree(ours)
    assert got.keys() == expected.keys()
    assert len(names) > 500
    assert {k: got[k] for k in names if expected[k] != got[k]} == {}


def test_parallel_unpacks_are_independent(area: Area) -> None:
    tars = [
        make_tar([oci.file(f"layer{n}/f{i}", f"{n}-{i}") for i in range(300)]) for n in range(3)
    ]
    blobs = [oci.compress(tar, "gzip") for tar in tars]
    targets = [area.layer(f"l{n}") for n in range(3)]
    writers = [start_unpack(target, "gzip") for target in targets]
    for offset in range(0, max(map(len, blobs)), 1000):
        for writer, blob in zip(writers, blobs, strict=True):
            if chunk := blob[offset : offset + 1000]:
                writer.write(chunk)
    results = [writer.finish() for writer in writers]
    for n, (tar, applied, target) in enumerate(zip(tars, results, targets, strict=True)):
        assert applied.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()
        assert sorted(p.name for p in target.iterdir()) == [f"layer{n}"]


def test_a_whiteout_replaces_an_entry_of_its_own_layer(area: Area) -> None:
    target = area.layer()
    unpack(
        [
            oci.file("x", "x"),
            oci.directory("d"),
            oci.file("d/inner", "x"),
            oci.whiteout("x"),
            oci.whiteout("d"),
            oci.whiteout("new/deep/y"),  # parents of a whiteout are made like any others
        ],
        target,
    )
    for name in ("x", "d", "new/deep/y"):
        st = (target / name).lstat()
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0, name
