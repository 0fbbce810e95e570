"""The copy server: the copy helper's requests run in forks of one long-lived interpreter
(a build's COPY steps), side by side, each chrooted and contained like a fresh helper."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from berth.build.context import Entry, Selection, write_list
from berth.container.copy_client import CopyServer, ServedHelper
from berth.container.cp import Root, finish_helper, start_helper
from berth.container.cp_build import copy_files, copy_in
from berth.errors import InvalidArgument

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the helper chroots")


def _tar(**files: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_requests_run_in_forks_of_the_server(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "motd").write_text("hi\n")
    server = CopyServer()
    try:
        pids = set()
        for _ in range(3):  # the server serves one request after another
            status_r, status_w = os.pipe()
            helper = start_helper(
                Root(str(root)), {"op": "stat", "path": "/etc/motd"}, status_w,
                server=server, stdout=subprocess.PIPE,
            )  # fmt: skip
            assert helper.stdout is not None
            document = json.loads(helper.stdout.read())
            helper.stdout.close()
            finish_helper(helper, status_r, "from")
            assert document["name"] == "motd" and document["size"] == 3
            assert isinstance(helper, ServedHelper)  # not a fresh helper
            pids.add(helper.pid)
        assert len(pids) == 3  # a fork per request

        # A COPY through it: the tar lands inside the root, a `..` in it stays inside too.
        data = _tar(**{"a.txt": b"a\n", "../../escape": b"x"})
        copy_in(Root(str(root)), "/dst/", lambda out: out.write(data), server=server)
        assert (root / "dst" / "a.txt").read_text() == "a\n"
        assert not (tmp_path / "escape").exists()
    finally:
        server.close()


def test_requests_run_side_by_side(tmp_path: Path) -> None:
    """Two stages' COPY at once: the second request runs while the first still waits for its
    tar, and finishes first."""
    root = tmp_path / "root"
    root.mkdir()
    server = CopyServer()
    try:
        request = {"op": "build_copy", "file_name": None, "strip": None, "root": str(root)}
        started = []
        for name in ("one", "two"):
            status_r, status_w = os.pipe()
            helper = server.start(
                {**request, "path": f"/{name}/"}, status_w, stdin=True, stdout=False
            )
            os.close(status_w)
            started.append((name, helper, status_r))
        assert started[0][1].pid != started[1][1].pid
        for name, helper, status_r in reversed(started):
            assert helper.stdin is not None
            helper.stdin.write(_tar(x=name.encode()))
            helper.stdin.close()
            finish_helper(helper, status_r, "into")
            assert (root / name / "x").read_bytes() == name.encode()
    finally:
        server.close()


def _selection(context: Path, *names: str) -> Selection:
    """What a COPY of these context paths selects (as `Context.select` names them)."""
    return Selection([Entry(str(context / n), n, os.lstat(context / n)) for n in names], False)


def test_a_listed_copy_places_host_files_as_a_tar_would(tmp_path: Path) -> None:
    """COPY's files listed, not tarred: each read by the helper from its host path and made
    inside the root with the tar's modes, times, links and the COPY's owner."""
    context, root = tmp_path / "ctx", tmp_path / "root"
    (context / "d").mkdir(parents=True)
    (context / "a.txt").write_text("a\n")
    os.chmod(context / "a.txt", 0o640)
    os.utime(context / "a.txt", (1_000_000, 1_000_000))
    (context / "d" / "b.bin").write_bytes(os.urandom(3 << 20))  # more than one piece
    os.symlink("a.txt", context / "l")
    root.mkdir()
    selection = _selection(context, "a.txt", "d", "d/b.bin", "l")
    server = CopyServer()
    try:
        write = lambda out: write_list(selection, out, mode=None)  # noqa: E731
        copy_files(Root(str(root)), "/dst/", write, chown="1234:5678", server=server)
        copy_files(
            Root(str(root)), "/one", write_list_of(context, "a.txt"), file_name="one", server=server
        )
    finally:
        server.close()
    placed = root / "dst" / "a.txt"
    assert placed.read_text() == "a\n"
    found = os.stat(placed)
    assert (stat.S_IMODE(found.st_mode), found.st_mtime, found.st_uid, found.st_gid) == (
        0o640, 1_000_000, 1234, 5678,
    )  # fmt: skip
    assert (root / "dst" / "d" / "b.bin").read_bytes() == (context / "d" / "b.bin").read_bytes()
    assert os.readlink(root / "dst" / "l") == "a.txt"
    assert os.lstat(root / "dst" / "l").st_uid == 1234
    assert (root / "one").read_text() == "a\n" and os.stat(root / "one").st_uid == 0


def write_list_of(
    context: Path, name: str, selection: Selection | None = None
) -> Callable[[IO[bytes]], None]:
    """The list of one file's COPY (selected now, unless given)."""
    chosen = selection or _selection(context, name)
    return lambda out: write_list(chosen._replace(single_file=True), out, mode=None)


def test_a_listed_file_swapped_after_the_selection_is_not_copied(tmp_path: Path) -> None:
    """The helper reads a file only if it is still the one selected (device and inode), never
    through a link at its end: a context changed between the selection and the copy (another
    file moved over the one selected, or a link to a host secret put in its place) fails the
    COPY and leaks nothing."""
    context, root = tmp_path / "ctx", tmp_path / "root"
    context.mkdir()
    root.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("host secret\n")
    server = CopyServer()
    try:
        for swap in ("moved", "linked"):
            (context / "a.txt").write_text("selected\n")
            (context / "other").write_text("host secret\n")  # there before the selection
            selection = _selection(context, "a.txt")
            if swap == "moved":
                os.replace(context / "other", context / "a.txt")
            else:
                (context / "a.txt").unlink()
                os.symlink(secret, context / "a.txt")
            write = write_list_of(context, "a.txt", selection)
            with pytest.raises(InvalidArgument, match=r"cannot copy a\.txt"):
                copy_files(Root(str(root)), f"/{swap}/", write, server=server)
            assert not (root / swap / "a.txt").exists()
            (context / "a.txt").unlink()
    finally:
        server.close()
