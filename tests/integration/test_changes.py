"""`diff`'s change walk on real upper/lower directories (whiteout devices and the opaque
xattr need root), and the in-root path resolution and placement rules `cp` relies on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.container.changes import changes
from berth.container.cp_stream import Source, plan, split_target
from berth.errors import InvalidArgument, NotFound
from berth.sys.rootpath import resolve_in_root


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def layers(tmp_path: Path) -> tuple[Path, Path]:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    _tree(lower, {"etc/passwd": "root\n", "etc/group": "root\n", "opt/old/a": "", "keep/x": ""})
    upper.mkdir()
    return lower, upper


def test_whiteouts_opaque_dirs_and_changed_parents(layers: tuple[Path, Path]) -> None:
    lower, upper = layers
    (upper / "etc").mkdir()
    (upper / "etc" / "passwd").write_text("changed\n")
    os.mknod(upper / "etc" / "group", 0o600 | 0o020000, os.makedev(0, 0))  # a whiteout
    (upper / "opt" / "old").mkdir(parents=True)
    os.setxattr(upper / "opt" / "old", "trusted.overlay.opaque", b"y")
    (upper / "opt" / "old" / "b").write_text("")
    (upper / "new").mkdir()
    (upper / "new" / "file").write_text("")
    found = [str(c) for c in changes(upper, [lower])]
    assert found == [
        "C /etc",
        "D /etc/group",
        "C /etc/passwd",
        "A /new",
        "A /new/file",
        "C /opt",
        "D /opt/old",
        "A /opt/old/b",
    ]


def test_a_copied_up_directory_alone_is_not_a_change(layers: tuple[Path, Path]) -> None:
    lower, upper = layers
    (upper / "keep").mkdir()
    info = os.stat(lower / "keep")
    os.chmod(upper / "keep", info.st_mode & 0o7777)
    os.utime(upper / "keep", ns=(info.st_atime_ns, info.st_mtime_ns))
    assert changes(upper, [lower]) == []


def test_hidden_runtime_paths_and_their_holders(layers: tuple[Path, Path]) -> None:
    lower, upper = layers
    (upper / "etc").mkdir()
    os.chmod(upper / "etc", os.stat(lower / "etc").st_mode & 0o7777)
    (upper / "etc" / "hosts").write_text("")
    assert changes(upper, [lower], {"/etc/hosts"}) == []
    (upper / "etc" / "motd").write_text("")
    assert [str(c) for c in changes(upper, [lower], {"/etc/hosts"})] == ["C /etc", "A /etc/motd"]


def test_resolve_in_root_never_leaves_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../..", root / "up")
    os.symlink("/up/etc", root / "chain")
    inside = str(root / "etc")
    assert resolve_in_root(str(root), "/abs") == inside
    assert resolve_in_root(str(root), "/up/up/etc") == inside
    assert resolve_in_root(str(root), "/chain") == inside
    assert resolve_in_root(str(root), "../../etc/passwd") == inside + "/passwd"
    assert resolve_in_root(str(root), "/abs", follow_last=False) == str(root / "abs")
    os.symlink("loop", root / "loop")
    with pytest.raises(InvalidArgument):
        resolve_in_root(str(root), "/loop")


def test_split_target() -> None:
    assert split_target("box:/etc") == ("box", "/etc")
    assert split_target("/a:b") == (None, "/a:b")
    assert split_target("./box:/x") == (None, "./box:/x")
    assert split_target("dir/box:x") == (None, "dir/box:x")
    assert split_target("file") == (None, "file")


def test_placement_rules(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("")
    a_file = Source(is_dir=False, base="f", contents_only=False)
    a_dir = Source(is_dir=True, base="d", contents_only=False)
    assert plan(a_file, str(tmp_path / "dir")) == (str(tmp_path / "dir"), None)
    assert plan(a_file, str(tmp_path / "file")) == (str(tmp_path), "file")
    assert plan(a_file, str(tmp_path / "new")) == (str(tmp_path), "new")
    assert plan(a_dir, str(tmp_path / "new")) == (str(tmp_path), "new")
    with pytest.raises(InvalidArgument, match="cannot copy directory"):
        plan(a_dir, str(tmp_path / "file"))
    with pytest.raises(NotFound, match="no such directory"):
        plan(a_file, str(tmp_path / "missing") + "/")
    with pytest.raises(NotFound, match="Could not find the file"):
        plan(a_file, str(tmp_path / "missing" / "x"))
