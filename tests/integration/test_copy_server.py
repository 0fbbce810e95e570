"""The copy server: the copy helper's requests run in forks of one long-lived interpreter
(a build's COPY steps), one at a time, each chrooted and contained like a fresh helper."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

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
            assert isinstance(helper, ServedHelper)  # not a fresh helper: the server was free
            pids.add(helper.pid)
        assert len(pids) == 3  # a fork per request

        # A COPY through it: the tar lands inside the root, a `..` in it stays inside too.
        data = _tar(**{"a.txt": b"a\n", "../../escape": b"x"})
        copy_in(Root(str(root)), "/dst/", lambda out: out.write(data), server=server)
        assert (root / "dst" / "a.txt").read_text() == "a\n"
        assert not (tmp_path / "escape").exists()
    finally:
        server.close()


def test_a_busy_server_sends_the_caller_to_a_fresh_helper(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = CopyServer()
    try:
        first_r, first_w = os.pipe()
        request = {"op": "build_copy", "path": "/one/", "file_name": None, "strip": None}
        busy = server.try_start({**request, "root": str(root)}, first_w, stdin=True, stdout=False)
        os.close(first_w)
        assert busy is not None and busy.stdin is not None
        # While it waits for its tar, another request gets no fork: None, a fresh helper then.
        second_r, second_w = os.pipe()
        assert (
            server.try_start({**request, "root": str(root)}, second_w, stdin=True, stdout=False)
            is None
        )
        os.close(second_w)
        os.close(second_r)
        busy.stdin.write(_tar(**{"x": b"x"}))
        busy.stdin.close()
        finish_helper(busy, first_r, "into")
        assert (root / "one" / "x").read_bytes() == b"x"
    finally:
        server.close()
