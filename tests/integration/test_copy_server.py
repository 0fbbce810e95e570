"""The copy server: the copy helper's requests run in forks of one long-lived interpreter
(a build's COPY steps), side by side, each chrooted and contained like a fresh helper."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from berth.container import copier
from berth.container.copy_client import CopyServer, ServedHelper
from berth.container.cp import Root, finish_helper, start_helper
from berth.container.cp_build import copy_in

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


def test_copy_from_reads_the_packers_padding_before_closing() -> None:
    """COPY --from's unpacker stops at the archive's end, before the packer's last write (the
    tar record's padding). Closing the pipe then broke that write and failed a whole copy; the
    unpacker reads to the end first. A real pipe and a packer whose padding comes late."""
    read_end, write_end = os.pipe()
    packer = os.fork()
    if packer == 0:
        os.close(read_end)
        os.write(write_end, b"archive" * 100)
        time.sleep(0.3)  # the unpacker has read the archive by now
        try:
            os.write(write_end, bytes(9216))
        except BrokenPipeError:
            os._exit(2)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as stream:
        assert stream.read(700) == b"archive" * 100
        copier.drain(stream)
    _, status = os.waitpid(packer, 0)
    assert os.waitstatus_to_exitcode(status) == 0
